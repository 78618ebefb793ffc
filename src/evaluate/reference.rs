//! The plain f64 mirror of a sweep: each perturbed input built on the CPU, one at a time, and
//! run through the reference forward pass (the GPU sweep is tested against it).

use super::ranking::Grid;
use super::sweep::SweepShape;
use crate::explain::engine::explained_node;
use crate::layers::reference_forward;
use crate::model::{Graph, Tensor};

/// The k-th perturbed input (k = 0…K) of `x` with region ranks `ranks` and its fill.
pub fn perturbed(x: &[f32], ranks: &[u32], fill: &[f32], shape: &SweepShape, k: usize) -> Vec<f32> {
    let grid: &Grid = &shape.grid;
    (0..x.len())
        .map(|f| {
            let rank = ranks[grid.region_of(f)] as usize;
            if k > 0 && rank < k * shape.per_step {
                if shape.image_fill {
                    fill[f]
                } else {
                    fill[rank / shape.per_step]
                }
            } else {
                x[f]
            }
        })
        .collect()
}

/// The scores f(x_k) for k = 0…K of one input and class, in f64.
pub fn sweep_scores(
    graph: &Graph,
    x: &[f32],
    ranks: &[u32],
    fill: &[f32],
    shape: &SweepShape,
    class: usize,
) -> Vec<f64> {
    let node = explained_node(graph);
    let mut in_shape = vec![1];
    in_shape.extend_from_slice(graph.input_shape());
    (0..shape.slots())
        .map(|k| {
            let xk = perturbed(x, ranks, fill, shape, k);
            let t = Tensor::new(in_shape.clone(), xk.iter().map(|&v| v as f64).collect())
                .expect("the input's shape");
            let y = &reference_forward(graph, &t)[node].data;
            if shape.probability {
                let m = y.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
                let z: f64 = y.iter().map(|v| (v - m).exp()).sum();
                (y[class] - m).exp() / z
            } else {
                y[class]
            }
        })
        .collect()
}
