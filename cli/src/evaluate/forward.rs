//! The metrics of `glimpse evaluate` that need maps and forward passes only, beside the
//! selectivity curves: Captum's infidelity, Quantus's faithfulness- and
//! monotonicity-correlation, and ROAD — what each is called, its options, its arrays.

use glimpse::error::{Error, Result};
use glimpse::evaluate::{Baseline, Correlation, CorrelationOptions, Infidelity, Order, Road};
use glimpse::{DeviceModel, Predictor, Tensor};

use super::EvaluateArgs;
use crate::options::floats;

/// Names of the forward-only metrics.
pub const NAMES: &[&str] = &[
    "infidelity",
    "faithfulness-correlation",
    "monotonicity-correlation",
    "road",
];

/// A forward-only metric with its options.
pub enum Forward {
    Infidelity(Infidelity),
    Correlation(CorrelationOptions),
    Road(Road),
}

/// What one chunk of inputs gave: scores and the arrays written per source.
pub struct Chunk {
    pub scores: Vec<f64>,
    /// (kind, values per input, values) for every array of the metric.
    pub arrays: Vec<(&'static str, Vec<f32>)>,
}

impl Forward {
    /// The metric the arguments describe.
    pub fn from_args(args: &EvaluateArgs) -> Result<Forward> {
        Ok(match args.metric.as_str() {
            "infidelity" => Forward::Infidelity(Infidelity {
                samples: args.nr_samples.unwrap_or(10),
                std: args.noise_std.unwrap_or(0.1),
                normalize: args.normalize,
                seed: args.seed,
            }),
            "road" => {
                let percentages = match &args.percentages {
                    Some(p) => percentages(p)?,
                    None => Road::default().percentages,
                };
                let order = match args.order.as_str() {
                    "morf" => Order::Morf,
                    "lerf" => Order::Lerf,
                    other => {
                        return Err(Error::Invalid(format!(
                            "road: --order {other}: use morf or lerf"
                        )))
                    }
                };
                Forward::Road(Road {
                    percentages,
                    noise: args.noise_std.unwrap_or(0.01),
                    order,
                    seed: args.seed,
                })
            }
            name => {
                let mut o = CorrelationOptions::defaults(name)?;
                match &mut o.metric {
                    Correlation::Faithfulness { runs, subset } => {
                        *runs = args.nr_runs.unwrap_or(*runs);
                        *subset = args.subset_size.unwrap_or(*subset);
                    }
                    Correlation::Monotonicity {
                        samples,
                        features_in_step,
                        ..
                    } => {
                        *samples = args.nr_samples.unwrap_or(*samples);
                        *features_in_step = args.features_in_step;
                    }
                }
                if let Some(b) = &args.baseline {
                    o.baseline = super::baseline(args, b)?;
                }
                if let Baseline::Uniform { .. } = o.baseline {
                    if args.baseline.is_none() {
                        o.baseline = super::baseline(args, "uniform")?;
                    }
                }
                o.abs = args.abs.unwrap_or(o.abs);
                o.probability = o.probability && !args.logits;
                o.seed = args.seed;
                Forward::Correlation(o)
            }
        })
    }

    /// Values per input of each array, for inputs of `numel` values.
    pub fn widths(&self, numel: usize) -> Vec<(&'static str, usize)> {
        match self {
            Forward::Infidelity(i) => vec![("explained", i.samples), ("changes", i.samples)],
            Forward::Correlation(o) => vec![("pairs", 2 * o.pairs(numel))],
            Forward::Road(r) => vec![
                ("curves", r.percentages.len()),
                ("probabilities", r.percentages.len()),
            ],
        }
    }

    /// The shape of array `kind` for `n` inputs.
    pub fn shape(&self, kind: &str, n: usize, numel: usize) -> Vec<usize> {
        match (self, kind) {
            (Forward::Correlation(o), _) => vec![n, o.pairs(numel), 2],
            _ => {
                let w = self
                    .widths(numel)
                    .iter()
                    .find(|(k, _)| *k == kind)
                    .map_or(0, |p| p.1);
                vec![n, w]
            }
        }
    }

