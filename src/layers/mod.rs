//! One module per layer kind: parameters, output shape, and a plain f64 CPU reference.
//!
//! Adding a layer kind touches, and only touches:
//! 1. a module here with its parameters, `output_shape` and f64 `reference`;
//! 2. its WGSL in `shaders/layers/<kind>_forward.wgsl` (and `<kind>_transpose.wgsl`, the adjoint);
//! 3. one variant in [`crate::model::Op`] and one arm in [`output_shape`] and [`reference_node`];
//! 4. one arm in the plan's forward recorder (`src/plan/forward.rs`) and one in the gradient
//!    backward recorder (`src/explain/gradient/record.rs`);
//! 5. one arm in the ONNX importer's dispatch (`src/onnx/import/mod.rs`) with its mapping in
//!    `src/onnx/import/<kind>.rs`, and a row in the README's op table.

mod activation;
mod batch_norm;
mod conv2d;
mod dense;
mod merge;
mod pool;

pub use activation::{reference_clip, reference_softmax};
pub use batch_norm::BatchNorm;
pub use conv2d::Conv2d;
pub use dense::Dense;
pub use merge::{reference_add, reference_concat};
pub use pool::{reference_global_avg, Pool2d};

use crate::error::{Error, Result};
use crate::model::{Graph, Op, Tensor};

/// Per-item output shape of `op` applied to inputs of the given per-item shapes.
pub fn output_shape(op: &Op, inputs: &[&[usize]]) -> Result<Vec<usize>> {
    let one = || -> Result<&[usize]> {
        match inputs {
            [s] => Ok(s),
            _ => Err(Error::Shape(format!(
                "expects one input, got {}",
                inputs.len()
            ))),
        }
    };
    match op {
        Op::Input => Err(Error::Graph("Input has no producer".into())),
        Op::Conv2d(c) => c.output_shape(one()?),
        Op::Dense(d) => d.output_shape(one()?),
        Op::BatchNorm(b) => b.output_shape(one()?),
        Op::Relu | Op::Clip { .. } => Ok(one()?.to_vec()),
        Op::MaxPool2d(p) | Op::AvgPool2d(p) => p.output_shape(one()?),
        Op::GlobalAvgPool => match one()? {
            [c, _, _] => Ok(vec![*c, 1, 1]),
            s => Err(Error::Shape(format!(
                "global pooling needs [C,H,W], got {s:?}"
            ))),
        },
        // The node's own shape is fixed by whoever builds it; see `reshape_to`.
        Op::Reshape => Err(Error::Graph(
            "Reshape is added with Graph::push_reshape".into(),
        )),
        Op::Add => merge::add_output_shape(inputs),
        Op::Concat => merge::concat_output_shape(inputs),
        Op::Softmax => Ok(one()?.to_vec()),
    }
}

/// f64 reference of one node given its inputs' values (batch dimension first).
pub fn reference_node(op: &Op, shape: &[usize], xs: &[&Tensor<f64>]) -> Tensor<f64> {
    let x = xs[0];
    let n = x.shape[0];
    let mut y = match op {
        Op::Input => x.clone(),
        Op::Conv2d(c) => c.reference(x),
        Op::Dense(d) => d.reference(&Tensor {
            shape: vec![n, x.data.len() / n],
            data: x.data.clone(),
        }),
        Op::BatchNorm(b) => b.reference(x),
        Op::Relu => reference_clip(x, 0.0, f64::INFINITY),
        Op::Clip { min, max } => reference_clip(x, *min as f64, *max as f64),
        Op::MaxPool2d(p) => p.reference_max(x),
        Op::AvgPool2d(p) => p.reference_avg(x),
        Op::GlobalAvgPool => reference_global_avg(x),
        Op::Reshape => x.clone(),
        Op::Add => reference_add(xs),
        Op::Concat => reference_concat(xs),
        Op::Softmax => reference_softmax(x),
    };
    y.shape = std::iter::once(n).chain(shape.iter().cloned()).collect();
    y
}

/// f64 reference of the whole graph: the value of every node for a batch `[N, ...input]`.
pub fn reference_forward(graph: &Graph, input: &Tensor<f64>) -> Vec<Tensor<f64>> {
    let mut values: Vec<Tensor<f64>> = Vec::with_capacity(graph.nodes.len());
    for node in &graph.nodes {
        let v = if matches!(node.op, Op::Input) {
            input.clone()
        } else {
            let xs: Vec<&Tensor<f64>> = node.inputs.iter().map(|&i| &values[i]).collect();
            reference_node(&node.op, &node.shape, &xs)
        };
        values.push(v);
    }
    values
}
