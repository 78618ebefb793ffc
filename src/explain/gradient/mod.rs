//! The gradient family on the GPU: saliency, sensitivity, gradient × input, deconvnet, guided
//! backprop, simple Taylor, DeepLIFT (rescale), integrated gradients and SmoothGrad / VarGrad.
//!
//! Every method is one plan (`engine.rs`): the forward pass of a batch of sample points, a
//! backward pass through the layers' adjoint kernels (the ones LRP uses) in which the method
//! only chooses how ReLUs and max pools treat what flows back ([`Backward`]), and one kernel that
//! combines each input's samples into its map. Only the maps and the outputs are read back.

mod baseline;
mod basic;
mod deeplift;
pub(crate) mod engine;
mod integrated;
mod noise;
mod record;
mod scorer;
mod smooth;
mod taylor;

pub use baseline::Baseline;
pub use basic::{GradientMap, GradientPlan};
pub use deeplift::DeepLiftPlan;
pub use integrated::{riemann_alphas, IntegratedGradients, Riemann};
pub use noise::gaussian_noise;
pub use record::Backward;
pub use smooth::{SmoothGrad, SmoothKind, SmoothOptions};
pub use taylor::{RootPoint, TaylorPlan};

pub(crate) use basic::AtInput;
pub(crate) use scorer::Scorer;

use crate::error::{Error, Result};
use crate::explain::Target;
use crate::model::Tensor;

/// The result of explaining a batch with a gradient method.
#[derive(Clone, Debug)]
pub struct Attribution {
    /// The attribution map, `[N, ...input shape]`.
    pub map: Tensor,
    /// The explained outputs f(x) (logits when the model ends in a softmax), `[N, F]`.
    pub outputs: Tensor,
    /// The class each item was explained for (argmax of the weighting).
    pub classes: Vec<usize>,
    /// The explained score `w · f(x)` per item.
    pub scores: Vec<f64>,
    /// The score at the reference point per item: f(x′) at the baseline (IG, DeepLIFT), or
    /// f(x̃) at Taylor's root point.
    pub reference_scores: Option<Vec<f64>>,
    /// What the map leaves unexplained per item: `f(x) − f(x′) − ΣR` for IG and DeepLIFT
    /// (completeness), `f(x) − ΣR` for Taylor.
    pub residuals: Option<Vec<f64>>,
}

impl Attribution {
    /// Sum of the map per item.
    pub fn sums(&self) -> Vec<f64> {
        let n = self.map.shape[0];
        let item = self.map.numel() / n.max(1);
        self.map
            .data
            .chunks(item.max(1))
            .map(|c| c.iter().map(|&v| v as f64).sum())
            .collect()
    }

    /// Builds the result from the map and the outputs at x, resolving each item's class.
    pub(crate) fn new(map: Tensor, outputs: Tensor, targets: &[Target]) -> Result<Self> {
        let f = outputs.shape[1];
        let mut classes = Vec::with_capacity(outputs.shape[0]);
        let mut scores = Vec::with_capacity(outputs.shape[0]);
        for (i, row) in outputs.data.chunks(f).enumerate() {
            let w = target_of(targets, i).weights_for(row)?;
            classes.push(crate::explain::argmax(&w));
            scores.push(dot(&w, row));
        }
        Ok(Attribution {
            map,
            outputs,
            classes,
            scores,
            reference_scores: None,
            residuals: None,
        })
    }

    /// Sets the reference scores from the outputs at the references, and the residuals
    /// `score − reference − ΣR` (`with_reference`) or `score − ΣR`.
    pub(crate) fn with_reference(
        mut self,
        reference_outputs: &[f32],
        targets: &[Target],
        subtract: bool,
    ) -> Result<Self> {
        let f = self.outputs.shape[1];
        let mut refs = Vec::with_capacity(self.scores.len());
        for i in 0..self.scores.len() {
            let w = target_of(targets, i).weights_for(&self.outputs.data[i * f..(i + 1) * f])?;
            refs.push(dot(&w, &reference_outputs[i * f..(i + 1) * f]));
        }
        let sums = self.sums();
        self.residuals = Some(
            (0..refs.len())
                .map(|i| self.scores[i] - if subtract { refs[i] } else { 0.0 } - sums[i])
                .collect(),
        );
        self.reference_scores = Some(refs);
        Ok(self)
    }
}

fn dot(w: &[f32], v: &[f32]) -> f64 {
    w.iter().zip(v).map(|(a, b)| *a as f64 * *b as f64).sum()
}

/// The target of item `i` (one for all, or one per item).
pub(crate) fn target_of(targets: &[Target], i: usize) -> &Target {
    &targets[if targets.len() == 1 { 0 } else { i }]
}

/// Checks a batch `[N, ...input]` (N ≥ 1, finite) and its targets (one, or one per item).
pub(crate) fn check_batch(x: &Tensor, in_shape: &[usize], targets: &[Target]) -> Result<usize> {
    if x.shape.len() != in_shape.len() + 1 || x.shape[1..] != in_shape[..] || x.shape[0] == 0 {
        return Err(Error::Shape(format!(
            "the model takes [N, {in_shape:?}], got {:?}",
            x.shape
        )));
    }
    x.check_finite("the input batch")?;
    let n = x.shape[0];
    if targets.len() != 1 && targets.len() != n {
        return Err(Error::Invalid(format!(
            "{} targets for {n} inputs: give one, or one per input",
            targets.len()
        )));
    }
    Ok(n)
}

/// The shape `[n, ...item]`.
pub(crate) fn batch_shape(n: usize, item: &[usize]) -> Vec<usize> {
    std::iter::once(n).chain(item.iter().cloned()).collect()
}
