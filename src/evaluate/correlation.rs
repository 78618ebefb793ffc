//! Quantus's correlation metrics of faithfulness, forward passes only: FaithfulnessCorrelation
//! (Bhatt et al. 2020: random subsets set to a baseline; Pearson between the subset's
//! attribution and the score's drop) and MonotonicityCorrelation (Nguyen & Martínez 2020: features
//! replaced in order of increasing attribution; Spearman between their attribution and the
//! variance of the score they cause). Every perturbed input is built on the CPU from seeded
//! draws and run through the forward pass in batches.

use super::baseline::Baseline;
use super::copies::{check_inputs, class_score, run_copies};
use crate::error::{Error, Result};
use crate::explain::gradient::{subset, uniform_value, BASELINES, SUBSETS};
use crate::gpu::DeviceModel;
use crate::model::Tensor;
use crate::predict::Predictor;

/// A correlation metric.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Correlation {
    /// FaithfulnessCorrelation: `runs` random subsets of `subset` values (Quantus: 100, 224).
    Faithfulness {
        /// Subsets drawn per input.
        runs: usize,
        /// Values per subset.
        subset: usize,
    },
    /// MonotonicityCorrelation: `features_in_step` values per step in increasing order of
    /// attribution, each step replaced `samples` times (Quantus: 100 samples, 1 feature).
    Monotonicity {
        /// Draws per step.
        samples: usize,
        /// Values per step.
        features_in_step: usize,
        /// Below |f(x)| = eps, the variance is not divided by f(x)² (Quantus: 1e-5).
        eps: f64,
    },
}

/// A correlation metric with its baseline, the score followed and the preprocessing.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CorrelationOptions {
    /// The metric.
    pub metric: Correlation,
    /// What replaced values become (Quantus: black for faithfulness, uniform for
    /// monotonicity); a uniform baseline draws one value per input and perturbation.
    pub baseline: Baseline,
    /// Compare |a| (Quantus: false for faithfulness, true for monotonicity).
    pub abs: bool,
    /// Follow the softmax probability (Quantus: logit for faithfulness, probability for
    /// monotonicity).
    pub probability: bool,
    /// Seed of the subsets and of uniform baselines.
    pub seed: u64,
}

impl CorrelationOptions {
    /// The metric named `name` with Quantus's defaults.
    pub fn defaults(name: &str) -> Result<CorrelationOptions> {
        let uniform = Baseline::Uniform {
            low: 0.0,
            high: 1.0,
            seed: 0,
        };
        Ok(match name {
            "faithfulness-correlation" => CorrelationOptions {
                metric: Correlation::Faithfulness {
                    runs: 100,
                    subset: 224,
                },
                baseline: Baseline::Black,
                abs: false,
                probability: false,
                seed: 0,
            },
            "monotonicity-correlation" => CorrelationOptions {
                metric: Correlation::Monotonicity {
                    samples: 100,
                    features_in_step: 1,
                    eps: 1e-5,
                },
                baseline: uniform,
                abs: true,
                probability: true,
                seed: 0,
            },
            other => {
                return Err(Error::Invalid(format!(
                    "{other} is not faithfulness-correlation or monotonicity-correlation"
                )))
            }
        })
    }
}

/// Correlations of a batch.
#[derive(Clone, Debug)]
pub struct CorrelationEvaluation {
    /// One correlation per input (NaN when either side is constant).
    pub scores: Vec<f64>,
    /// The pairs correlated, per input: (attribution, score drop) per subset or (attribution,
    /// variance) per step, `[N, M, 2]`.
    pub pairs: Tensor,
}

impl CorrelationOptions {
    /// Pairs per input for inputs of `numel` values.
    pub fn pairs(&self, numel: usize) -> usize {
        match self.metric {
            Correlation::Faithfulness { runs, .. } => runs,
            Correlation::Monotonicity {
                features_in_step, ..
            } => numel.div_ceil(features_in_step.max(1)),
        }
    }

