//! Gaussians and Gaussian mixtures: closed-form fit, EM from k-means++, f64 log-density and
//! gradient. Matrices go through nalgebra (Cholesky, inverse, log-determinant, gemm).
//!
//! EM with a regularised M-step (`Σ_k = S_k + reg·I`) is EM on the component "densities"
//! `N(x; μ_k, Σ_k)·exp(−reg/2·tr Σ_k⁻¹)`: it never decreases the regularised log-likelihood
//! `Σ_n log Σ_k π_k N(x_n; μ_k, Σ_k)·exp(−reg/2·tr Σ_k⁻¹)`, which [`FitReport`](super::FitReport)
//! reports per iteration (with `reg → 0` the plain log-likelihood).

use nalgebra::{DMatrix, DVector};

use super::{log_sum_exp, rng, FitOptions, Rng};
use crate::error::{Error, Result};

/// Full or diagonal covariance matrices.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Covariance {
    /// `Σ` is any symmetric positive definite matrix.
    Full,
    /// `Σ` is diagonal: independent pixels.
    Diagonal,
}

impl Covariance {
    /// The name the file format uses.
    pub fn name(self) -> &'static str {
        match self {
            Covariance::Full => "full",
            Covariance::Diagonal => "diagonal",
        }
    }
}

/// A mixture of `K` Gaussians over `R^D` (`K = 1` for [`Expert::Gaussian`](super::Expert)),
/// kept as the precisions its gradient needs, in f32 as the file and the GPU hold them.
#[derive(Clone, Debug, PartialEq)]
pub struct Mixture {
    /// `D`.
    pub dim: usize,
    /// Full or diagonal.
    pub covariance: Covariance,
    /// `log π_k`, `[K]`.
    pub log_weights: Vec<f32>,
    /// `μ_k`, `[K, D]`.
    pub means: Vec<f32>,
    /// `P_k = Σ_k⁻¹`: `[K, D, D]` (full) or its diagonal `[K, D]`.
    pub precisions: Vec<f32>,
    /// `log |P_k|`, `[K]`.
    pub log_det_precisions: Vec<f32>,
}

/// One component in f64, as EM works on it.
struct Comp {
    log_weight: f64,
    mean: DVector<f64>,
    /// Full: `D × D`; diagonal: `D × 1`.
    precision: DMatrix<f64>,
    log_det: f64,
}

const HALF_LN_TAU: f64 = 0.918_938_533_204_672_7;

impl Mixture {
    /// `K`.
    pub fn components(&self) -> usize {
        self.log_weights.len()
    }

    /// Values of one component's precision.
    pub(crate) fn precision_len(&self) -> usize {
        match self.covariance {
            Covariance::Full => self.dim * self.dim,
            Covariance::Diagonal => self.dim,
        }
    }

    /// `log π_k + log N(x; μ_k, Σ_k)` per component, and `d_k = P_k (x − μ_k)`.
    fn component_terms(&self, x: &[f32]) -> (Vec<f64>, Vec<Vec<f64>>) {
        let d = self.dim;
        let pl = self.precision_len();
        let mut logits = Vec::with_capacity(self.components());
        let mut ds = Vec::with_capacity(self.components());
        for k in 0..self.components() {
            let mu = &self.means[k * d..(k + 1) * d];
            let diff: Vec<f64> = x
                .iter()
                .zip(mu)
                .map(|(&a, &m)| a as f64 - m as f64)
                .collect();
            let p = &self.precisions[k * pl..(k + 1) * pl];
            let dk: Vec<f64> = match self.covariance {
                Covariance::Full => p
                    .chunks(d)
                    .map(|row| row.iter().zip(&diff).map(|(&a, &b)| a as f64 * b).sum())
                    .collect(),
                Covariance::Diagonal => p.iter().zip(&diff).map(|(&a, &b)| a as f64 * b).collect(),
            };
            let q: f64 = dk.iter().zip(&diff).map(|(a, b)| a * b).sum();
            logits.push(
                self.log_weights[k] as f64 + 0.5 * self.log_det_precisions[k] as f64
                    - d as f64 * HALF_LN_TAU
                    - 0.5 * q,
            );
            ds.push(dk);
        }
        (logits, ds)
    }

    /// `log p(x)` in f64.
    pub fn log_density(&self, x: &[f32]) -> f64 {
        log_sum_exp(&self.component_terms(x).0)
    }

    /// `∇_x log p(x) = −Σ_k γ_k P_k (x − μ_k)` in f64, `γ` the responsibilities.
    pub fn grad_log_density(&self, x: &[f32]) -> Vec<f64> {
        let (logits, ds) = self.component_terms(x);
        let lse = log_sum_exp(&logits);
        let mut g = vec![0.0; self.dim];
        for (l, dk) in logits.iter().zip(&ds) {
            let gamma = (l - lse).exp();
            for (gi, v) in g.iter_mut().zip(dk) {
                *gi -= gamma * v;
            }
        }
        g
    }

