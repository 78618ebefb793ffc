//! Evaluating explanations (Montavon, Samek & Müller 2018, §Quantifying explanation quality):
//! selectivity by removing what an explanation calls relevant — pixel flipping, region
//! perturbation (AOPC) and Montavon's selectivity, as Quantus defines them — on the GPU, where
//! every perturbed input is built from the input and its ranking and run through the forward
//! pass in batches; only the curves come back.
//!
//! Robustness (the paper's continuity): max- and avg-sensitivity, local Lipschitz, Quantus's
//! continuity with the paper's translation experiment, Captum's sensitivity-max — perturbed
//! copies re-explained on the GPU in batches — and Captum's infidelity (forward passes only).
//!
//! Faithfulness beyond the curves: Quantus's FaithfulnessCorrelation, MonotonicityCorrelation and
//! ROAD (its noisy linear imputation solved by a sparse Cholesky factorisation), forward passes
//! only.
//!
//! Conventions (shared with Quantus unless stated): maps are broadcast over channels; regions
//! are removed in order of their map sum, equal sums in index order (Quantus's unstable
//! `argsort` leaves exact ties unspecified); the evaluated class is the prediction unless
//! labels are given; the score followed is the softmax probability (Quantus's `softmax=True`)
//! or, on request, the logit. Curves start with the unperturbed input (Quantus's omit it).

mod baseline;
pub(crate) mod copies;
mod correlation;
mod evaluator;
mod imputation;
mod infidelity;
mod metric;
pub mod ranking;
mod recompute;
mod reexplain;
pub mod reference;
mod road;
pub mod robustness;
mod sweep;

pub use baseline::{fill, Baseline};
pub use correlation::{pearson, ranks, Correlation, CorrelationEvaluation, CorrelationOptions};
pub use evaluator::{Evaluation, Evaluator};
pub use imputation::impute;
pub use infidelity::{Infidelity, InfidelityEvaluation};
pub use metric::{CurveKind, EvalOptions, Metric, Summary, METRIC_NAMES};
pub use ranking::{random_maps, Grid, Order, Regions};
pub use recompute::Recompute;
pub use reexplain::{RobustEvaluation, RobustEvaluator};
pub use road::{Road, RoadEvaluation};
pub use robustness::{Axis, RobustOptions, Robustness, ROBUSTNESS_NAMES};
pub use sweep::{PerturbParams, ScoreParams, Sweep, SweepShape, PERTURB, SCORE};
