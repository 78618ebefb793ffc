//! ONNX graph → [`Graph`]: decoding, the opset check, the import loop and the dispatch on
//! operator type through the registrations ([`crate::onnx::supported_ops`]). Beside it:
//!
//! - `graph`: the graph input and output, node order and liveness;
//! - `node_io`: reading a node's inputs and recording its outputs (what layers' mappings use);
//! - `attributes`: typed attribute readers, window pairs and pads;
//! - `constant`, `pad`: the operators resolved here (constants; zero padding folded into the
//!   convolution that reads it); Identity and Dropout are removed;
//! - `fuse`: element-wise patterns fused before the loop (SiLU, HardSwish, GELU);
//! - `fold`: constant folding of shape arithmetic on static shapes.
//!
//! The mapping of every layer kind lives in its module (`src/layers/<kind>/onnx.rs`).

pub(crate) mod attributes;
mod constant;
pub(crate) mod fold;
mod fold_math;
pub(crate) mod fuse;
mod fuse_norm;
mod graph;
mod node_io;
mod pad;

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::path::Path;

use prost::Message;

use super::proto::{ModelProto, NodeProto, TensorProto, ValueInfoProto};
use super::{supported_op_names, supported_ops, OnnxOp};
use crate::error::{Error, Result};
use crate::model::{Graph, NodeId};
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
pub(crate) fn import_model(
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
    let conv_readers_only = conv_fed(g, &order, &live, &output.name);

    let mut values: HashMap<&str, Val> = initializers
        .iter()
        .map(|(&name, &t)| (name, Val::Const(Cow::Borrowed(t))))
        .collect();
    values.insert(input.name.as_str(), Val::Node(0));

    let fused = fuse::plan(g, &order, &live, &readers, &initializers);
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
        conv_readers_only,
        whole_form: HashSet::new(),
        lead_of: HashMap::new(),
        whole_of: HashMap::new(),
    };
    for &i in &order {
        if !live[i] {
            continue;
        }
        match fused.get(&i) {
            Some(fuse::Fused::Emit(f)) => imp.emit_fused(f)?,
            Some(fuse::Fused::Skip) => {}
            None => imp.node(i, &g.node[i])?,
        }
    }

    if let Some(p) = imp.pending_pads.get(output.name.as_str()) {
        return Err(Error::Onnx(format!(
            "graph output '{}' is the output of Pad '{}'; glimpse folds zero padding only into a Conv that reads it",
            output.name, p.node
        )));
    }
    let out = match imp.values.get(output.name.as_str()) {
        Some(Val::Node(id)) => {
            let id = *id;
            imp.lead(id).ok_or_else(|| {
                Error::Onnx(format!(
                    "graph output '{}' has shape {:?} at batch 1, its batch merged into another axis",
                    output.name,
                    imp.onnx_shape(id)
                ))
            })?
        }
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
    Ok(graph)
}

/// The tensors every reader of which is a convolution's data input, directly or through Pads,
/// Identities and Dropouts whose own outputs are (zero padding folds into those convolutions).
fn conv_fed<'m>(
    g: &'m super::proto::GraphProto,
    order: &[usize],
    live: &[bool],
    output: &str,
) -> HashSet<&'m str> {
    let mut fed: HashSet<&str> = HashSet::new();
    let mut blocked: HashSet<&str> = HashSet::from([output]);
    // Readers come after what they read: walking back, a reader's output is decided first.
    for &i in order.iter().rev().filter(|&&i| live[i]) {
        let n = &g.node[i];
        let passes = matches!(n.op_type.as_str(), "Pad" | "Identity" | "Dropout")
            && n.output.first().is_some_and(|o| fed.contains(o.as_str()));
        for (k, name) in n.input.iter().enumerate().filter(|(_, s)| !s.is_empty()) {
            if k == 0 && (n.op_type == "Conv" || passes) {
                if !blocked.contains(name.as_str()) {
                    fed.insert(name.as_str());
                }
            } else {
                blocked.insert(name.as_str());
                fed.remove(name.as_str());
            }
        }
    }
    fed
}

/// A tensor of the ONNX graph: computed by a glimpse node, or a constant.
#[derive(Clone)]
pub(crate) enum Val<'m> {
    Node(NodeId),
    Const(Cow<'m, TensorProto>),
}