    /// Mean `log p(x)` over the rows of `data` (`n × D`), through matrix products.
    pub fn mean_log_density(&self, data: &[f32]) -> f64 {
        let x = to_matrix(data, self.dim);
        let comps = self.to_comps();
        let (plain, _) = log_joint(&x, &comps, 0.0, self.covariance);
        row_lse(&plain).iter().sum::<f64>() / x.nrows() as f64
    }

    /// A Gaussian fitted in closed form: the mean and the covariance plus `reg·I`.
    pub fn fit_gaussian(data: &[f32], dim: usize, cov: Covariance, reg: f64) -> Result<Self> {
        let x = to_matrix(data, dim);
        let gamma = DMatrix::from_element(x.nrows(), 1, 1.0);
        let comps = m_step(&x, &gamma, cov, reg)?;
        Ok(Self::from_comps(dim, cov, &comps))
    }

    /// EM for `k` components from a k-means++ initialisation; returns the mixture and the mean
    /// regularised log-likelihood after each iteration.
    pub fn fit_em(
        data: &[f32],
        dim: usize,
        k: usize,
        cov: Covariance,
        opts: &FitOptions,
        progress: &mut dyn FnMut(usize, f64),
    ) -> Result<(Self, Vec<f64>)> {
        let x = to_matrix(data, dim);
        let n = x.nrows();
        let mut gamma = kmeans_pp(&x, k, &mut rng(opts.seed));
        let iterations = opts.iterations.unwrap_or(30).max(1);
        let mut history = Vec::new();
        let mut comps = Vec::new();
        for it in 0..iterations {
            comps = m_step(&x, &gamma, cov, opts.reg)?;
            let (_, pen) = log_joint(&x, &comps, opts.reg, cov);
            let lse = row_lse(&pen);
            let ll = lse.iter().sum::<f64>() / n as f64;
            for r in 0..n {
                for c in 0..k {
                    gamma[(r, c)] = (pen[(r, c)] - lse[r]).exp();
                }
            }
            progress(it, ll);
            let converged = history
                .last()
                .is_some_and(|&p: &f64| ll - p < opts.tolerance);
            history.push(ll);
            if converged {
                break;
            }
        }
        Ok((Self::from_comps(dim, cov, &comps), history))
    }

    fn from_comps(dim: usize, cov: Covariance, comps: &[Comp]) -> Self {
        let f = |v: &[f64]| v.iter().map(|&a| a as f32).collect::<Vec<f32>>();
        let mut precisions = Vec::new();
        for c in comps {
            // Row-major; the matrix is symmetric, so its column-major storage is the same.
            precisions.extend(f(c.precision.as_slice()));
        }
        Mixture {
            dim,
            covariance: cov,
            log_weights: comps.iter().map(|c| c.log_weight as f32).collect(),
            means: comps.iter().flat_map(|c| f(c.mean.as_slice())).collect(),
            precisions,
            log_det_precisions: comps.iter().map(|c| c.log_det as f32).collect(),
        }
    }

    fn to_comps(&self) -> Vec<Comp> {
        let d = self.dim;
        let pl = self.precision_len();
        let cols = if self.covariance == Covariance::Full {
            d
        } else {
            1
        };
        (0..self.components())
            .map(|k| Comp {
                log_weight: self.log_weights[k] as f64,
                mean: DVector::from_iterator(
                    d,
                    self.means[k * d..(k + 1) * d].iter().map(|&v| v as f64),
                ),
                precision: DMatrix::from_iterator(
                    d,
                    cols,
                    self.precisions[k * pl..(k + 1) * pl]
                        .iter()
                        .map(|&v| v as f64),
                ),
                log_det: self.log_det_precisions[k] as f64,
            })
            .collect()
    }
}

/// `n × D` rows as an f64 matrix.
fn to_matrix(data: &[f32], dim: usize) -> DMatrix<f64> {
    DMatrix::from_row_iterator(data.len() / dim, dim, data.iter().map(|&v| v as f64))
}

/// `log Σ_k exp` of each row.
fn row_lse(m: &DMatrix<f64>) -> Vec<f64> {
    (0..m.nrows())
        .map(|r| log_sum_exp(&m.row(r).iter().cloned().collect::<Vec<_>>()))
        .collect()
}

/// `x` minus `mean` in every row.
fn centred(x: &DMatrix<f64>, mean: &DVector<f64>) -> DMatrix<f64> {
    let mut xc = x.clone();
    for mut row in xc.row_iter_mut() {
        row -= mean.transpose();
    }
    xc
}