    /// Scores and arrays of one chunk.
    #[allow(clippy::too_many_arguments)]
    pub fn evaluate(
        &self,
        model: &DeviceModel,
        predictor: &mut Predictor,
        x: &Tensor,
        maps: &Tensor,
        classes: &[usize],
        first: usize,
    ) -> Result<Chunk> {
        Ok(match self {
            Forward::Infidelity(i) => {
                let e = i.evaluate(model, predictor, x, maps, classes, first)?;
                Chunk {
                    scores: e.scores,
                    arrays: vec![("explained", e.explained.data), ("changes", e.changes.data)],
                }
            }
            Forward::Correlation(o) => {
                let e = o.evaluate(model, predictor, x, maps, classes, first)?;
                Chunk {
                    scores: e.scores,
                    arrays: vec![("pairs", e.pairs.data)],
                }
            }
            Forward::Road(r) => {
                let e = r.evaluate(model, predictor, x, maps, classes, first)?;
                Chunk {
                    scores: e.scores,
                    arrays: vec![
                        ("curves", e.curves.data),
                        ("probabilities", e.probabilities.data),
                    ],
                }
            }
        })
    }

    /// The options as JSON.
    pub fn json(&self) -> serde_json::Value {
        match self {
            Forward::Infidelity(i) => serde_json::json!({
                "samples": i.samples, "std": i.std, "normalize": i.normalize, "seed": i.seed,
                "perturbation": "x - I, I ~ N(0, std^2) per input value"}),
            Forward::Correlation(o) => {
                let mut j = serde_json::json!({"baseline": o.baseline.name(), "abs": o.abs,
                    "score": if o.probability { "probability" } else { "logit" }, "seed": o.seed});
                match o.metric {
                    Correlation::Faithfulness { runs, subset } => {
                        j["nr_runs"] = runs.into();
                        j["subset_size"] = subset.into();
                    }
                    Correlation::Monotonicity {
                        samples,
                        features_in_step,
                        eps,
                    } => {
                        j["nr_samples"] = samples.into();
                        j["features_in_step"] = features_in_step.into();
                        j["eps"] = eps.into();
                    }
                }
                j
            }
            Forward::Road(r) => serde_json::json!({"percentages": r.percentages, "noise": r.noise,
                "order": r.order.name(), "seed": r.seed,
                "pixels": "ranked by the map summed over channels; p % of H*W imputed"}),
        }
    }

    /// What the per-input score is.
    pub fn score_text(&self) -> &'static str {
        match self {
            Forward::Infidelity(_) => "mean over copies of (I.a - (f(x) - f(x - I)))^2 (Captum)",
            Forward::Correlation(o) => match o.metric {
                Correlation::Faithfulness { .. } => {
                    "Pearson of (sum of a over a random subset, f(x) - f(x with it replaced))"
                }
                Correlation::Monotonicity { .. } => {
                    "Spearman of (sum of a over a step, var of f when it is replaced / f(x)^2)"
                }
            },
            Forward::Road(_) => "fraction of percentages at which the class is still predicted",
        }
    }
}

/// Percentages `FROM:TO[:STEP]` (inclusive) or a list `A,B,C`.
fn percentages(s: &str) -> Result<Vec<f64>> {
    let bad = || {
        Error::Invalid(format!(
            "--percentages {s}: expected FROM:TO[:STEP] or A,B,…"
        ))
    };
    if s.contains(':') {
        let v: Vec<f64> = s
            .split(':')
            .map(|t| t.trim().parse::<f64>().map_err(|_| bad()))
            .collect::<Result<_>>()?;
        let (from, to, step) = match v[..] {
            [a, b] => (a, b, 1.0),
            [a, b, c] => (a, b, c),
            _ => return Err(bad()),
        };
        if step.is_nan() || step <= 0.0 || to < from {
            return Err(bad());
        }
        let count = ((to - from) / step + 1e-9).floor() as usize + 1;
        Ok((0..count).map(|k| from + k as f64 * step).collect())
    } else {
        floats(s, "percentages").map(|v| v.into_iter().map(f64::from).collect())
    }
}
