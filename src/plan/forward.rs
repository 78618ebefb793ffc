//! Recording a graph's forward pass, and how many items one submission can hold.

use super::{DeviceProfile, Program, TensorId};
use crate::error::{Error, Result};
use crate::layers::ForwardIo;
use crate::model::Graph;

/// Records the forward pass of `graph` for `batch` items; returns the tensor of each node (the
/// input's is kept, for the host to write).
pub fn record_forward(p: &mut Program, graph: &Graph, batch: usize) -> Result<Vec<TensorId>> {
    record_forward_to(p, graph, batch, graph.nodes.len() - 1, None)
}

/// Records the forward pass of the nodes up to `last` (in topological order: all that `last`
/// reads), reading `input` for node 0 when given (a tensor earlier passes wrote, e.g. a
/// transformed image) instead of a kept input tensor.
pub fn record_forward_to(
    p: &mut Program,
    graph: &Graph,
    batch: usize,
    last: usize,
    input: Option<TensorId>,
) -> Result<Vec<TensorId>> {
    let mut values: Vec<TensorId> = Vec::with_capacity(last + 1);
    for (id, node) in graph.nodes.iter().enumerate().take(last + 1) {
        if let (0, Some(x)) = (id, input) {
            values.push(x);
            continue;
        }
        let xs: Vec<TensorId> = node.inputs.iter().map(|&i| values[i]).collect();
        let in_shapes: Vec<&[usize]> = node
            .inputs
            .iter()
            .map(|&i| graph.nodes[i].shape.as_slice())
            .collect();
        let io = ForwardIo {
            node: id,
            name: &node.name,
            batch,
            xs: &xs,
            in_shapes: &in_shapes,
            out_shape: &node.shape,
        };
        values.push(node.op.layer().record_forward(p, &io)?);
    }
    Ok(values)
}

/// Items per submission: at most `wanted`, few enough that every tensor of `graph` stays
/// bindable, and splitting `wanted` items evenly; fails when not even one item fits.
pub fn items_per_submission(
    profile: &DeviceProfile,
    graph: &Graph,
    wanted: usize,
) -> Result<usize> {
    let (name, per_item) = graph
        .nodes
        .iter()
        .map(|n| {
            (
                n.name.as_str(),
                4 * n.shape.iter().product::<usize>() as u64,
            )
        })
        .max_by_key(|&(_, b)| b)
        .unwrap_or(("input", 4));
    let limit = profile.max_tensor_bytes();
    let fit = (limit / per_item.max(1)) as usize;
    if fit == 0 {
        return Err(Error::TooLarge {
            tensor: name.to_string(),
            bytes: per_item,
            limit,
        });
    }
    // As few submissions as the limit allows, evenly filled: 16 items where 10 fit run as 8 + 8,
    // not as 10 + 6 padded to 10.
    let wanted = wanted.max(1);
    Ok(wanted.div_ceil(wanted.div_ceil(fit)))
}
