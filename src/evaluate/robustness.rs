//! The robustness metrics (continuity in the paper's sense: similar inputs should get similar
//! explanations), as Quantus 0.6.0 and Captum 0.9.0 define them: perturb the input (seeded
//! noise, or a translation), re-explain it, and compare the two explanations.
//!
//! Every explanation is normalised per input (Quantus's `normalise_by_max` divides a whole
//! batch by one maximum, so its scores change with the batch; per input they do not).

use crate::error::{Error, Result};

/// Which way the continuity metric translates the input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Axis {
    /// Along the width (Quantus's default).
    X,
    /// Along the height.
    Y,
}

/// A robustness metric.
#[derive(Clone, Debug, PartialEq)]
pub enum Robustness {
    /// Quantus's `MaxSensitivity` (Yeh et al. 2019): max over `samples` draws of x′ = x + U(−r, r)
    /// of ‖a − a′‖₂ / ‖a‖₂.
    MaxSensitivity {
        /// Noisy copies per input (Quantus: 200).
        samples: usize,
        /// Bound r of the uniform noise (Quantus's `lower_bound`: 0.2).
        radius: f64,
    },
    /// Quantus's `AvgSensitivity`: the same ratio, averaged over the draws.
    AvgSensitivity {
        /// Noisy copies per input (Quantus: 200).
        samples: usize,
        /// Bound r of the uniform noise (Quantus: 0.2).
        radius: f64,
    },
    /// Captum's `sensitivity_max`: MaxSensitivity with Captum's defaults.
    SensitivityMax {
        /// Noisy copies per input (Captum: 10).
        samples: usize,
        /// Bound of the uniform noise (Captum's `perturb_radius`: 0.02).
        radius: f64,
    },
    /// Quantus's `LocalLipschitzEstimate` (Alvarez-Melis & Jaakkola 2018): max over draws of
    /// x′ = x + N(0, σ²) of ‖a − a′‖₂ / (‖x − x′‖₂ + 1e-10).
    LocalLipschitz {
        /// Noisy copies per input (Quantus: 200).
        samples: usize,
        /// σ of the Gaussian noise (Quantus: 0.1).
        std: f32,
    },
    /// Quantus's `Continuity`: the input translated by each shift (the gap filled with the
    /// input's minimum), max over shifts of ‖a − aₜ‖₁ / (‖x − xₜ‖₂ + 1e-9). The per-shift
    /// scores and the relevance in four quadrants beside f(xₜ) are the paper's experiment.
    Continuity {
        /// Shifts in pixels, in order.
        shifts: Vec<i64>,
        /// The axis translated along.
        axis: Axis,
    },
}

/// Names of the robustness metrics, as the command line takes them.
pub const ROBUSTNESS_NAMES: &[&str] = &[
    "max-sensitivity",
    "avg-sensitivity",
    "sensitivity-max",
    "local-lipschitz",
    "continuity",
];

/// A robustness metric with what is done to every explanation before comparing.
#[derive(Clone, Debug, PartialEq)]
pub struct RobustOptions {
    /// The metric.
    pub metric: Robustness,
    /// Divide each explanation by its largest |value| (an all-zero one is left as it is).
    pub normalise: bool,
    /// Compare |a| instead of a.
    pub abs: bool,
    /// Seed of the noise: input i, copy s always draw the same numbers.
    pub seed: u64,
}

impl RobustOptions {
    /// The metric named `name` with its peer's defaults (Quantus's, or Captum's for
    /// `sensitivity-max`): samples, bound or σ, normalisation and abs; `width` is the extent
    /// of the translated axis (Quantus's continuity schedule depends on it).
    pub fn defaults(name: &str, width: usize) -> Result<RobustOptions> {
        let (metric, normalise, abs) = match name {
            "max-sensitivity" => (
                Robustness::MaxSensitivity {
                    samples: 200,
                    radius: 0.2,
                },
                false,
                false,
            ),
            "avg-sensitivity" => (
                Robustness::AvgSensitivity {
                    samples: 200,
                    radius: 0.2,
                },
                false,
                false,
            ),
            "sensitivity-max" => (
                Robustness::SensitivityMax {
                    samples: 10,
                    radius: 0.02,
                },
                false,
                false,
            ),
            "local-lipschitz" => (
                Robustness::LocalLipschitz {
                    samples: 200,
                    std: 0.1,
                },
                true,
                false,
            ),
            "continuity" => (
                Robustness::Continuity {
                    shifts: quantus_shifts(width, 28)?,
                    axis: Axis::X,
                },
                true,
                true,
            ),
            other => {
                return Err(Error::Invalid(format!(
                    "{other} is not a robustness metric (one of {})",
                    ROBUSTNESS_NAMES.join(", ")
                )))
            }
        };
        Ok(RobustOptions {
            metric,
            normalise,
            abs,
            seed: 0,
        })
    }
}

