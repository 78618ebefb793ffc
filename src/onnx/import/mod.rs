//! ONNX graph → [`Graph`]: decoding, the opset check, the import loop and the dispatch on
//! operator type. The rest lives beside it, one file per concern:
//!
//! - `graph`: the graph input and output, node order and liveness;
//! - `node_io`: reading a node's inputs and recording its outputs;
//! - `attributes`: typed attribute readers, window pairs and pads;
//! - one file per layer kind for the mappings: `constant`, `conv`, `dense` (Gemm, MatMul and
//!   the bias Add after a MatMul), `pool` (also GlobalAveragePool and ReduceMean), `reshape`
//!   (Flatten, Reshape), `batch_norm`, `merge` (Add, Concat), `activation` (Clip, Softmax).

mod activation;
mod attributes;
mod batch_norm;
mod constant;
mod conv;
mod dense;
mod graph;
mod merge;
mod node_io;
mod pad;
mod pool;
mod reshape;

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::path::Path;

use prost::Message;

use super::proto::{ModelProto, NodeProto, TensorProto, ValueInfoProto};
use super::SUPPORTED_OPS;
use crate::error::{Error, Result};
use crate::model::{Graph, NodeId, Op};
use graph::{check_output_shape, input_shape, live_nodes, node_name, topological_order};

/// Oldest default-domain opset the importer reads.
pub const MIN_OPSET: i64 = 11;
/// Newest default-domain opset the importer reads.
pub const MAX_OPSET: i64 = 21;

/// Reads an ONNX model from a file; external tensor data is looked up next to it.
pub fn load(path: &Path) -> Result<Graph> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    from_bytes(&bytes, Some(dir))
}

/// Reads an ONNX model from its bytes. `base_dir` is the directory external tensor data is
/// relative to; without it, a model with external data is an error.
pub fn from_bytes(bytes: &[u8], base_dir: Option<&Path>) -> Result<Graph> {
    let model = ModelProto::decode(bytes).map_err(|e| {
        Error::Onnx(format!(
            "not a valid ONNX protobuf (the file is malformed or truncated): {e}"
        ))
    })?;
    let opset = default_opset(&model)?;
    if !(MIN_OPSET..=MAX_OPSET).contains(&opset) {
        return Err(Error::Onnx(format!(
            "the model uses opset {opset} of the default domain; glimpse reads opsets {MIN_OPSET} to {MAX_OPSET} \
             (convert it with onnx.version_converter or re-export, e.g. torch.onnx.export(..., opset_version=17))"
        )));
    }
    import_model(&model, opset, base_dir)
}

/// The opset version of the default (`""` / `"ai.onnx"`) domain.
fn default_opset(model: &ModelProto) -> Result<i64> {
    model
        .opset_import
        .iter()
        .filter(|o| o.domain.is_empty() || o.domain == "ai.onnx")
        .map(|o| o.version)
        .max()
        .ok_or_else(|| Error::Onnx("the model imports no opset of the default ONNX domain".into()))
}