/// Per item and component, `log π_k + log N(x_n; μ_k, Σ_k)` (plain) and the same minus
/// `reg/2·tr P_k` (what regularised EM works with).
fn log_joint(
    x: &DMatrix<f64>,
    comps: &[Comp],
    reg: f64,
    cov: Covariance,
) -> (DMatrix<f64>, DMatrix<f64>) {
    let (n, d) = x.shape();
    let mut plain = DMatrix::zeros(n, comps.len());
    let mut pen = DMatrix::zeros(n, comps.len());
    for (k, c) in comps.iter().enumerate() {
        let xc = centred(x, &c.mean);
        let (q, trace): (Vec<f64>, f64) = match cov {
            Covariance::Full => {
                let y = &xc * &c.precision;
                let q = (0..n).map(|r| y.row(r).dot(&xc.row(r))).collect();
                (q, c.precision.trace())
            }
            Covariance::Diagonal => {
                let p = c.precision.column(0);
                let q = (0..n)
                    .map(|r| {
                        xc.row(r)
                            .iter()
                            .zip(p.iter())
                            .map(|(v, pi)| v * v * pi)
                            .sum()
                    })
                    .collect();
                (q, p.sum())
            }
        };
        let base = c.log_weight + 0.5 * c.log_det - d as f64 * HALF_LN_TAU;
        for r in 0..n {
            plain[(r, k)] = base - 0.5 * q[r];
            pen[(r, k)] = plain[(r, k)] - 0.5 * reg * trace;
        }
    }
    (plain, pen)
}

/// The M-step: weights, means and regularised covariances from responsibilities `gamma`
/// (`n × K`), the covariances inverted through their Cholesky factors.
fn m_step(x: &DMatrix<f64>, gamma: &DMatrix<f64>, cov: Covariance, reg: f64) -> Result<Vec<Comp>> {
    let (n, d) = x.shape();
    let mut comps = Vec::with_capacity(gamma.ncols());
    for k in 0..gamma.ncols() {
        let g = gamma.column(k);
        let nk = g.sum().max(1e-10);
        // Rows of responsibility below 1e-12 of the largest change nothing measurable: in high
        // dimensions responsibilities are nearly one-hot, and skipping them makes the M-step
        // cost Σ_k n_k·D² instead of K·n·D².
        let cut = 1e-12 * g.max();
        let rows: Vec<usize> = (0..n).filter(|&r| g[r] > cut).collect();
        let xs = x.select_rows(rows.iter());
        let gs = DVector::from_iterator(rows.len(), rows.iter().map(|&r| g[r]));
        let mean = xs.transpose() * &gs / nk;
        let mut xc = centred(&xs, &mean);
        for (r, mut row) in xc.row_iter_mut().enumerate() {
            row *= (gs[r] / nk).sqrt();
        }
        let (precision, log_det) = match cov {
            Covariance::Full => {
                let mut s = xc.transpose() * &xc;
                for i in 0..d {
                    s[(i, i)] += reg;
                }
                let chol = s.cholesky().ok_or_else(|| {
                    Error::Invalid(format!(
                        "component {k}'s covariance is not positive definite; fit with a larger reg (now {reg})"
                    ))
                })?;
                let log_det = -chol.ln_determinant();
                (chol.inverse(), log_det)
            }
            Covariance::Diagonal => {
                let var: Vec<f64> = (0..d).map(|i| xc.column(i).norm_squared() + reg).collect();
                if var.iter().any(|&v| v <= 0.0 || !v.is_finite()) {
                    return Err(Error::Invalid(format!(
                        "component {k} has a zero variance; fit with reg > 0"
                    )));
                }
                let p = DMatrix::from_iterator(d, 1, var.iter().map(|v| 1.0 / v));
                (p, -var.iter().map(|v| v.ln()).sum::<f64>())
            }
        };
        comps.push(Comp {
            log_weight: (nk / n as f64).ln(),
            mean,
            precision,
            log_det,
        });
    }
    Ok(comps)
}

/// k-means++ seeding: `k` distinct rows, each drawn with probability ∝ squared distance to the
/// nearest chosen one; returns the hard assignment to the nearest seed as responsibilities.
fn kmeans_pp(x: &DMatrix<f64>, k: usize, rng: &mut Rng) -> DMatrix<f64> {
    let n = x.nrows();
    let dist = |a: usize, b: usize| (x.row(a) - x.row(b)).norm_squared();
    let mut centres = vec![rng.below(n)];
    let mut nearest: Vec<f64> = (0..n).map(|r| dist(r, centres[0])).collect();
    let mut owner = vec![0usize; n];
    while centres.len() < k {
        let total: f64 = nearest.iter().sum();
        let next = if total > 0.0 {
            let mut u = rng.uniform() * total;
            let mut pick = n - 1;
            for (r, &w) in nearest.iter().enumerate() {
                if u < w {
                    pick = r;
                    break;
                }
                u -= w;
            }
            pick
        } else {
            // All rows coincide with a centre: any row not yet chosen.
            (0..n).find(|r| !centres.contains(r)).unwrap_or(0)
        };
        let c = centres.len();
        centres.push(next);
        for r in 0..n {
            let dr = dist(r, next);
            if dr < nearest[r] {
                nearest[r] = dr;
                owner[r] = c;
            }
        }
    }
    let mut gamma = DMatrix::zeros(n, k);
    for (r, &c) in owner.iter().enumerate() {
        gamma[(r, c)] = 1.0;
    }
    // A seed owns its own row even when duplicated rows tied.
    for (c, &r) in centres.iter().enumerate() {
        gamma.row_mut(r).fill(0.0);
        gamma[(r, c)] = 1.0;
    }
    gamma
}