/// Quantus's continuity schedule: `steps` shifts of dx = (2W + 1) / steps pixels starting
/// at −W + dx.
pub fn quantus_shifts(width: usize, steps: usize) -> Result<Vec<i64>> {
    let dx = (2 * width + 1) / steps.max(1);
    if steps == 0 || dx == 0 {
        return Err(Error::Invalid(format!(
            "continuity: {steps} steps over a width of {width} leave no shift between them"
        )));
    }
    let w = width as i64;
    Ok((1..=steps as i64).map(|k| -w + k * dx as i64).collect())
}

/// Parses shifts `FROM:TO[:STEP]` (inclusive) or a list `A,B,C`.
pub fn parse_shifts(s: &str) -> Result<Vec<i64>> {
    let bad = || Error::Invalid(format!("--shifts {s}: expected FROM:TO[:STEP] or A,B,…"));
    let ints = |sep: char| -> Result<Vec<i64>> {
        s.split(sep)
            .map(|v| v.trim().parse::<i64>().map_err(|_| bad()))
            .collect()
    };
    if s.contains(':') {
        let v = ints(':')?;
        let (from, to, step) = match v[..] {
            [a, b] => (a, b, 1),
            [a, b, c] => (a, b, c),
            _ => return Err(bad()),
        };
        if step <= 0 || to < from {
            return Err(bad());
        }
        Ok((from..=to).step_by(step as usize).collect())
    } else {
        ints(',')
    }
}

impl Robustness {
    /// The command-line name.
    pub fn name(&self) -> &'static str {
        match self {
            Robustness::MaxSensitivity { .. } => "max-sensitivity",
            Robustness::AvgSensitivity { .. } => "avg-sensitivity",
            Robustness::SensitivityMax { .. } => "sensitivity-max",
            Robustness::LocalLipschitz { .. } => "local-lipschitz",
            Robustness::Continuity { .. } => "continuity",
        }
    }

    /// Perturbed copies per input (noise draws or shifts).
    pub fn samples(&self) -> usize {
        match self {
            Robustness::MaxSensitivity { samples, .. }
            | Robustness::AvgSensitivity { samples, .. }
            | Robustness::SensitivityMax { samples, .. }
            | Robustness::LocalLipschitz { samples, .. } => *samples,
            Robustness::Continuity { shifts, .. } => shifts.len(),
        }
    }

    /// Checks the parameters against an input of shape `[C, H, W]` (or `[F]`).
    pub fn check(&self, input: &[usize]) -> Result<()> {
        if self.samples() == 0 {
            return Err(Error::Invalid(format!(
                "{}: at least one perturbed copy is needed",
                self.name()
            )));
        }
        match self {
            Robustness::MaxSensitivity { radius, .. }
            | Robustness::AvgSensitivity { radius, .. }
            | Robustness::SensitivityMax { radius, .. }
                if !(radius.is_finite() && *radius > 0.0) =>
            {
                Err(Error::Invalid(format!(
                    "{}: the noise bound must be positive, got {radius}",
                    self.name()
                )))
            }
            Robustness::LocalLipschitz { std, .. } if !(std.is_finite() && *std > 0.0) => Err(
                Error::Invalid(format!("local-lipschitz: σ must be positive, got {std}")),
            ),
            Robustness::Continuity { .. } if input.len() != 3 => Err(Error::Invalid(format!(
                "continuity translates images [C, H, W]; the model takes {input:?}"
            ))),
            _ => Ok(()),
        }
    }

    /// The score of the per-copy ratios: their mean for avg-sensitivity, else their maximum
    /// (NaN ratios, from an all-zero explanation, are skipped as Quantus's `nanmax` does; all
    /// NaN gives NaN).
    pub fn aggregate(&self, ratios: &[f64]) -> f64 {
        let finite: Vec<f64> = ratios.iter().copied().filter(|v| !v.is_nan()).collect();
        if finite.is_empty() {
            return f64::NAN;
        }
        match self {
            Robustness::AvgSensitivity { .. } => finite.iter().sum::<f64>() / finite.len() as f64,
            _ => finite.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        }
    }

    /// The ratio of one perturbed copy: explanations `a`, `b` (already normalised), inputs
    /// `x`, `y` (the perturbed one before rounding to f32).
    pub fn ratio(&self, a: &[f64], b: &[f64], x: &[f64], y: &[f64]) -> f64 {
        let l2 = |u: &[f64], v: &[f64]| -> f64 {
            u.iter()
                .zip(v)
                .map(|(p, q)| (p - q) * (p - q))
                .sum::<f64>()
                .sqrt()
        };
        match self {
            Robustness::MaxSensitivity { .. }
            | Robustness::AvgSensitivity { .. }
            | Robustness::SensitivityMax { .. } => {
                l2(a, b) / a.iter().map(|v| v * v).sum::<f64>().sqrt()
            }
            Robustness::LocalLipschitz { .. } => l2(a, b) / (l2(x, y) + 1e-10),
            Robustness::Continuity { .. } => {
                let l1: f64 = a.iter().zip(b).map(|(p, q)| (p - q).abs()).sum();
                l1 / (l2(x, y) + 1e-9)
            }
        }
    }
}