/// Imports a decoded model whose opset has been checked.
pub(super) fn import_model(
    model: &ModelProto,
    opset: i64,
    base_dir: Option<&Path>,
) -> Result<Graph> {
    let g = model
        .graph
        .as_ref()
        .ok_or_else(|| Error::Onnx("the model has no graph".into()))?;

    let mut initializers: HashMap<&str, &TensorProto> = HashMap::new();
    for t in &g.initializer {
        if initializers.insert(t.name.as_str(), t).is_some() {
            return Err(Error::Onnx(format!(
                "initializer '{}' is defined twice",
                t.name
            )));
        }
    }

    let inputs: Vec<&ValueInfoProto> = g
        .input
        .iter()
        .filter(|i| !initializers.contains_key(i.name.as_str()))
        .collect();
    let input = match inputs.as_slice() {
        [one] => *one,
        _ => {
            let names: Vec<&str> = inputs.iter().map(|i| i.name.as_str()).collect();
            return Err(Error::Onnx(format!(
                "the graph has {} inputs ({}) besides its initializers; glimpse supports exactly one",
                names.len(),
                names.join(", ")
            )));
        }
    };
    let (batch, input_shape) = input_shape(input)?;

    let output = match g.output.as_slice() {
        [one] => one,
        outs => {
            let names: Vec<&str> = outs.iter().map(|o| o.name.as_str()).collect();
            return Err(Error::Onnx(format!(
                "the graph has {} outputs ({}); glimpse supports exactly one",
                names.len(),
                names.join(", ")
            )));
        }
    };

    let mut available: HashSet<&str> = initializers.keys().copied().collect();
    available.insert(input.name.as_str());
    let order = topological_order(&g.node, &available)?;
    let live = live_nodes(g, &output.name);

    let mut readers: HashMap<&str, usize> = HashMap::new();
    *readers.entry(output.name.as_str()).or_default() += 1;
    for &i in &order {
        if live[i] {
            for name in g.node[i].input.iter().filter(|s| !s.is_empty()) {
                *readers.entry(name.as_str()).or_default() += 1;
            }
        }
    }

    let mut values: HashMap<&str, Val> = initializers
        .iter()
        .map(|(&name, &t)| (name, Val::Const(Cow::Borrowed(t))))
        .collect();
    values.insert(input.name.as_str(), Val::Node(0));

    let mut imp = Importer {
        opset,
        base_dir,
        graph: Graph::new(input_shape)?,
        values,
        readers,
        names: HashSet::from(["input".to_string()]),
        batch,
        bias_free_dense: HashMap::new(),
        pending_pads: HashMap::new(),
    };
    for &i in &order {
        if live[i] {
            imp.node(i, &g.node[i])?;
        }
    }

    if let Some(p) = imp.pending_pads.get(output.name.as_str()) {
        return Err(Error::Onnx(format!(
            "graph output '{}' is the output of Pad '{}'; glimpse folds zero padding only into a Conv that reads it",
            output.name, p.node
        )));
    }
    let out = match imp.values.get(output.name.as_str()) {
        Some(Val::Node(id)) => *id,
        Some(Val::Const(_)) => {
            return Err(Error::Onnx(format!(
                "graph output '{}' is a constant, not computed from the input",
                output.name
            )))
        }
        None => {
            return Err(Error::Graph(format!(
                "graph output '{}' is produced by no node",
                output.name
            )))
        }
    };
    imp.graph.output = out;
    check_output_shape(output, imp.graph.output_shape())?;
    let graph = imp.graph.prune();
    if let Some(n) = graph
        .nodes
        .iter()
        .enumerate()
        .find(|&(id, n)| matches!(n.op, Op::Softmax) && id != graph.output)
        .map(|(_, n)| n)
    {
        return Err(Error::Graph(format!(
            "Softmax node '{}' is not the last node; Softmax is supported only as the last layer",
            n.name
        )));
    }
    Ok(graph)
}

/// A tensor of the ONNX graph: computed by a glimpse node, or a constant.
#[derive(Clone)]
enum Val<'m> {
    Node(NodeId),
    Const(Cow<'m, TensorProto>),
}

struct Importer<'m, 'p> {
    opset: i64,
    base_dir: Option<&'p Path>,
    graph: Graph,
    /// Every tensor known so far, by ONNX name.
    values: HashMap<&'m str, Val<'m>>,
    /// How many live nodes read each tensor (the graph output counts as a reader).
    readers: HashMap<&'m str, usize>,
    /// Node names in use.
    names: HashSet<String>,
    /// The graph input's batch size, when fixed.
    batch: Option<i64>,
    /// Dense layers without a bias that a following Add may give one: node → ONNX output tensor.
    bias_free_dense: HashMap<NodeId, &'m str>,
    /// Pad outputs waiting for the convolutions that read them.
    pending_pads: HashMap<&'m str, pad::PendingPad>,
}

