//! Evaluating explanations (Montavon, Samek & Müller 2018, §Quantifying explanation quality):
//! selectivity by removing what an explanation calls relevant — pixel flipping, region
//! perturbation (AOPC) and Montavon's selectivity, as Quantus defines them — on the GPU, where
//! every perturbed input is built from the input and its ranking and run through the forward
//! pass in batches; only the curves come back.
//!
//! Conventions (shared with Quantus unless stated): maps are broadcast over channels; regions
//! are removed in order of their map sum, equal sums in index order (Quantus's unstable
//! `argsort` leaves exact ties unspecified); the evaluated class is the prediction unless
//! labels are given; the score followed is the softmax probability (Quantus's `softmax=True`)
//! or, on request, the logit. Curves start with the unperturbed input (Quantus's omit it).

mod baseline;
mod evaluator;
mod metric;
pub mod ranking;
pub mod reference;
mod sweep;

pub use baseline::{fill, Baseline};
pub use evaluator::{Evaluation, Evaluator};
pub use metric::{CurveKind, EvalOptions, Metric, Summary, METRIC_NAMES};
pub use ranking::{random_maps, Grid, Order, Regions};
pub use sweep::{PerturbParams, ScoreParams, Sweep, SweepShape, PERTURB, SCORE};
