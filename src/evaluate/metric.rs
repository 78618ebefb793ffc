//! The selectivity metrics (Quantus's definitions): which regions a sweep removes, in what
//! order and how many, and how its scores become a curve and a score per input.

use super::baseline::Baseline;
use super::ranking::{Order, Regions};
use crate::error::{Error, Result};

/// A selectivity metric.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Metric {
    /// Quantus's `PixelFlipping`: input values removed most relevant first,
    /// `features_in_step` per step until none is left; the curve is f(x_k), the score its
    /// area (trapezoids over k = 1…K, as Quantus's `return_auc_per_sample`).
    PixelFlipping {
        /// Values removed per step.
        features_in_step: usize,
    },
    /// Quantus's `RegionPerturbation` (Samek et al. 2017): `regions` patches of
    /// `patch`² pixels removed one per step in `order`; the curve is f(x) − f(x_k), the score
    /// per input its mean over k = 0…K, whose mean over inputs is the AOPC.
    RegionPerturbation {
        /// Side of a patch.
        patch: usize,
        /// Removal order.
        order: Order,
        /// Patches removed (K).
        regions: usize,
    },
    /// Quantus's `Selectivity` (Montavon et al. 2018): every patch removed, most relevant
    /// first; the curve is f(x_k), the score its area over k = 1…K.
    Selectivity {
        /// Side of a patch.
        patch: usize,
    },
}

/// Names of the metrics, as the command line takes them.
pub const METRIC_NAMES: &[&str] = &["pixel-flipping", "region-perturbation", "selectivity"];

/// What the curve holds per step.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CurveKind {
    /// The score at the perturbed input, f(x_k).
    Score,
    /// The drop from the input's score, f(x) − f(x_k).
    Drop,
}

impl Metric {
    /// The command-line name.
    pub fn name(&self) -> &'static str {
        match self {
            Metric::PixelFlipping { .. } => "pixel-flipping",
            Metric::RegionPerturbation { .. } => "region-perturbation",
            Metric::Selectivity { .. } => "selectivity",
        }
    }

    /// The regions it removes.
    pub fn regions(&self) -> Regions {
        match *self {
            Metric::PixelFlipping { .. } => Regions::Features,
            Metric::RegionPerturbation { patch, .. } | Metric::Selectivity { patch } => {
                Regions::Patches { size: patch }
            }
        }
    }

    /// The removal order.
    pub fn order(&self) -> Order {
        match *self {
            Metric::RegionPerturbation { order, .. } => order,
            _ => Order::Morf,
        }
    }

    /// Regions removed per step.
    pub fn per_step(&self) -> usize {
        match *self {
            Metric::PixelFlipping { features_in_step } => features_in_step,
            _ => 1,
        }
    }

    /// Steps K for inputs of `count` regions; fails when the metric asks for more regions
    /// than there are.
    pub fn steps(&self, count: usize) -> Result<usize> {
        match *self {
            Metric::PixelFlipping { features_in_step } => {
                if features_in_step == 0 {
                    return Err(Error::Invalid(
                        "features per step must be at least 1".into(),
                    ));
                }
                Ok(count.div_ceil(features_in_step))
            }
            Metric::RegionPerturbation { regions, patch, .. } => {
                if regions == 0 || regions > count {
                    return Err(Error::Invalid(format!(
                        "{regions} regions asked for, but {patch}×{patch} patches cut the input into {count}"
                    )));
                }
                Ok(regions)
            }
            Metric::Selectivity { .. } => Ok(count),
        }
    }

    /// What the curve holds.
    pub fn curve_kind(&self) -> CurveKind {
        match self {
            Metric::RegionPerturbation { .. } => CurveKind::Drop,
            _ => CurveKind::Score,
        }
    }

    /// The curve of one input from its scores at k = 0…K.
    pub fn curve(&self, scores: &[f32]) -> Vec<f32> {
        match self.curve_kind() {
            CurveKind::Score => scores.to_vec(),
            CurveKind::Drop => scores.iter().map(|&s| scores[0] - s).collect(),
        }
    }

    /// The score of one curve: the AOPC term (mean over k = 0…K) for region perturbation,
    /// the trapezoidal area over k = 1…K otherwise.
    pub fn score(&self, curve: &[f32]) -> f64 {
        match self.curve_kind() {
            CurveKind::Drop => curve.iter().map(|&v| v as f64).sum::<f64>() / curve.len() as f64,
            CurveKind::Score => curve[1..]
                .windows(2)
                .map(|w| 0.5 * (w[0] as f64 + w[1] as f64))
                .sum(),
        }
    }
}

/// A metric with its baseline and the score it follows.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct EvalOptions {
    /// The metric.
    pub metric: Metric,
    /// What removed regions become.
    pub baseline: Baseline,
    /// Follow the softmax probability (Quantus's `softmax=True`, the default) rather than
    /// the logit.
    pub probability: bool,
}

/// Mean and standard error of per-input scores.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Summary {
    /// Inputs.
    pub n: usize,
    /// The mean.
    pub mean: f64,
    /// The standard error of the mean (sample standard deviation / √n; 0 for one input).
    pub standard_error: f64,
}

impl Summary {
    /// The summary of `values`.
    pub fn of(values: &[f64]) -> Summary {
        let n = values.len();
        let mean = values.iter().sum::<f64>() / n.max(1) as f64;
        let se = if n > 1 {
            let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
            (var / n as f64).sqrt()
        } else {
            0.0
        };
        Summary {
            n,
            mean,
            standard_error: se,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn curves_and_scores_follow_quantus() {
        let m = Metric::RegionPerturbation {
            patch: 2,
            order: Order::Morf,
            regions: 3,
        };
        let c = m.curve(&[1.0, 0.5, 0.25, 0.0]);
        assert_eq!(c, vec![0.0, 0.5, 0.75, 1.0]);
        assert!((m.score(&c) - 0.5625).abs() < 1e-12);
        assert!(m.steps(4).is_ok() && m.steps(2).is_err());
        let pf = Metric::PixelFlipping {
            features_in_step: 3,
        };
        assert_eq!(pf.steps(10).unwrap(), 4);
        // Area over k = 1…K only: (0.5 + 0.25) / 2 + (0.25 + 0) / 2.
        assert!((pf.score(&[1.0, 0.5, 0.25, 0.0]) - 0.5).abs() < 1e-12);
        let s = Summary::of(&[1.0, 3.0]);
        assert_eq!((s.mean, s.standard_error), (2.0, 1.0));
    }
}