/// An explanation as the metric compares it: f64, divided by its largest |value| when
/// `normalise` (unless all zero), then |·| when `abs`.
pub fn prepare(map: &[f32], normalise: bool, abs: bool) -> Vec<f64> {
    let mut a: Vec<f64> = map.iter().map(|&v| v as f64).collect();
    if normalise {
        let m = a.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        if m > 0.0 {
            a.iter_mut().for_each(|v| *v /= m);
        }
    }
    if abs {
        a.iter_mut().for_each(|v| *v = v.abs());
    }
    a
}

/// `x` (`[C, H, W]`) translated by `shift` pixels along `axis`, the gap filled with `fill`:
/// xₜ[c, h, w] = x[c, h, w − t] where that exists (Quantus's `batched_translation`).
pub fn translate(x: &[f32], chw: [usize; 3], shift: i64, axis: Axis, fill: f32) -> Vec<f32> {
    let [c, h, w] = chw;
    let mut out = vec![fill; x.len()];
    for ci in 0..c {
        for hi in 0..h {
            for wi in 0..w {
                let (sh, sw) = match axis {
                    Axis::X => (hi as i64, wi as i64 - shift),
                    Axis::Y => (hi as i64 - shift, wi as i64),
                };
                if sh >= 0 && sw >= 0 && (sh as usize) < h && (sw as usize) < w {
                    out[(ci * h + hi) * w + wi] = x[(ci * h + sh as usize) * w + sw as usize];
                }
            }
        }
    }
    out
}

/// Relevance summed in the four quadrants of the image plane (over all channels of a map
/// `[C, H, W]`), in the order top-left, top-right, bottom-left, bottom-right; the split is at
/// H / 2 and W / 2 (rounded down).
pub fn quadrants(map: &[f32], chw: [usize; 3]) -> [f64; 4] {
    let [c, h, w] = chw;
    let mut q = [0.0; 4];
    for ci in 0..c {
        for hi in 0..h {
            for wi in 0..w {
                let k = 2 * usize::from(hi >= h / 2) + usize::from(wi >= w / 2);
                q[k] += map[(ci * h + hi) * w + wi] as f64;
            }
        }
    }
    q
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantus_schedule_on_28_pixels() {
        let s = quantus_shifts(28, 28).unwrap();
        assert_eq!(s.len(), 28);
        assert_eq!((s[0], s[1], s[27]), (-26, -24, 28));
        assert!(quantus_shifts(3, 28).is_err());
    }

    #[test]
    fn shifts_parse() {
        assert_eq!(parse_shifts("-2:2").unwrap(), vec![-2, -1, 0, 1, 2]);
        assert_eq!(parse_shifts("-4:4:4").unwrap(), vec![-4, 0, 4]);
        assert_eq!(parse_shifts("3,-1").unwrap(), vec![3, -1]);
        assert!(parse_shifts("4:-4").is_err());
        assert!(parse_shifts("1:2:0").is_err());
        assert!(parse_shifts("a").is_err());
    }

    #[test]
    fn translation_moves_and_fills() {
        let x = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
        assert_eq!(
            translate(&x, [1, 2, 3], 1, Axis::X, 0.0),
            [0.0, 1.0, 2.0, 0.0, 4.0, 5.0]
        );
        assert_eq!(
            translate(&x, [1, 2, 3], -2, Axis::X, 9.0),
            [3.0, 9.0, 9.0, 6.0, 9.0, 9.0]
        );
        assert_eq!(
            translate(&x, [1, 2, 3], 1, Axis::Y, 0.0),
            [0.0, 0.0, 0.0, 1.0, 2.0, 3.0]
        );
        assert_eq!(translate(&x, [1, 2, 3], 3, Axis::X, 7.0), [7.0; 6]);
    }

    #[test]
    fn quadrant_sums() {
        let m: Vec<f32> = (0..16).map(|v| v as f32).collect();
        assert_eq!(quadrants(&m, [1, 4, 4]), [10.0, 18.0, 42.0, 50.0]);
    }

    #[test]
    fn ratios_and_aggregates() {
        let m = Robustness::MaxSensitivity {
            samples: 2,
            radius: 0.1,
        };
        assert!((m.ratio(&[3.0, 4.0], &[3.0, 3.0], &[], &[]) - 0.2).abs() < 1e-15);
        assert_eq!(m.aggregate(&[0.1, f64::NAN, 0.3]), 0.3);
        let a = Robustness::AvgSensitivity {
            samples: 2,
            radius: 0.1,
        };
        assert!((a.aggregate(&[0.1, f64::NAN, 0.3]) - 0.2).abs() < 1e-15);
        assert!(a.aggregate(&[f64::NAN]).is_nan());
        assert_eq!(prepare(&[-2.0, 1.0], true, true), vec![1.0, 0.5]);
        assert_eq!(prepare(&[0.0, 0.0], true, false), vec![0.0, 0.0]);
    }
}