    fn check(&self, numel: usize) -> Result<()> {
        let bad = match self.metric {
            Correlation::Faithfulness { runs, subset } => {
                (runs < 2 || subset == 0 || subset > numel).then(|| {
                    format!("faithfulness-correlation needs ≥ 2 runs of 1…{numel} values, got {runs} of {subset}")
                })
            }
            Correlation::Monotonicity {
                samples,
                features_in_step,
                ..
            } => (samples == 0 || features_in_step == 0 || features_in_step > numel / 2).then(|| {
                format!(
                    "monotonicity-correlation needs ≥ 1 sample and ≥ 2 steps, got {samples} samples of {features_in_step} values of {numel}"
                )
            }),
        };
        match (bad, self.baseline) {
            (Some(m), _) => Err(Error::Invalid(m)),
            (None, Baseline::Blur { .. }) => Err(Error::Invalid(
                "the correlation metrics take black, white, mean, uniform or a number".into(),
            )),
            _ => Ok(()),
        }
    }

    /// The replacement value of one perturbation (`draw` keys a uniform baseline).
    fn value(&self, x: &[f32], input: usize, draw: usize) -> f32 {
        match self.baseline {
            Baseline::Black => x.iter().copied().fold(f32::INFINITY, f32::min),
            Baseline::White => x.iter().copied().fold(f32::NEG_INFINITY, f32::max),
            Baseline::Mean => (x.iter().map(|&v| v as f64).sum::<f64>() / x.len() as f64) as f32,
            Baseline::Value(v) => v,
            Baseline::Uniform { low, high, .. } => {
                uniform_value(self.seed, BASELINES, input, draw, low as f64, high as f64) as f32
            }
            Baseline::Blur { .. } => unreachable!("refused by check"),
        }
    }

    /// Correlations of `x` (`[N, …input]`) explained by `maps` (`[N, …input]` or
    /// `[N, 1, H, W]`, broadcast over channels) for `classes`, the logits read by `predictor`;
    /// `first` is x's first input's index in the run (it keys the draws).
    pub fn evaluate(
        &self,
        model: &DeviceModel,
        predictor: &mut Predictor,
        x: &Tensor,
        maps: &Tensor,
        classes: &[usize],
        first: usize,
    ) -> Result<CorrelationEvaluation> {
        let shape = model.graph().input_shape();
        let n = check_inputs(model, x)?;
        let numel = x.numel() / n;
        self.check(numel)?;
        if classes.len() != n {
            return Err(Error::Shape(format!(
                "{} classes for {n} inputs",
                classes.len()
            )));
        }
        maps.check_finite("the maps")?;
        let grid = super::ranking::Grid::new(shape, super::ranking::Regions::Features)?;
        let per_map = maps.numel() / n;
        let m = self.pairs(numel);
        let base = predictor.run(x)?;
        let f = base.numel() / n;
        if let Some(&c) = classes.iter().find(|&&c| c >= f) {
            return Err(Error::Invalid(format!(
                "class {c} does not exist: the model has {f} outputs"
            )));
        }
        let mut pairs = Tensor::zeros(vec![n, m, 2]);
        let mut scores = Vec::with_capacity(n);
        for (i, &c) in classes.iter().enumerate() {
            let xi = &x.data[i * numel..(i + 1) * numel];
            let mut a =
                super::ranking::broadcast(&maps.data[i * per_map..(i + 1) * per_map], &grid)
                    .map_err(|_| {
                        Error::Shape(format!(
                            "maps of shape {:?} fit neither the inputs {:?} nor [N, 1, H, W]",
                            maps.shape, x.shape
                        ))
                    })?;
            if self.abs {
                a.iter_mut().for_each(|v| *v = v.abs());
            }
            let y0 = class_score(&base.data[i * f..(i + 1) * f], c, self.probability);
            // Each perturbation: the values it replaces, and the draw keying its baseline.
            let (sets, draws_per_set): (Vec<Vec<usize>>, usize) = match self.metric {
                Correlation::Faithfulness { runs, subset: k } => (
                    (0..runs)
                        .map(|r| subset(self.seed, SUBSETS, first + i, r, numel, k))
                        .collect(),
                    1,
                ),
                Correlation::Monotonicity {
                    samples,
                    features_in_step,
                    ..
                } => {
                    let mut order: Vec<usize> = (0..numel).collect();
                    order.sort_by(|&p, &q| a[p].total_cmp(&a[q]));
                    (
                        order
                            .chunks(features_in_step)
                            .map(<[usize]>::to_vec)
                            .collect(),
                        samples,
                    )
                }
            };
            // Copy k is draw k % D of set k / D.
            let mut values = vec![0.0f64; sets.len() * draws_per_set];
            run_copies(
                predictor,
                x,
                values.len(),
                |k, out| {
                    let (j, s) = (k / draws_per_set, k % draws_per_set);
                    let v = self.value(xi, first + i, j * draws_per_set + s);
                    let start = out.len();
                    out.extend_from_slice(xi);
                    for &q in &sets[j] {
                        out[start + q] = v;
                    }
                    Ok(())
                },
                |k, row| {
                    values[k] = class_score(row, c, self.probability);
                    Ok(())
                },
            )?;
            let (att, other): (Vec<f64>, Vec<f64>) = match self.metric {
                Correlation::Faithfulness { .. } => sets
                    .iter()
                    .zip(&values)
                    .map(|(set, &y)| (set.iter().map(|&q| a[q] as f64).sum::<f64>(), y0 - y))
                    .unzip(),
                Correlation::Monotonicity { samples, eps, .. } => {
                    let inv = if y0.abs() >= eps {
                        1.0 / (y0 * y0)
                    } else {
                        1.0
                    };
                    sets.iter()
                        .zip(values.chunks(samples))
                        .map(|(set, ys)| {
                            let var =
                                ys.iter().map(|y| (y - y0).powi(2)).sum::<f64>() / samples as f64;
                            (set.iter().map(|&q| a[q] as f64).sum::<f64>(), var * inv)
                        })
                        .unzip()
                }
            };
            for (j, (p, q)) in att.iter().zip(&other).enumerate() {
                pairs.data[(i * m + j) * 2] = *p as f32;
                pairs.data[(i * m + j) * 2 + 1] = *q as f32;
            }
            scores.push(match self.metric {
                Correlation::Faithfulness { .. } => pearson(&att, &other),
                Correlation::Monotonicity { .. } => pearson(&ranks(&att), &ranks(&other)),
            });
        }
        Ok(CorrelationEvaluation { scores, pairs })
    }
}

