//! The ONNX graph's interface and order: the graph input's and output's shapes, node names,
//! the topological sort and which nodes the output depends on.

use std::collections::{BTreeSet, HashMap, HashSet};

use crate::error::{Error, Result};
use crate::onnx::proto::{
    tensor_shape_proto::dimension, type_proto, DataType, GraphProto, NodeProto, ValueInfoProto,
};

/// The per-item shape of the graph input, and its batch size when fixed.
pub(crate) fn input_shape(v: &ValueInfoProto) -> Result<(Option<i64>, Vec<usize>)> {
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
    if !(2..=5).contains(&dims.len()) {
        return Err(Error::Shape(format!(
            "graph input '{name}' has rank {}; glimpse supports ranks 2 to 5, the batch first \
             ([N, F] features, [N, T, D] sequences, [N, C, H, W] images, [N, C, D, H, W])",
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
pub(crate) fn check_output_shape(v: &ValueInfoProto, per_item: &[usize]) -> Result<()> {
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
pub(crate) fn node_name(n: &NodeProto, index: usize) -> String {
    if n.name.is_empty() {
        format!("{}_{index}", n.op_type)
    } else {
        n.name.clone()
    }
}

/// Orders the nodes so each comes after the producers of its inputs, keeping the file's order
/// where it is free; fails on a tensor produced twice, a dangling input, or a cycle.
pub(crate) fn topological_order(
    nodes: &[NodeProto],
    available: &HashSet<&str>,
) -> Result<Vec<usize>> {
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
pub(crate) fn live_nodes(g: &GraphProto, output: &str) -> Vec<bool> {
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