/// The graph being built from an ONNX graph, and what the mappings need to know of the ONNX side.
pub(crate) struct Importer<'m, 'p> {
    /// The default-domain opset.
    pub(crate) opset: i64,
    pub(crate) base_dir: Option<&'p Path>,
    pub(crate) graph: Graph,
    /// Every tensor known so far, by ONNX name.
    values: HashMap<&'m str, Val<'m>>,
    /// How many live nodes read each tensor (the graph output counts as a reader).
    pub(crate) readers: HashMap<&'m str, usize>,
    /// Node names in use.
    names: HashSet<String>,
    /// The graph input's batch size, when fixed.
    pub(crate) batch: Option<i64>,
    /// Dense layers without a bias that a following Add may give one: node → ONNX output tensor.
    pub(crate) bias_free_dense: HashMap<NodeId, &'m str>,
    /// Pad outputs waiting for the convolutions that read them.
    pending_pads: HashMap<&'m str, pad::PendingPad>,
    /// Tensors read by convolutions' data inputs only.
    conv_readers_only: HashSet<&'m str>,
    /// Nodes holding their ONNX tensor in whole form (batch axis included; see
    /// [`Importer::act_whole`]); every other node's per-item shape is its tensor's without the
    /// first axis, the batch.
    pub(crate) whole_form: HashSet<NodeId>,
    /// A whole-form node's twin with the batch first, and the reverse, once made.
    lead_of: HashMap<NodeId, NodeId>,
    whole_of: HashMap<NodeId, NodeId>,
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
        if fold::FOLDABLE.contains(&n.op_type.as_str()) && self.all_constant(n) {
            return fold::fold_node(self, n, &name);
        }
        if let Some(op) = supported_ops().into_iter().find(|o| o.op_type == n.op_type) {
            return (op.import)(self, n, &name);
        }
        let why = match fuse::PART_OF_PATTERNS
            .iter()
            .find(|(op, _)| *op == n.op_type)
        {
            Some((_, pattern)) => format!("glimpse maps this operator only inside {pattern}"),
            None => "glimpse has no mapping for this operator".into(),
        };
        Err(unsupported(n, &name, why))
    }
}

/// The operators the importer resolves itself.
pub(crate) const OWN_OPS: &[OnnxOp] = &[
    OnnxOp {
        op_type: "Dropout",
        layer: "removed at load",
        notes: "inference form only",
        import: dropout,
    },
    OnnxOp {
        op_type: "Identity",
        layer: "removed at load",
        notes: "",
        import: identity,
    },
    OnnxOp {
        op_type: "Constant",
        layer: "constant inputs",
        notes: "",
        import: constant::constant,
    },
    OnnxOp {
        op_type: "Shape",
        layer: "folded at import",
        notes: "static shapes, an open batch as 1 (glimpse runs a graph per item, as at batch 1); with it, Gather, Unsqueeze, Squeeze, Concat, Add, Sub, Mul, Div, Mod, Equal, Where, Cast, Slice, Reshape, Expand, Transpose, ConstantOfShape, Range, element-wise maths, comparisons, Clip, MatMul, ScatterND and GatherND of constants are folded",
        import: fold::fold_node,
    },
    OnnxOp {
        op_type: "Pad",
        layer: "folded into the Conv that reads it, or Pad",
        notes: "constant zeros on H and W before convolutions fold into them (TensorFlow-style \"SAME\"); any other constant padding, on any axis but the batch's, is a Pad layer; `axes` input",
        import: pad::pad,
    },
];

fn identity<'m>(imp: &mut Importer<'m, '_>, n: &'m NodeProto, name: &str) -> Result<()> {
    if imp.forward_pending_pad(n) {
        return Ok(());
    }
    let v = imp.input(n, name, 0)?;
    imp.set(n, v)
}

fn dropout<'m>(imp: &mut Importer<'m, '_>, n: &'m NodeProto, name: &str) -> Result<()> {
    imp.no_extra_output(n, name, "the mask output")?;
    imp.not_training(n, name)?;
    identity(imp, n, name)
}

impl Importer<'_, '_> {
    /// Whether a node can be folded: every input a constant (`Shape` reads only its input's
    /// static shape).
    fn all_constant(&self, n: &NodeProto) -> bool {
        n.op_type == "Shape"
            || n.input
                .iter()
                .filter(|t| !t.is_empty())
                .all(|t| matches!(self.values.get(t.as_str()), Some(Val::Const(_))))
    }
}

pub(crate) fn unsupported(n: &NodeProto, name: &str, why: String) -> Error {
    Error::UnsupportedOp {
        op: n.op_type.clone(),
        node: name.to_string(),
        why,
        supported: supported_op_names(),
    }
}