/// Pearson's correlation; NaN when either side is constant (as scipy's).
pub fn pearson(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len() as f64;
    let (ma, mb) = (a.iter().sum::<f64>() / n, b.iter().sum::<f64>() / n);
    let (mut sab, mut saa, mut sbb) = (0.0, 0.0, 0.0);
    for (p, q) in a.iter().zip(b) {
        let (u, v) = (p - ma, q - mb);
        sab += u * v;
        saa += u * u;
        sbb += v * v;
    }
    if saa == 0.0 || sbb == 0.0 {
        return f64::NAN;
    }
    sab / (saa.sqrt() * sbb.sqrt())
}

/// Ranks 1…n with ties given their average rank (Spearman's, as scipy's `rankdata`).
pub fn ranks(v: &[f64]) -> Vec<f64> {
    let mut idx: Vec<usize> = (0..v.len()).collect();
    idx.sort_by(|&p, &q| v[p].total_cmp(&v[q]));
    let mut out = vec![0.0; v.len()];
    let mut start = 0;
    while start < idx.len() {
        let mut end = start + 1;
        while end < idx.len() && v[idx[end]] == v[idx[start]] {
            end += 1;
        }
        let rank = (start + end + 1) as f64 / 2.0;
        for &k in &idx[start..end] {
            out[k] = rank;
        }
        start = end;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pearson_and_average_ranks_follow_scipy() {
        assert!(
            (pearson(&[1.0, 2.0, 3.0], &[2.0, 4.0, 7.0]) - 0.993_399_267_798_783).abs() < 1e-12
        );
        assert!(pearson(&[1.0, 1.0], &[1.0, 2.0]).is_nan());
        assert_eq!(ranks(&[3.0, 1.0, 3.0, 2.0]), vec![3.5, 1.0, 3.5, 2.0]);
    }

    #[test]
    fn subsets_are_distinct_and_seeded() {
        let s = subset(7, SUBSETS, 3, 1, 50, 20);
        let mut sorted = s.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted.len(), 20);
        assert_eq!(s, subset(7, SUBSETS, 3, 1, 50, 20));
        assert_ne!(s, subset(7, SUBSETS, 3, 2, 50, 20));
    }
}
