//! What the metrics that build perturbed copies on the CPU share: the check of a batch of
//! inputs, the class score read from a row of outputs, and running copies through the forward
//! pass in groups of a few submissions without holding them all.

use crate::error::{Error, Result};
use crate::gpu::DeviceModel;
use crate::model::Tensor;
use crate::predict::Predictor;

/// Checks that `x` is a non-empty, finite batch of the model's inputs; returns N.
pub(crate) fn check_inputs(model: &DeviceModel, x: &Tensor) -> Result<usize> {
    let shape = model.graph().input_shape();
    let n = x.shape.first().copied().unwrap_or(0);
    if n == 0 || x.shape.len() != shape.len() + 1 || x.shape[1..] != shape[..] {
        return Err(Error::Shape(format!(
            "the model takes [N, {shape:?}], got inputs {:?}",
            x.shape
        )));
    }
    x.check_finite("the inputs")?;
    Ok(n)
}

/// The class's softmax probability (computed in f64) or its logit, from a row of logits.
pub(crate) fn class_score(row: &[f32], class: usize, probability: bool) -> f64 {
    if !probability {
        return row[class] as f64;
    }
    let m = row.iter().copied().fold(f32::NEG_INFINITY, f32::max) as f64;
    let z: f64 = row.iter().map(|&v| (v as f64 - m).exp()).sum();
    (row[class] as f64 - m).exp() / z
}

/// Items `start..end` of a batch tensor.
pub(crate) fn items(t: &Tensor, start: usize, end: usize) -> Result<Tensor> {
    let per = t.numel() / t.shape[0].max(1);
    let mut shape = t.shape.clone();
    shape[0] = end - start;
    Tensor::new(shape, t.data[start * per..end * per].to_vec())
}

/// Runs `count` copies of inputs shaped like `x` through `predictor`, four submissions' worth
/// at a time: `build(k, out)` appends copy k's values, `take(k, row)` gets its output row.
pub(crate) fn run_copies(
    predictor: &mut Predictor,
    x: &Tensor,
    count: usize,
    mut build: impl FnMut(usize, &mut Vec<f32>) -> Result<()>,
    mut take: impl FnMut(usize, &[f32]) -> Result<()>,
) -> Result<()> {
    let numel = x.numel() / x.shape[0].max(1);
    let group = (predictor.batch() * 4).max(1);
    for start in (0..count).step_by(group) {
        let end = (start + group).min(count);
        let mut data = Vec::with_capacity((end - start) * numel);
        for k in start..end {
            build(k, &mut data)?;
        }
        let mut shape = x.shape.clone();
        shape[0] = end - start;
        let y = predictor.run(&Tensor::new(shape, data)?)?;
        let f = y.numel() / (end - start);
        for (j, row) in y.data.chunks(f).enumerate() {
            take(start + j, row)?;
        }
    }
    Ok(())
}
