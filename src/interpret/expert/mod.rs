//! Experts: densities `p(x)` over flattened inputs `x ∈ R^D`, fitted to data, whose log-density
//! gradient activation maximisation adds to its objective so that prototypes look like data
//! (Montavon, Samek & Müller 2017, "Methods for interpreting and understanding deep neural
//! networks", §3: maximise `log p(ω_c|x) + λ·log p(x)`).
//!
//! Three kinds, one [`Expert`] enum:
//! - a Gaussian with full or diagonal covariance ([`Expert::Gaussian`], a [`Mixture`] of one
//!   component), fitted in closed form;
//! - a Gaussian mixture of `K` components, full or diagonal ([`Expert::Mixture`]), fitted by EM
//!   from a k-means++ initialisation with a seeded generator;
//! - a Gaussian–Bernoulli RBM with `H` hidden units and fixed or learned per-pixel `σ`
//!   ([`Expert::Grbm`]), fitted by contrastive divergence CD-k. Its `log p(x) = −F(x) − log Z`
//!   with the free energy `F(x) = Σ_i (x_i−b_i)²/(2σ_i²) − Σ_j softplus(c_j + Σ_i W_ij x_i/σ_i)`;
//!   `log Z` is enumerated exactly for `H ≤ 20` and estimated by annealed importance sampling
//!   above, once, when fitting (it does not change the gradient).
//!
//! Every covariance is regularised by adding `reg·I` (for the GRBM, `σ_i² ≥ var_i + reg` at
//! initialisation). The CPU evaluates [`Expert::log_density`] and [`Expert::grad_log_density`] in
//! f64 (the reference of the GPU kernels); [`Expert::record_grad_log_density`] and
//! [`Expert::record_log_density`] record the same on a [`Program`](crate::plan::Program).
//!
//! # The `.expert` file format (version 1)
//! ```text
//! bytes 0..8    magic "GLEXPERT"
//! bytes 8..12   n, the header's length in bytes, u32 little-endian
//! bytes 12..12+n  a UTF-8 JSON object, the header
//! then          the arrays the header lists, in its order, as little-endian f32, row-major,
//!               with nothing between them and nothing after the last
//! ```
//! The header: `{"format": "glimpse-expert", "version": 1, "kind": "gaussian" | "gmm" | "grbm",
//! "dim": D, "arrays": [{"name": …, "shape": […]}, …]}` and per kind:
//! - `gaussian`, `gmm`: `"covariance": "full" | "diagonal"`, `"components": K` (1 for a
//!   Gaussian); arrays `log_weights [K]`, `means [K, D]`, `precisions [K, D, D]` (full: `Σ_k⁻¹`)
//!   or `[K, D]` (diagonal: `1/σ²`), `log_det_precisions [K]` (`log |Σ_k⁻¹|`).
//! - `grbm`: `"hidden": H`, `"sigma": "fixed" | "learned"`, `"log_partition": log Z` (a JSON
//!   number); arrays `weights [D, H]`, `visible_bias [D]`, `hidden_bias [H]`, `sigma [D]`.
//!
//! Optional header fields (`reg`, `log_likelihood`, `seed`) are informative. Loading fails with
//! a message naming the file on a wrong magic, an unknown format, version or kind, a missing
//! field, shapes that disagree with `dim`/`components`/`hidden`, a truncated or over-long file,
//! and non-finite values; [`Expert::check_dim`] rejects an expert of another dimension than a
//! model's input.

mod format;
mod gpu;
mod grbm;
mod mixture;
#[cfg(test)]
mod tests;

use std::fmt;
use std::str::FromStr;

pub use gpu::{
    ExpertParams, GRBM_DENSITY, GRBM_GRAD, GRBM_HIDDEN, MIXTURE_GRAD, MIXTURE_GRAD_DIAG,
    MIXTURE_LOGITS, MIXTURE_LSE, MIXTURE_PROJECT,
};
pub use grbm::{Grbm, SigmaMode};
pub use mixture::{Covariance, Mixture};

use crate::error::{Error, Result};

/// Which expert to fit, as the command line names it (`gaussian`, `gaussian-diag`, `gmm:K`,
/// `gmm-diag:K`, `grbm:H`, `grbm-sigma:H` for learned `σ`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExpertKind {
    /// One Gaussian.
    Gaussian(Covariance),
    /// A mixture of `components` Gaussians.
    Mixture {
        /// `K`.
        components: usize,
        /// Full or diagonal covariances.
        covariance: Covariance,
    },
    /// A Gaussian–Bernoulli RBM.
    Grbm {
        /// `H`.
        hidden: usize,
        /// Fixed or learned per-pixel `σ`.
        sigma: SigmaMode,
    },
}

impl ExpertKind {
    /// The names [`ExpertKind::from_str`] accepts, for help texts.
    pub const NAMES: &'static str =
        "gaussian, gaussian-diag, gmm:K, gmm-diag:K, grbm:H, grbm-sigma:H";
}

