//! ONNX graph → [`Graph`]: decoding, checks, topological sort, and one mapping per operator.

use std::borrow::Cow;
use std::collections::{BTreeSet, HashMap, HashSet};
use std::path::Path;

use prost::Message;

use super::proto::{
    tensor_shape_proto::dimension, type_proto, AttributeProto, AttributeType, DataType, GraphProto,
    ModelProto, NodeProto, TensorProto, ValueInfoProto,
};
use super::{tensor, SUPPORTED_OPS};
use crate::error::{Error, Result};
use crate::layers::{BatchNorm, Conv2d, Dense, Pool2d};
use crate::model::{Graph, NodeId, Op, Tensor};

/// Oldest default-domain opset the importer reads.
pub const MIN_OPSET: i64 = 11;
/// Newest default-domain opset the importer reads.
pub const MAX_OPSET: i64 = 21;
/// Largest kernel size, stride, dilation, pad or group count accepted from a file; far
/// beyond real models, it keeps window arithmetic from overflowing on hostile values.
const MAX_WINDOW: i64 = 1 << 24;

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
    };
    for &i in &order {
        if live[i] {
            imp.node(i, &g.node[i])?;
        }
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

/// The per-item shape of the graph input, and its batch size when fixed.
fn input_shape(v: &ValueInfoProto) -> Result<(Option<i64>, Vec<usize>)> {
    let name = &v.name;
    let Some(type_proto::Value::TensorType(t)) = v.r#type.as_ref().and_then(|t| t.value.as_ref())
    else {
        return Err(Error::Onnx(format!("graph input '{name}' is not a tensor")));
    };
    if t.elem_type != DataType::Float as i32 {
        let ty = DataType::try_from(t.elem_type).unwrap_or(DataType::Undefined);
        return Err(Error::Onnx(format!(
            "graph input '{name}' has element type {ty:?}; glimpse needs FLOAT"
        )));
    }
    let dims = &t
        .shape
        .as_ref()
        .ok_or_else(|| {
            Error::Onnx(format!(
                "graph input '{name}' has no shape; glimpse needs its per-item shape"
            ))
        })?
        .dim;
    if dims.len() != 2 && dims.len() != 4 {
        return Err(Error::Shape(format!(
            "graph input '{name}' has rank {}; glimpse supports [N, C, H, W] images and [N, F] feature vectors",
            dims.len()
        )));
    }
    let batch = match dims[0].value {
        Some(dimension::Value::DimValue(b)) if b > 0 => Some(b),
        _ => None,
    };
    let mut shape = Vec::with_capacity(dims.len() - 1);
    for (i, d) in dims.iter().enumerate().skip(1) {
        match d.value {
            Some(dimension::Value::DimValue(v)) if v > 0 => shape.push(v as usize),
            ref other => {
                let what = match other {
                    Some(dimension::Value::DimValue(v)) => v.to_string(),
                    Some(dimension::Value::DimParam(p)) => format!("'{p}'"),
                    None => "unknown".into(),
                };
                return Err(Error::Shape(format!(
                    "graph input '{name}' has dimension {i} = {what}; every dimension but the batch must be a fixed positive number"
                )));
            }
        }
    }
    Ok((batch, shape))
}

/// Compares the declared output shape, where it is known, with the imported one.
fn check_output_shape(v: &ValueInfoProto, per_item: &[usize]) -> Result<()> {
    let Some(type_proto::Value::TensorType(t)) = v.r#type.as_ref().and_then(|t| t.value.as_ref())
    else {
        return Ok(());
    };
    let Some(shape) = &t.shape else {
        return Ok(());
    };
    let known: Vec<Option<i64>> = shape
        .dim
        .iter()
        .map(|d| match d.value {
            Some(dimension::Value::DimValue(v)) if v > 0 => Some(v),
            _ => None,
        })
        .collect();
    let agrees = known.len() == per_item.len() + 1
        && known[1..]
            .iter()
            .zip(per_item)
            .all(|(k, &p)| k.is_none_or(|k| k as usize == p));
    if agrees {
        Ok(())
    } else {
        Err(Error::Shape(format!(
            "graph output '{}' is declared with shape {known:?} but the imported graph computes [N, {}]",
            v.name,
            per_item
                .iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        )))
    }
}

/// The node's name, or `<OpType>_<index>` when it has none.
fn node_name(n: &NodeProto, index: usize) -> String {
    if n.name.is_empty() {
        format!("{}_{index}", n.op_type)
    } else {
        n.name.clone()
    }
}

/// Orders the nodes so each comes after the producers of its inputs, keeping the file's order
/// where it is free; fails on a tensor produced twice, a dangling input, or a cycle.
fn topological_order(nodes: &[NodeProto], available: &HashSet<&str>) -> Result<Vec<usize>> {
    let mut producer: HashMap<&str, usize> = HashMap::new();
    for (i, n) in nodes.iter().enumerate() {
        for o in n.output.iter().filter(|o| !o.is_empty()) {
            if available.contains(o.as_str()) || producer.insert(o, i).is_some() {
                return Err(Error::Graph(format!(
                    "tensor '{o}' is defined twice (again as an output of node '{}')",
                    node_name(n, i)
                )));
            }
        }
    }
    let mut pending = vec![0usize; nodes.len()];
    let mut users = vec![Vec::new(); nodes.len()];
    for (i, n) in nodes.iter().enumerate() {
        for name in n.input.iter().filter(|s| !s.is_empty()) {
            if available.contains(name.as_str()) {
                continue;
            }
            let Some(&p) = producer.get(name.as_str()) else {
                return Err(Error::Graph(format!(
                    "node '{}' ({}) reads tensor '{name}', which no node, initializer or graph input provides",
                    node_name(n, i),
                    n.op_type
                )));
            };
            pending[i] += 1;
            users[p].push(i);
        }
    }
    let mut ready: BTreeSet<usize> = (0..nodes.len()).filter(|&i| pending[i] == 0).collect();
    let mut order = Vec::with_capacity(nodes.len());
    while let Some(i) = ready.pop_first() {
        order.push(i);
        for &u in &users[i] {
            pending[u] -= 1;
            if pending[u] == 0 {
                ready.insert(u);
            }
        }
    }
    if order.len() < nodes.len() {
        let stuck: Vec<String> = (0..nodes.len())
            .filter(|&i| pending[i] > 0)
            .map(|i| format!("'{}'", node_name(&nodes[i], i)))
            .collect();
        return Err(Error::Graph(format!(
            "the graph has a cycle: nodes {} wait on each other",
            stuck.join(", ")
        )));
    }
    Ok(order)
}

/// Which nodes the output depends on.
fn live_nodes(g: &GraphProto, output: &str) -> Vec<bool> {
    let producer: HashMap<&str, usize> = g
        .node
        .iter()
        .enumerate()
        .flat_map(|(i, n)| n.output.iter().map(move |o| (o.as_str(), i)))
        .collect();
    let mut live = vec![false; g.node.len()];
    let mut stack = vec![output];
    while let Some(name) = stack.pop() {
        if let Some(&i) = producer.get(name) {
            if !live[i] {
                live[i] = true;
                stack.extend(
                    g.node[i]
                        .input
                        .iter()
                        .filter(|s| !s.is_empty())
                        .map(|s| s.as_str()),
                );
            }
        }
    }
    live
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
            "Identity" => {
                let v = self.input(n, &name, 0)?;
                self.set(n, v)
            }
            "Dropout" => {
                self.no_extra_output(n, &name, "the mask output")?;
                self.not_training(n, &name)?;
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
            _ => Err(unsupported(
                n,
                &name,
                "glimpse has no mapping for this operator".into(),
            )),
        }
    }

    // ---- plumbing -------------------------------------------------------------------------

    /// Records `v` as the value of the node's first output.
    fn set(&mut self, n: &'m NodeProto, v: Val<'m>) -> Result<()> {
        self.values.insert(n.output[0].as_str(), v);
        Ok(())
    }

    /// Appends a glimpse node named after the ONNX one and records it as the node's output.
    fn push(&mut self, n: &'m NodeProto, name: &str, op: Op, inputs: Vec<NodeId>) -> Result<()> {
        let id = self.push_node(name, op, inputs)?;
        self.set(n, Val::Node(id))
    }

    fn push_node(&mut self, name: &str, op: Op, inputs: Vec<NodeId>) -> Result<NodeId> {
        let name = self.unique(name);
        self.graph.push(name, op, inputs)
    }

    fn push_reshape(&mut self, name: &str, input: NodeId, shape: Vec<usize>) -> Result<NodeId> {
        let name = self.unique(name);
        self.graph.push_reshape(name, input, shape)
    }

    /// `base`, or `base_2`, `base_3`, ... if taken.
    fn unique(&mut self, base: &str) -> String {
        let mut name = base.to_string();
        let mut k = 2;
        while self.names.contains(&name) {
            name = format!("{base}_{k}");
            k += 1;
        }
        self.names.insert(name.clone());
        name
    }

    /// The name of input `i`, if present (empty names are omitted optional inputs).
    fn input_name(n: &'m NodeProto, i: usize) -> Option<&'m str> {
        n.input.get(i).map(|s| s.as_str()).filter(|s| !s.is_empty())
    }

    /// Optional input `i`.
    fn opt_input(&self, n: &'m NodeProto, name: &str, i: usize) -> Result<Option<Val<'m>>> {
        let Some(t) = Self::input_name(n, i) else {
            return Ok(None);
        };
        match self.values.get(t) {
            Some(v) => Ok(Some(v.clone())),
            None => Err(Error::Graph(format!(
                "node '{name}' ({}) reads tensor '{t}' before it is computed",
                n.op_type
            ))),
        }
    }

    /// Required input `i`.
    fn input(&self, n: &'m NodeProto, name: &str, i: usize) -> Result<Val<'m>> {
        self.opt_input(n, name, i)?.ok_or_else(|| {
            Error::Onnx(format!("node '{name}' ({}) lacks its input {i}", n.op_type))
        })
    }

    /// Input `i`, which must be computed from the graph input.
    fn act(&self, n: &'m NodeProto, name: &str, i: usize) -> Result<NodeId> {
        match self.input(n, name, i)? {
            Val::Node(id) => Ok(id),
            Val::Const(_) => Err(unsupported(
                n,
                name,
                format!(
                    "input {i} ('{}') is a constant; it must be computed from the graph input",
                    n.input[i]
                ),
            )),
        }
    }

    /// Optional input `i`, which must be a constant.
    fn opt_const(
        &self,
        n: &'m NodeProto,
        name: &str,
        i: usize,
    ) -> Result<Option<Cow<'m, TensorProto>>> {
        match self.opt_input(n, name, i)? {
            None => Ok(None),
            Some(Val::Const(t)) => Ok(Some(t)),
            Some(Val::Node(_)) => Err(unsupported(
                n,
                name,
                format!(
                    "input {i} ('{}') must be a constant (an initializer or a Constant node), not computed from the graph input",
                    n.input[i]
                ),
            )),
        }
    }

    fn opt_const_f32(&self, n: &'m NodeProto, name: &str, i: usize) -> Result<Option<Tensor>> {
        self.opt_const(n, name, i)?
            .map(|t| tensor::to_f32(&t, self.base_dir))
            .transpose()
    }

    fn const_f32(&self, n: &'m NodeProto, name: &str, i: usize) -> Result<Tensor> {
        self.opt_const_f32(n, name, i)?.ok_or_else(|| {
            Error::Onnx(format!("node '{name}' ({}) lacks its input {i}", n.op_type))
        })
    }

    fn opt_const_i64(&self, n: &'m NodeProto, name: &str, i: usize) -> Result<Option<Vec<i64>>> {
        self.opt_const(n, name, i)?
            .map(|t| tensor::to_i64(&t, self.base_dir).map(|(_, v)| v))
            .transpose()
    }

    /// Per-item shape of a glimpse node.
    fn shape(&self, id: NodeId) -> &[usize] {
        &self.graph.nodes[id].shape
    }

    /// Fails if an optional extra output (beyond the first) is read by anything.
    fn no_extra_output(&self, n: &NodeProto, name: &str, what: &str) -> Result<()> {
        for o in n.output.iter().skip(1).filter(|o| !o.is_empty()) {
            if self.readers.get(o.as_str()).copied().unwrap_or(0) > 0 {
                return Err(unsupported(
                    n,
                    name,
                    format!("{what} ('{o}') is used, which is not supported"),
                ));
            }
        }
        Ok(())
    }

    /// Dropout's optional `training_mode` input (opset 12+) must be absent or a constant false.
    fn not_training(&self, n: &'m NodeProto, name: &str) -> Result<()> {
        let training = match self.opt_input(n, name, 2)? {
            None => false,
            Some(Val::Node(_)) => true,
            Some(Val::Const(t)) => {
                t.data_location != 0
                    || t.raw_data.iter().any(|&b| b != 0)
                    || t.int32_data.iter().any(|&v| v != 0)
                    || t.int64_data.iter().any(|&v| v != 0)
            }
        };
        if training {
            return Err(unsupported(
                n,
                name,
                "training_mode is (or may be) true; only inference Dropout is supported".into(),
            ));
        }
        Ok(())
    }

    // ---- operators ------------------------------------------------------------------------

    fn constant(&mut self, n: &'m NodeProto, name: &str) -> Result<()> {
        let a = match n.attribute.as_slice() {
            [a] => a,
            _ => {
                return Err(Error::Onnx(format!(
                    "Constant node '{name}' must have exactly one attribute, has {}",
                    n.attribute.len()
                )))
            }
        };
        let out = n.output[0].clone();
        let t = match a.name.as_str() {
            "value" => {
                let t = a.t.as_ref().ok_or_else(|| {
                    Error::Onnx(format!("Constant node '{name}' has an empty 'value'"))
                })?;
                if t.name.is_empty() {
                    Cow::Owned(TensorProto {
                        name: out,
                        ..t.clone()
                    })
                } else {
                    Cow::Borrowed(t)
                }
            }
            "value_float" => Cow::Owned(TensorProto {
                name: out,
                data_type: DataType::Float as i32,
                float_data: vec![a.f],
                ..Default::default()
            }),
            "value_floats" => Cow::Owned(TensorProto {
                name: out,
                data_type: DataType::Float as i32,
                dims: vec![a.floats.len() as i64],
                float_data: a.floats.clone(),
                ..Default::default()
            }),
            "value_int" => Cow::Owned(TensorProto {
                name: out,
                data_type: DataType::Int64 as i32,
                int64_data: vec![a.i],
                ..Default::default()
            }),
            "value_ints" => Cow::Owned(TensorProto {
                name: out,
                data_type: DataType::Int64 as i32,
                dims: vec![a.ints.len() as i64],
                int64_data: a.ints.clone(),
                ..Default::default()
            }),
            other => {
                return Err(unsupported(
                    n,
                    name,
                    format!("a Constant given by '{other}' is not supported"),
                ))
            }
        };
        self.set(n, Val::Const(t))
    }

    fn conv(&mut self, n: &'m NodeProto, name: &str) -> Result<()> {
        let x = self.act(n, name, 0)?;
        let weight = self.const_f32(n, name, 1)?;
        if weight.shape.contains(&0) {
            return Err(Error::Shape(format!(
                "node '{name}' (Conv): the weight has an empty shape {:?}",
                weight.shape
            )));
        }
        if weight.shape.len() != 4 {
            return Err(unsupported(
                n,
                name,
                format!(
                    "only 2-D convolutions are supported; the weight has shape {:?}",
                    weight.shape
                ),
            ));
        }
        let input = self.shape(x).to_vec();
        if input.len() != 3 {
            return Err(Error::Shape(format!(
                "node '{name}' (Conv) needs a [N, C, H, W] input, got per-item shape {input:?}"
            )));
        }
        let kernel = [weight.shape[2], weight.shape[3]];
        if let Some(ks) = attr_ints(n, name, "kernel_shape")? {
            if ks.len() != 2 || ks[0] as usize != kernel[0] || ks[1] as usize != kernel[1] {
                return Err(Error::Onnx(format!(
                    "node '{name}' (Conv): kernel_shape {ks:?} disagrees with the weight {:?}",
                    weight.shape
                )));
            }
        }
        let bias = match self.opt_const_f32(n, name, 2)? {
            None => None,
            Some(b) if b.shape == [weight.shape[0]] => Some(b.data),
            Some(b) => {
                return Err(Error::Shape(format!(
                    "node '{name}' (Conv): bias of shape {:?} for {} output channels",
                    b.shape, weight.shape[0]
                )))
            }
        };
        let stride = pair(n, name, "strides", [1, 1])?;
        let dilation = pair(n, name, "dilations", [1, 1])?;
        let groups = attr_i(n, name, "group", 1)?;
        if !(1..=MAX_WINDOW).contains(&groups) {
            return Err(Error::Onnx(format!(
                "node '{name}' (Conv): group must be from 1 to {MAX_WINDOW}, got {groups}"
            )));
        }
        let pads = pads(n, name, [input[1], input[2]], kernel, stride, dilation)?;
        let op = Op::Conv2d(Conv2d {
            weight,
            bias,
            stride,
            pads,
            dilation,
            groups: groups as usize,
        });
        self.push(n, name, op, vec![x])
    }

    fn gemm(&mut self, n: &'m NodeProto, name: &str) -> Result<()> {
        if attr_i(n, name, "transA", 0)? != 0 {
            return Err(unsupported(
                n,
                name,
                "transA = 1 is not supported; the activation must be A, [N, in]".into(),
            ));
        }
        let a = match self.input(n, name, 0)? {
            Val::Node(id) => id,
            Val::Const(_) => {
                return Err(unsupported(
                    n,
                    name,
                    "A is a constant; glimpse needs the activation as A and the weight as B".into(),
                ))
            }
        };
        self.flat_input(name, "Gemm", a)?;
        let b = self.const_f32(n, name, 1)?;
        if b.shape.len() != 2 {
            return Err(Error::Onnx(format!(
                "node '{name}' (Gemm): B must be 2-D, has shape {:?}",
                b.shape
            )));
        }
        let trans_b = match attr_i(n, name, "transB", 0)? {
            0 => false,
            1 => true,
            t => {
                return Err(Error::Onnx(format!(
                    "node '{name}' (Gemm): transB must be 0 or 1, got {t}"
                )))
            }
        };
        let alpha = attr_f(n, name, "alpha", 1.0)? as f64;
        let beta = attr_f(n, name, "beta", 1.0)? as f64;
        let (out, inp) = if trans_b {
            (b.shape[0], b.shape[1])
        } else {
            (b.shape[1], b.shape[0])
        };
        let mut w = vec![0f32; out * inp];
        for o in 0..out {
            for i in 0..inp {
                let v = if trans_b {
                    b.data[o * inp + i]
                } else {
                    b.data[i * out + o]
                };
                w[o * inp + i] = (alpha * v as f64) as f32;
            }
        }
        let bias = match self.opt_const_f32(n, name, 2)? {
            Some(c) if beta != 0.0 => Some(
                row_bias(&c, out)
                    .ok_or_else(|| {
                        Error::Shape(format!(
                            "node '{name}' (Gemm): C has shape {:?}; glimpse supports a scalar, [{out}] or [1, {out}]",
                            c.shape
                        ))
                    })?
                    .into_iter()
                    .map(|v| (beta * v as f64) as f32)
                    .collect(),
            ),
            _ => None,
        };
        let has_bias = bias.is_some();
        let op = Op::Dense(Dense {
            weight: Tensor::new(vec![out, inp], w)?,
            bias,
        });
        let id = self.push_node(name, op, vec![a])?;
        if !has_bias {
            self.bias_free_dense.insert(id, n.output[0].as_str());
        }
        self.set(n, Val::Node(id))
    }

    fn matmul(&mut self, n: &'m NodeProto, name: &str) -> Result<()> {
        let a = self.act(n, name, 0)?;
        self.flat_input(name, "MatMul", a)?;
        let b = match self.input(n, name, 1)? {
            Val::Const(t) => tensor::to_f32(&t, self.base_dir)?,
            Val::Node(_) => {
                return Err(unsupported(
                    n,
                    name,
                    "the right operand must be a constant weight [in, out]; a product of two activations is not supported".into(),
                ))
            }
        };
        if b.shape.len() != 2 {
            return Err(unsupported(
                n,
                name,
                format!("the weight must be 2-D [in, out], has shape {:?}", b.shape),
            ));
        }
        let (inp, out) = (b.shape[0], b.shape[1]);
        let mut w = vec![0f32; out * inp];
        for i in 0..inp {
            for o in 0..out {
                w[o * inp + i] = b.data[i * out + o];
            }
        }
        let op = Op::Dense(Dense {
            weight: Tensor::new(vec![out, inp], w)?,
            bias: None,
        });
        let id = self.push_node(name, op, vec![a])?;
        self.bias_free_dense.insert(id, n.output[0].as_str());
        self.set(n, Val::Node(id))
    }

    /// Gemm and MatMul read `[N, F]` activations only.
    fn flat_input(&self, name: &str, op: &str, id: NodeId) -> Result<()> {
        let s = self.shape(id);
        if s.len() != 1 {
            return Err(Error::Shape(format!(
                "node '{name}' ({op}) needs a 2-D input [N, F], got per-item shape {s:?} (add a Flatten)"
            )));
        }
        Ok(())
    }

    fn add(&mut self, n: &'m NodeProto, name: &str) -> Result<()> {
        if n.input.len() != 2 {
            return Err(Error::Onnx(format!(
                "node '{name}' (Add) needs two inputs, has {}",
                n.input.len()
            )));
        }
        match (self.input(n, name, 0)?, self.input(n, name, 1)?) {
            (Val::Node(a), Val::Node(b)) => {
                if self.shape(a) != self.shape(b) {
                    return Err(unsupported(
                        n,
                        name,
                        format!(
                            "its inputs have per-item shapes {:?} and {:?}; broadcasting is not supported",
                            self.shape(a),
                            self.shape(b)
                        ),
                    ));
                }
                self.push(n, name, Op::Add, vec![a, b])
            }
            (Val::Node(x), Val::Const(c)) | (Val::Const(c), Val::Node(x)) => {
                self.fold_bias(n, name, x, &c)
            }
            (Val::Const(_), Val::Const(_)) => Err(unsupported(
                n,
                name,
                "both inputs are constants; constant folding is not supported".into(),
            )),
        }
    }

    /// `MatMul` (or a Gemm without C) then `Add` of a constant row: the constant becomes the
    /// Dense layer's bias.
    fn fold_bias(
        &mut self,
        n: &'m NodeProto,
        name: &str,
        x: NodeId,
        c: &TensorProto,
    ) -> Result<()> {
        let foldable = self
            .bias_free_dense
            .get(&x)
            .is_some_and(|t| self.readers.get(t).copied() == Some(1));
        if !foldable {
            return Err(unsupported(
                n,
                name,
                format!(
                    "adding a constant ('{}') is supported only as the bias right after a MatMul, \
                     whose output nothing else reads; here it follows {} node '{}'",
                    c.name,
                    self.graph.nodes[x].op.kind(),
                    self.graph.nodes[x].name
                ),
            ));
        }
        let c = tensor::to_f32(c, self.base_dir)?;
        let Op::Dense(d) = &mut self.graph.nodes[x].op else {
            unreachable!("bias_free_dense holds Dense nodes only")
        };
        let out = d.weight.shape[0];
        let bias = row_bias(&c, out).ok_or_else(|| {
            Error::Shape(format!(
                "node '{name}' (Add): the bias has shape {:?}; glimpse supports [{out}] or [1, {out}]",
                c.shape
            ))
        })?;
        d.bias = Some(bias);
        self.bias_free_dense.remove(&x);
        self.set(n, Val::Node(x))
    }

    fn clip(&mut self, n: &'m NodeProto, name: &str) -> Result<()> {
        let x = self.act(n, name, 0)?;
        let (min, max) = if self.opset < 11 {
            (
                attr_f(n, name, "min", f32::NEG_INFINITY)?,
                attr_f(n, name, "max", f32::INFINITY)?,
            )
        } else {
            let bound = |i: usize, default: f32| -> Result<f32> {
                match self.opt_const_f32(n, name, i)? {
                    None => Ok(default),
                    Some(t) if t.data.len() == 1 => Ok(t.data[0]),
                    Some(t) => Err(Error::Shape(format!(
                        "node '{name}' (Clip): bound {i} must be a scalar, has shape {:?}",
                        t.shape
                    ))),
                }
            };
            (bound(1, f32::NEG_INFINITY)?, bound(2, f32::INFINITY)?)
        };
        if min.is_nan() || max.is_nan() {
            return Err(Error::Onnx(format!("node '{name}' (Clip): a bound is NaN")));
        }
        self.push(n, name, Op::Clip { min, max }, vec![x])
    }

    fn pool(&mut self, n: &'m NodeProto, name: &str, max: bool) -> Result<()> {
        let x = self.act(n, name, 0)?;
        let input = self.shape(x).to_vec();
        if input.len() != 3 {
            return Err(Error::Shape(format!(
                "node '{name}' ({}) needs a [N, C, H, W] input, got per-item shape {input:?}",
                n.op_type
            )));
        }
        if max {
            self.no_extra_output(n, name, "the Indices output")?;
        }
        let kernel = match attr_ints(n, name, "kernel_shape")? {
            Some(k) => to_pair(name, "kernel_shape", &k)?,
            None => {
                return Err(Error::Onnx(format!(
                    "node '{name}' ({}) has no kernel_shape",
                    n.op_type
                )))
            }
        };
        let stride = pair(n, name, "strides", [1, 1])?;
        if let Some(d) = attr_ints(n, name, "dilations")? {
            if d.iter().any(|&v| v != 1) {
                return Err(unsupported(
                    n,
                    name,
                    format!("dilations {d:?} are not supported (only 1)"),
                ));
            }
        }
        let ceil_mode = attr_i(n, name, "ceil_mode", 0)? != 0;
        let count_include_pad = !max && attr_i(n, name, "count_include_pad", 0)? != 0;
        let pads = pads(n, name, [input[1], input[2]], kernel, stride, [1, 1])?;
        let p = Pool2d {
            kernel,
            stride,
            pads,
            count_include_pad,
            ceil_mode,
        };
        let op = if max {
            Op::MaxPool2d(p)
        } else {
            Op::AvgPool2d(p)
        };
        self.push(n, name, op, vec![x])
    }

    fn reduce_mean(&mut self, n: &'m NodeProto, name: &str) -> Result<()> {
        let x = self.act(n, name, 0)?;
        let input = self.shape(x).to_vec();
        let axes = if self.opset >= 18 {
            self.opt_const_i64(n, name, 1)?
        } else {
            attr_ints(n, name, "axes")?
        };
        let keepdims = attr_i(n, name, "keepdims", 1)? != 0;
        let axes = axes.unwrap_or_default();
        if axes.is_empty() {
            if self.opset >= 18 && attr_i(n, name, "noop_with_empty_axes", 0)? != 0 {
                return self.set(n, Val::Node(x));
            }
            return Err(unsupported(
                n,
                name,
                "a mean over all axes (the batch included) is not supported; only axes [2, 3]"
                    .into(),
            ));
        }
        let rank = input.len() as i64 + 1;
        let mut norm: Vec<i64> = axes
            .iter()
            .map(|&a| if a < 0 { a + rank } else { a })
            .collect();
        norm.sort_unstable();
        norm.dedup();
        if rank != 4 || norm != [2, 3] {
            return Err(unsupported(
                n,
                name,
                format!(
                    "only the spatial mean over axes [2, 3] of a [N, C, H, W] input is supported, got axes {axes:?} of a rank-{rank} input"
                ),
            ));
        }
        if keepdims {
            return self.push(n, name, Op::GlobalAvgPool, vec![x]);
        }
        let g = self.push_node(name, Op::GlobalAvgPool, vec![x])?;
        let r = self.push_reshape(&format!("{name}_squeeze"), g, vec![input[0]])?;
        self.set(n, Val::Node(r))
    }

    fn flatten(&mut self, n: &'m NodeProto, name: &str) -> Result<()> {
        let x = self.act(n, name, 0)?;
        let input = self.shape(x).to_vec();
        let rank = input.len() as i64 + 1;
        let axis = attr_i(n, name, "axis", 1)?;
        let axis = if axis < 0 { axis + rank } else { axis };
        if axis != 1 {
            return Err(unsupported(
                n,
                name,
                format!("only axis 1 (keep the batch dimension) is supported, got axis {axis} of a rank-{rank} input"),
            ));
        }
        if input.len() == 1 {
            return self.set(n, Val::Node(x));
        }
        let id = self.push_reshape(name, x, vec![input.iter().product()])?;
        self.set(n, Val::Node(id))
    }

    fn reshape(&mut self, n: &'m NodeProto, name: &str) -> Result<()> {
        let x = self.act(n, name, 0)?;
        let input = self.shape(x).to_vec();
        let target = self
            .opt_const_i64(n, name, 1)?
            .ok_or_else(|| Error::Onnx(format!("node '{name}' (Reshape) has no shape input")))?;
        let allow_zero = attr_i(n, name, "allowzero", 0)? != 0;
        if allow_zero && target.contains(&0) {
            return Err(unsupported(
                n,
                name,
                "allowzero = 1 with a 0 in the shape (an empty tensor) is not supported".into(),
            ));
        }
        let shape = reshape_target(&target, &input, self.batch).map_err(|why| {
            Error::Shape(format!(
                "node '{name}' (Reshape) cannot reshape [N, {}] to {target:?}: {why}",
                input
                    .iter()
                    .map(|d| d.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        })?;
        if shape == input {
            return self.set(n, Val::Node(x));
        }
        let id = self.push_reshape(name, x, shape)?;
        self.set(n, Val::Node(id))
    }

    fn batch_norm(&mut self, n: &'m NodeProto, name: &str) -> Result<()> {
        if attr_i(n, name, "training_mode", 0)? != 0 {
            return Err(unsupported(
                n,
                name,
                "training_mode = 1 is not supported; export the model in eval mode".into(),
            ));
        }
        self.no_extra_output(n, name, "the running-statistics output (training form)")?;
        let x = self.act(n, name, 0)?;
        let mut p = Vec::with_capacity(4);
        for i in 1..=4 {
            let t = self.const_f32(n, name, i)?;
            if t.shape.len() != 1 {
                return Err(Error::Shape(format!(
                    "node '{name}' (BatchNormalization): input {i} must be 1-D, has shape {:?}",
                    t.shape
                )));
            }
            p.push(t.data);
        }
        let eps = attr_f(n, name, "epsilon", 1e-5)?;
        let bn = BatchNorm::from_stats(&p[0], &p[1], &p[2], &p[3], eps)
            .map_err(|e| Error::Shape(format!("node '{name}' (BatchNormalization): {e}")))?;
        self.push(n, name, Op::BatchNorm(bn), vec![x])
    }

    fn concat(&mut self, n: &'m NodeProto, name: &str) -> Result<()> {
        let mut inputs = Vec::with_capacity(n.input.len());
        for i in 0..n.input.len() {
            inputs.push(self.act(n, name, i)?);
        }
        let Some(&first) = inputs.first() else {
            return Err(Error::Onnx(format!("node '{name}' (Concat) has no inputs")));
        };
        let rank = self.shape(first).len() as i64 + 1;
        if attr(n, "axis").is_none() {
            return Err(Error::Onnx(format!(
                "node '{name}' (Concat) has no axis attribute"
            )));
        }
        let axis = attr_i(n, name, "axis", 1)?;
        let norm = if axis < 0 { axis + rank } else { axis };
        if norm != 1 {
            return Err(unsupported(
                n,
                name,
                format!("only concatenation along channels (axis 1) is supported, got axis {axis} of a rank-{rank} input"),
            ));
        }
        self.push(n, name, Op::Concat, inputs)
    }

    fn softmax(&mut self, n: &'m NodeProto, name: &str) -> Result<()> {
        let x = self.act(n, name, 0)?;
        let rank = self.shape(x).len() as i64 + 1;
        // Before opset 13 Softmax flattens from `axis` on (default 1); from 13 it is per axis (default -1).
        let legacy = self.opset < 13;
        let axis = attr_i(n, name, "axis", if legacy { 1 } else { -1 })?;
        let norm = if axis < 0 { axis + rank } else { axis };
        let over_features = if legacy {
            norm == 1
        } else {
            norm == 1 && rank == 2
        };
        if !over_features {
            return Err(unsupported(
                n,
                name,
                format!(
                    "only a softmax over all features of each item is supported ([N, F] with axis 1 or -1), got axis {axis} of a rank-{rank} input"
                ),
            ));
        }
        self.push(n, name, Op::Softmax, vec![x])
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

// ---- attributes -------------------------------------------------------------------------------

fn attr<'a>(n: &'a NodeProto, key: &str) -> Option<&'a AttributeProto> {
    n.attribute.iter().find(|a| a.name == key)
}

/// Fails unless the attribute's declared type is `want` (or undeclared, as in IR version 1).
fn check_type(a: &AttributeProto, name: &str, want: AttributeType) -> Result<()> {
    if a.r#type == want as i32 || a.r#type == AttributeType::Undefined as i32 {
        Ok(())
    } else {
        let got = AttributeType::try_from(a.r#type).unwrap_or(AttributeType::Undefined);
        Err(Error::Onnx(format!(
            "node '{name}': attribute '{}' should be {want:?}, is {got:?}",
            a.name
        )))
    }
}

fn attr_i(n: &NodeProto, name: &str, key: &str, default: i64) -> Result<i64> {
    match attr(n, key) {
        None => Ok(default),
        Some(a) => check_type(a, name, AttributeType::Int).map(|_| a.i),
    }
}

fn attr_f(n: &NodeProto, name: &str, key: &str, default: f32) -> Result<f32> {
    match attr(n, key) {
        None => Ok(default),
        Some(a) => check_type(a, name, AttributeType::Float).map(|_| a.f),
    }
}

fn attr_ints(n: &NodeProto, name: &str, key: &str) -> Result<Option<Vec<i64>>> {
    match attr(n, key) {
        None => Ok(None),
        Some(a) => check_type(a, name, AttributeType::Ints).map(|_| Some(a.ints.clone())),
    }
}

fn attr_s(n: &NodeProto, name: &str, key: &str) -> Result<Option<String>> {
    match attr(n, key) {
        None => Ok(None),
        Some(a) => {
            check_type(a, name, AttributeType::String)?;
            String::from_utf8(a.s.clone())
                .map(Some)
                .map_err(|_| Error::Onnx(format!("node '{name}': attribute '{key}' is not UTF-8")))
        }
    }
}

/// Two positive values from an INTS attribute.
fn to_pair(name: &str, key: &str, v: &[i64]) -> Result<[usize; 2]> {
    let ok = |x: i64| (1..=MAX_WINDOW).contains(&x);
    match v {
        [a, b] if ok(*a) && ok(*b) => Ok([*a as usize, *b as usize]),
        _ => Err(Error::Onnx(format!(
            "node '{name}': {key} must be two numbers from 1 to {MAX_WINDOW} (2-D), got {v:?}"
        ))),
    }
}

fn pair(n: &NodeProto, name: &str, key: &str, default: [usize; 2]) -> Result<[usize; 2]> {
    match attr_ints(n, name, key)? {
        None => Ok(default),
        Some(v) => to_pair(name, key, &v),
    }
}

/// `[top, left, bottom, right]` from `pads` / `auto_pad` for a window over `size`.
fn pads(
    n: &NodeProto,
    name: &str,
    size: [usize; 2],
    kernel: [usize; 2],
    stride: [usize; 2],
    dilation: [usize; 2],
) -> Result<[usize; 4]> {
    let auto = attr_s(n, name, "auto_pad")?.unwrap_or_default();
    match auto.as_str() {
        "" | "NOTSET" => match attr_ints(n, name, "pads")? {
            None => Ok([0; 4]),
            // ONNX orders [x1_begin, x2_begin, x1_end, x2_end], i.e. [top, left, bottom, right].
            Some(p) if p.len() == 4 && p.iter().all(|v| (0..=MAX_WINDOW).contains(v)) => {
                Ok([p[0] as usize, p[1] as usize, p[2] as usize, p[3] as usize])
            }
            Some(p) => Err(Error::Onnx(format!(
                "node '{name}' ({}): pads must be four numbers from 0 to {MAX_WINDOW} (2-D), got {p:?}",
                n.op_type
            ))),
        },
        "VALID" => Ok([0; 4]),
        "SAME_UPPER" | "SAME_LOWER" => {
            let mut begin = [0; 2];
            let mut end = [0; 2];
            for a in 0..2 {
                let out = size[a].div_ceil(stride[a]);
                let span = (kernel[a] - 1) * dilation[a] + 1;
                let total = ((out - 1) * stride[a] + span).saturating_sub(size[a]);
                let (small, big) = (total / 2, total - total / 2);
                (begin[a], end[a]) = if auto == "SAME_UPPER" {
                    (small, big)
                } else {
                    (big, small)
                };
            }
            Ok([begin[0], begin[1], end[0], end[1]])
        }
        other => Err(Error::Onnx(format!(
            "node '{name}' ({}): unknown auto_pad '{other}'",
            n.op_type
        ))),
    }
}

/// A per-output bias from a constant of shape `[]`/`[1]`/`[1, 1]` (broadcast), `[out]` or `[1, out]`.
fn row_bias(c: &Tensor, out: usize) -> Option<Vec<f32>> {
    match c.shape.as_slice() {
        _ if c.data.len() == 1 && c.shape.len() <= 2 => Some(vec![c.data[0]; out]),
        [o] | [1, o] if *o == out => Some(c.data.clone()),
        _ => None,
    }
}

/// The per-item shape a Reshape to `target` gives an input `[N, ...input]`: `0` copies a
/// dimension, `-1` is inferred, and the batch dimension must stay first (as `0`, `-1`, or the
/// graph input's fixed batch size).
fn reshape_target(
    target: &[i64],
    input: &[usize],
    batch: Option<i64>,
) -> std::result::Result<Vec<usize>, String> {
    let Some((&first, rest)) = target.split_first() else {
        return Err("the shape is empty".into());
    };
    let numel: usize = input.iter().product();
    match first {
        0 => {}
        -1 => {
            if rest.contains(&-1) {
                return Err("two dimensions are -1".into());
            }
        }
        b if Some(b) == batch => {}
        b => {
            return Err(format!(
                "its first dimension {b} would change the batch dimension; use 0 or -1 there"
            ))
        }
    }
    let mut shape = Vec::with_capacity(rest.len());
    let mut infer = None;
    for (i, &d) in rest.iter().enumerate() {
        match d {
            0 => shape.push(*input.get(i).ok_or_else(|| {
                format!(
                    "dimension {} is 0 but the input has no such dimension",
                    i + 1
                )
            })?),
            -1 if infer.is_none() => {
                infer = Some(i);
                shape.push(1);
            }
            -1 => return Err("two dimensions are -1".into()),
            d if d > 0 => {
                shape.push(usize::try_from(d).map_err(|_| format!("dimension {d} is too large"))?)
            }
            d => return Err(format!("dimension {d} is invalid")),
        }
    }
    let known = shape
        .iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .ok_or("the shape overflows")?;
    if let Some(i) = infer {
        if known == 0 || !numel.is_multiple_of(known) {
            return Err(format!(
                "{numel} values per item do not divide into {known}"
            ));
        }
        shape[i] = numel / known;
    } else if known != numel {
        return Err(format!(
            "it holds {known} values per item, the input {numel}"
        ));
    }
    Ok(shape)
}