impl<'m> Importer<'m, '_> {
    fn node(&mut self, index: usize, n: &'m NodeProto) -> Result<()> {
        let name = node_name(n, index);
        if !n.domain.is_empty() && n.domain != "ai.onnx" {
            return Err(unsupported(
                n,
                &name,
                format!("domain '{}' is not the default ONNX domain", n.domain),
            ));
        }
        if n.output.first().is_none_or(|o| o.is_empty()) {
            return Err(Error::Onnx(format!(
                "node '{name}' ({}) has no output",
                n.op_type
            )));
        }
        match n.op_type.as_str() {
            "Constant" => self.constant(n, &name),
            "Identity" if self.forward_pending_pad(n) => Ok(()),
            "Identity" => {
                let v = self.input(n, &name, 0)?;
                self.set(n, v)
            }
            "Dropout" => {
                self.no_extra_output(n, &name, "the mask output")?;
                self.not_training(n, &name)?;
                if self.forward_pending_pad(n) {
                    return Ok(());
                }
                let v = self.input(n, &name, 0)?;
                self.set(n, v)
            }
            "Conv" => self.conv(n, &name),
            "Gemm" => self.gemm(n, &name),
            "MatMul" => self.matmul(n, &name),
            "Relu" => {
                let x = self.act(n, &name, 0)?;
                self.push(n, &name, Op::Relu, vec![x])
            }
            "Clip" => self.clip(n, &name),
            "MaxPool" => self.pool(n, &name, true),
            "AveragePool" => self.pool(n, &name, false),
            "GlobalAveragePool" => {
                let x = self.act(n, &name, 0)?;
                self.push(n, &name, Op::GlobalAvgPool, vec![x])
            }
            "ReduceMean" => self.reduce_mean(n, &name),
            "Flatten" => self.flatten(n, &name),
            "Reshape" => self.reshape(n, &name),
            "BatchNormalization" => self.batch_norm(n, &name),
            "Add" => self.add(n, &name),
            "Concat" => self.concat(n, &name),
            "Softmax" => self.softmax(n, &name),
            "Pad" => self.pad(n, &name),
            _ if self.is_shape_arithmetic(n) => Err(unsupported(
                n,
                &name,
                "glimpse has no mapping for this operator; it is shape arithmetic an exporter left \
                 unfolded: fold the graph's constants first (e.g. onnxsim, or onnxruntime with \
                 optimized_model_filepath and basic optimizations)"
                    .into(),
            )),
            _ => Err(unsupported(
                n,
                &name,
                "glimpse has no mapping for this operator".into(),
            )),
        }
    }
}

/// Operators exporters use to compute shapes and pads (TorchScript's F.pad, `x.view(n, -1)`):
/// constant once folded, so their error says how to fold them. Shape and ConstantOfShape always
/// are; the others only when no input is computed from the graph input.
const SHAPE_ARITHMETIC: &[&str] = &[
    "Shape",
    "ConstantOfShape",
    "Gather",
    "Unsqueeze",
    "Squeeze",
    "Slice",
    "Cast",
    "Transpose",
];

impl Importer<'_, '_> {
    fn is_shape_arithmetic(&self, n: &NodeProto) -> bool {
        match n.op_type.as_str() {
            "Shape" | "ConstantOfShape" => true,
            op => {
                SHAPE_ARITHMETIC.contains(&op)
                    && n.input
                        .iter()
                        .all(|t| !matches!(self.values.get(t.as_str()), Some(Val::Node(_))))
            }
        }
    }
}

fn unsupported(n: &NodeProto, name: &str, why: String) -> Error {
    Error::UnsupportedOp {
        op: n.op_type.clone(),
        node: name.to_string(),
        why,
        supported: SUPPORTED_OPS.join(", "),
    }
}