impl FromStr for ExpertKind {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        let bad = || {
            Error::Invalid(format!(
                "'{s}' is not an expert kind; use one of {}",
                Self::NAMES
            ))
        };
        let count = |n: &str| match n.parse::<usize>() {
            Ok(k) if k > 0 => Ok(k),
            _ => Err(bad()),
        };
        let t = s.trim().to_ascii_lowercase();
        Ok(match t.split_once(':') {
            None if t == "gaussian" => ExpertKind::Gaussian(Covariance::Full),
            None if t == "gaussian-diag" => ExpertKind::Gaussian(Covariance::Diagonal),
            Some(("gmm", k)) => ExpertKind::Mixture {
                components: count(k)?,
                covariance: Covariance::Full,
            },
            Some(("gmm-diag", k)) => ExpertKind::Mixture {
                components: count(k)?,
                covariance: Covariance::Diagonal,
            },
            Some(("grbm", h)) => ExpertKind::Grbm {
                hidden: count(h)?,
                sigma: SigmaMode::Fixed,
            },
            Some(("grbm-sigma", h)) => ExpertKind::Grbm {
                hidden: count(h)?,
                sigma: SigmaMode::Learned,
            },
            _ => return Err(bad()),
        })
    }
}

impl fmt::Display for ExpertKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            ExpertKind::Gaussian(Covariance::Full) => write!(f, "gaussian"),
            ExpertKind::Gaussian(Covariance::Diagonal) => write!(f, "gaussian-diag"),
            ExpertKind::Mixture {
                components,
                covariance: Covariance::Full,
            } => write!(f, "gmm:{components}"),
            ExpertKind::Mixture { components, .. } => write!(f, "gmm-diag:{components}"),
            ExpertKind::Grbm {
                hidden,
                sigma: SigmaMode::Fixed,
            } => write!(f, "grbm:{hidden}"),
            ExpertKind::Grbm { hidden, .. } => write!(f, "grbm-sigma:{hidden}"),
        }
    }
}

/// How an expert is fitted.
#[derive(Clone, Debug, PartialEq)]
pub struct FitOptions {
    /// Seeds k-means++ and the RBM's initialisation and sampling.
    pub seed: u64,
    /// EM iterations (GMM) or CD epochs (GRBM); `None` for the kind's default (30 and 30).
    pub iterations: Option<usize>,
    /// Added to every covariance's diagonal (and to the GRBM's initial `σ²`).
    pub reg: f64,
    /// Gibbs steps per CD update (`k` of CD-k).
    pub cd_steps: usize,
    /// CD learning rate.
    pub learning_rate: f64,
    /// CD minibatch size.
    pub batch: usize,
    /// EM stops when the mean regularised log-likelihood gains less than this per item.
    pub tolerance: f64,
}

impl Default for FitOptions {
    fn default() -> Self {
        FitOptions {
            seed: 0,
            iterations: None,
            reg: 1e-2,
            cd_steps: 1,
            learning_rate: 1e-3,
            batch: 50,
            tolerance: 1e-3,
        }
    }
}

/// What fitting reports: one value per iteration and the final training log-likelihood.
#[derive(Clone, Debug, PartialEq)]
pub struct FitReport {
    /// Per EM iteration: the mean regularised log-likelihood per item, which EM never decreases
    /// (`Σ_n log Σ_k π_k N(x_n; μ_k, Σ_k)·exp(−reg/2·tr Σ_k⁻¹)` over N; see [`Mixture`]). Per CD
    /// epoch: the mean reconstruction error per item. Empty for a Gaussian.
    pub progress: Vec<f64>,
    /// Mean `log p(x)` per training item.
    pub log_likelihood: f64,
}

/// A fitted density over flattened inputs.
#[derive(Clone, Debug, PartialEq)]
pub enum Expert {
    /// One Gaussian: a mixture of one component of weight 1.
    Gaussian(Mixture),
    /// A Gaussian mixture.
    Mixture(Mixture),
    /// A Gaussian–Bernoulli RBM.
    Grbm(Grbm),
}

