//! Chaining two graphs into one: a generator's output feeding a classifier, so that activation
//! maximisation in code space runs z → g(z) → f(g(z)) as one GPU program, the gradient flowing
//! through both.

use super::{Graph, NodeId};
use crate::error::{Error, Result};

/// `second ∘ first`: `first`'s nodes (named `PREFIX/name`, so no name clashes with `second`'s,
/// which keep theirs), then `second`'s reading `first`'s output; returns the graph and the node
/// of `first`'s output (the generated picture).
pub fn compose(first: &Graph, second: &Graph, prefix: &str) -> Result<(Graph, NodeId)> {
    if first.output_shape() != second.input_shape() {
        return Err(Error::Shape(format!(
            "the generator writes {:?} per item but the model reads {:?}",
            first.output_shape(),
            second.input_shape()
        )));
    }
    let mut g = Graph::new(first.input_shape().to_vec())?;
    let mut map: Vec<NodeId> = vec![0; first.nodes.len()];
    for (id, n) in first.nodes.iter().enumerate().skip(1) {
        let inputs = n.inputs.iter().map(|&i| map[i]).collect();
        map[id] = g.push(format!("{prefix}/{}", n.name), n.op.clone(), inputs)?;
    }
    let image = map[first.output];
    let mut map2: Vec<NodeId> = vec![image; second.nodes.len()];
    for (id, n) in second.nodes.iter().enumerate().skip(1) {
        let inputs = n.inputs.iter().map(|&i| map2[i]).collect();
        map2[id] = g.push(n.name.clone(), n.op.clone(), inputs)?;
    }
    g.output = map2[second.output];
    Ok((g, image))
}
