//! The gradient family: saliency, sensitivity, gradient × input, deconvnet, guided backprop,
//! simple Taylor, DeepLIFT (rescale), integrated gradients and SmoothGrad / VarGrad.
//!
//! Every method runs the engine's one program (`explain/engine.rs`): the forward pass of a batch
//! of sample points and the backward recorder under the gradient policy of its mode
//! (`backward::gradient_rules`), then one kernel combining each input's samples into its map.
//! Only the maps and the outputs are read back.

mod baseline;
mod basic;
mod deeplift;
mod integrated;
mod noise;
mod scorer;
mod smooth;
mod taylor;

pub use baseline::Baseline;
pub use basic::{GradientMap, GradientPlan};
pub use deeplift::DeepLiftPlan;
pub use integrated::{riemann_alphas, IntegratedGradients, Riemann};
pub use noise::{gaussian_noise, subset, uniform_noise, uniform_value, BASELINES, SUBSETS};
pub use smooth::{SmoothGrad, SmoothKind, SmoothOptions};
pub use taylor::{RootPoint, TaylorPlan};

pub(crate) use basic::AtInput;
pub(crate) use scorer::Scorer;

use super::backward::{gradient_rules, Seed};
use super::engine::{Combine, EngineSpec};
use crate::layers::GradMode;
use crate::model::Graph;

/// The engine's spec for a gradient method: its mode's rules, `samples` per input, combined.
pub(crate) fn gradient_spec(
    graph: &Graph,
    mode: GradMode,
    samples: usize,
    combine: Combine,
    batch: usize,
) -> EngineSpec {
    EngineSpec {
        rules: gradient_rules(graph, mode),
        seed: Seed::Gradient,
        reference: mode == GradMode::Rescale,
        samples,
        combine: Some(combine),
        stop: 0,
        read_stop_value: false,
        sums: false,
        batch,
        filter: Default::default(),
    }
}