impl Expert {
    /// Fits `kind` to `n` items of `dim` values (`data` row-major, `n × dim`); `progress` is
    /// called after every EM iteration or CD epoch with its index and [`FitReport::progress`]
    /// value.
    pub fn fit(
        kind: ExpertKind,
        data: &[f32],
        dim: usize,
        opts: &FitOptions,
        progress: &mut dyn FnMut(usize, f64),
    ) -> Result<(Expert, FitReport)> {
        if dim == 0 || data.is_empty() || !data.len().is_multiple_of(dim) {
            return Err(Error::Shape(format!(
                "fitting an expert needs items of {dim} values; got {} values",
                data.len()
            )));
        }
        if let Some(i) = data.iter().position(|v| !v.is_finite()) {
            return Err(Error::NonFinite {
                what: "expert training data".into(),
                index: i,
            });
        }
        if !(opts.reg >= 0.0 && opts.reg.is_finite()) {
            return Err(Error::Invalid(format!("reg must be ≥ 0, got {}", opts.reg)));
        }
        let n = data.len() / dim;
        let (expert, progress_values) = match kind {
            ExpertKind::Gaussian(cov) => (
                Expert::Gaussian(Mixture::fit_gaussian(data, dim, cov, opts.reg)?),
                Vec::new(),
            ),
            ExpertKind::Mixture {
                components,
                covariance,
            } => {
                if components > n {
                    return Err(Error::Invalid(format!(
                        "a mixture of {components} components needs at least as many items; got {n}"
                    )));
                }
                let (m, p) = Mixture::fit_em(data, dim, components, covariance, opts, progress)?;
                (Expert::Mixture(m), p)
            }
            ExpertKind::Grbm { hidden, sigma } => {
                let (g, p) = Grbm::fit_cd(data, dim, hidden, sigma, opts, progress)?;
                (Expert::Grbm(g), p)
            }
        };
        let log_likelihood = expert.mean_log_density(data)?;
        Ok((
            expert,
            FitReport {
                progress: progress_values,
                log_likelihood,
            },
        ))
    }

    /// The dimension `D` of the inputs it models.
    pub fn dim(&self) -> usize {
        match self {
            Expert::Gaussian(m) | Expert::Mixture(m) => m.dim,
            Expert::Grbm(g) => g.dim,
        }
    }

    /// Its kind, as [`ExpertKind`] names it.
    pub fn kind(&self) -> ExpertKind {
        match self {
            Expert::Gaussian(m) => ExpertKind::Gaussian(m.covariance),
            Expert::Mixture(m) => ExpertKind::Mixture {
                components: m.components(),
                covariance: m.covariance,
            },
            Expert::Grbm(g) => ExpertKind::Grbm {
                hidden: g.hidden,
                sigma: g.sigma_mode,
            },
        }
    }

    /// Fails unless it models inputs of `dim` values (a model's flattened input).
    pub fn check_dim(&self, dim: usize) -> Result<()> {
        if self.dim() != dim {
            return Err(Error::Shape(format!(
                "the expert models inputs of {} values but the model's input has {dim}",
                self.dim()
            )));
        }
        Ok(())
    }

    /// `log p(x)` of one item in f64 (for a GRBM with the `log Z` estimated when fitting).
    pub fn log_density(&self, x: &[f32]) -> f64 {
        match self {
            Expert::Gaussian(m) | Expert::Mixture(m) => m.log_density(x),
            Expert::Grbm(g) => -g.free_energy(x) - g.log_partition,
        }
    }

    /// `∇_x log p(x)` of one item in f64.
    pub fn grad_log_density(&self, x: &[f32]) -> Vec<f64> {
        match self {
            Expert::Gaussian(m) | Expert::Mixture(m) => m.grad_log_density(x),
            Expert::Grbm(g) => g.grad_log_density(x),
        }
    }

    /// Mean `log p(x)` over the items of `data` (`n × dim`; mixtures through matrix products).
    pub fn mean_log_density(&self, data: &[f32]) -> Result<f64> {
        let d = self.dim();
        if data.is_empty() || !data.len().is_multiple_of(d) {
            return Err(Error::Shape(format!(
                "items of {d} values expected; got {} values",
                data.len()
            )));
        }
        let n = data.len() / d;
        Ok(match self {
            Expert::Gaussian(m) | Expert::Mixture(m) => m.mean_log_density(data),
            Expert::Grbm(_) => data.chunks(d).map(|x| self.log_density(x)).sum::<f64>() / n as f64,
        })
    }
}

/// The experts' seeded generator (the crate's SplitMix64).
pub(crate) type Rng = crate::rng::SplitMix;

/// The generator for a fitting seed.
pub(crate) fn rng(seed: u64) -> Rng {
    crate::rng::SplitMix(seed ^ 0x5EED_5EED_1234_ABCD)
}

/// `log Σ exp(v)`, stable.
pub(crate) fn log_sum_exp(v: &[f64]) -> f64 {
    let m = v.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    if !m.is_finite() {
        return m;
    }
    m + v.iter().map(|&a| (a - m).exp()).sum::<f64>().ln()
}

/// `log(1 + e^a)`, stable.
pub(crate) fn softplus(a: f64) -> f64 {
    if a > 0.0 {
        a + (-a).exp().ln_1p()
    } else {
        a.exp().ln_1p()
    }
}

/// `1 / (1 + e^−a)`.
pub(crate) fn sigmoid(a: f64) -> f64 {
    1.0 / (1.0 + (-a).exp())
}
