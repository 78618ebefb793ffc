//! The Gaussian–Bernoulli RBM: energy
//! `E(x, h) = Σ_i (x_i−b_i)²/(2σ_i²) − Σ_j c_j h_j − Σ_ij (x_i/σ_i) W_ij h_j`, free energy
//! `F(x) = Σ_i (x_i−b_i)²/(2σ_i²) − Σ_j softplus(c_j + Σ_i W_ij x_i/σ_i)`, fitted by CD-k.
//!
//! `log Z` has a closed form over the hidden states, since `x` integrates out:
//! `log Z = Σ_i log(√(2π) σ_i) + log Σ_h exp(c·h + Σ_i (b_i/σ_i) u_i + u_i²/2)`, `u = W h`.
//! It is enumerated for `H ≤ 20` and estimated by annealed importance sampling above
//! (Salakhutdinov & Murray 2008: `W` and `c` scaled by `β` from 0 to 1, Gibbs transitions).

use nalgebra::DMatrix;

use super::{log_sum_exp, rng, sigmoid, softplus, FitOptions};
use crate::error::{Error, Result};

/// Fixed or learned per-pixel standard deviations.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SigmaMode {
    /// `σ_i² = var_i + reg` from the data, never updated.
    Fixed,
    /// Initialised so, then learned by CD with the other parameters.
    Learned,
}

impl SigmaMode {
    /// The name the file format uses.
    pub fn name(self) -> &'static str {
        match self {
            SigmaMode::Fixed => "fixed",
            SigmaMode::Learned => "learned",
        }
    }
}

/// A Gaussian–Bernoulli RBM with `H` hidden units over `R^D`, parameters in f32.
#[derive(Clone, Debug, PartialEq)]
pub struct Grbm {
    /// `D`.
    pub dim: usize,
    /// `H`.
    pub hidden: usize,
    /// Whether `σ` was learned.
    pub sigma_mode: SigmaMode,
    /// `W`, `[D, H]`.
    pub weights: Vec<f32>,
    /// `b`, `[D]`.
    pub visible_bias: Vec<f32>,
    /// `c`, `[H]`.
    pub hidden_bias: Vec<f32>,
    /// `σ`, `[D]`.
    pub sigma: Vec<f32>,
    /// `log Z`, exact or estimated when fitting (0 when never computed).
    pub log_partition: f64,
}

/// Hidden units enumerated exactly up to this many.
pub const EXACT_HIDDEN: usize = 20;

const HALF_LN_TAU: f64 = 0.918_938_533_204_672_7;

impl Grbm {
    /// `a_j = c_j + Σ_i W_ij x_i/σ_i`.
    fn hidden_input(&self, x: &[f32]) -> Vec<f64> {
        let h = self.hidden;
        let mut a: Vec<f64> = self.hidden_bias.iter().map(|&c| c as f64).collect();
        for (i, (&xi, &s)) in x.iter().zip(&self.sigma).enumerate() {
            let v = xi as f64 / s as f64;
            for (aj, &w) in a.iter_mut().zip(&self.weights[i * h..(i + 1) * h]) {
                *aj += w as f64 * v;
            }
        }
        a
    }

    /// `F(x)`.
    pub fn free_energy(&self, x: &[f32]) -> f64 {
        let quad: f64 = x
            .iter()
            .zip(&self.visible_bias)
            .zip(&self.sigma)
            .map(|((&xi, &b), &s)| (xi as f64 - b as f64).powi(2) / (2.0 * (s as f64).powi(2)))
            .sum();
        quad - self.hidden_input(x).into_iter().map(softplus).sum::<f64>()
    }

    /// `∇_x (−F) = −(x_i − b_i)/σ_i² + Σ_j sigmoid(a_j) W_ij / σ_i`.
    pub fn grad_log_density(&self, x: &[f32]) -> Vec<f64> {
        let h = self.hidden;
        let s: Vec<f64> = self.hidden_input(x).into_iter().map(sigmoid).collect();
        (0..self.dim)
            .map(|i| {
                let sig = self.sigma[i] as f64;
                let wh: f64 = self.weights[i * h..(i + 1) * h]
                    .iter()
                    .zip(&s)
                    .map(|(&w, &p)| w as f64 * p)
                    .sum();
                -(x[i] as f64 - self.visible_bias[i] as f64) / (sig * sig) + wh / sig
            })
            .collect()
    }

    /// `Σ_i log(√(2π) σ_i)`, the part of `log Z` the Gaussian integral contributes.
    fn log_gauss_norm(&self) -> f64 {
        self.sigma
            .iter()
            .map(|&s| HALF_LN_TAU + (s as f64).ln())
            .sum()
    }

    /// `log Z` by enumerating the `2^H` hidden states (Gray code); `None` for `H > 20`.
    pub fn log_partition_exact(&self) -> Option<f64> {
        let (d, h) = (self.dim, self.hidden);
        if h > EXACT_HIDDEN {
            return None;
        }
        let bs: Vec<f64> = (0..d)
            .map(|i| self.visible_bias[i] as f64 / self.sigma[i] as f64)
            .collect();
        let mut u = vec![0.0f64; d];
        let mut state = vec![false; h];
        let mut ch = 0.0f64;
        let term = |u: &[f64], ch: f64| -> f64 {
            ch + u
                .iter()
                .zip(&bs)
                .map(|(&ui, &b)| b * ui + 0.5 * ui * ui)
                .sum::<f64>()
        };
        let (mut max, mut sum) = (term(&u, ch), 1.0f64);
        for step in 1u64..(1u64 << h) {
            let j = step.trailing_zeros() as usize;
            let sign = if state[j] { -1.0 } else { 1.0 };
            state[j] = !state[j];
            ch += sign * self.hidden_bias[j] as f64;
            for (i, ui) in u.iter_mut().enumerate() {
                *ui += sign * self.weights[i * h + j] as f64;
            }
            let t = term(&u, ch);
            if t > max {
                sum = sum * (max - t).exp() + 1.0;
                max = t;
            } else {
                sum += (t - max).exp();
            }
        }
        Some(self.log_gauss_norm() + max + sum.ln())
    }

    /// `log Z` estimated by AIS with `chains` runs over `steps` intermediate distributions.
    pub fn log_partition_ais(&self, chains: usize, steps: usize, seed: u64) -> f64 {
        let (d, h) = (self.dim, self.hidden);
        let mut rng = rng(seed);
        let w = self.weight_matrix();
        let sigma: Vec<f64> = self.sigma.iter().map(|&s| s as f64).collect();
        let b: Vec<f64> = self.visible_bias.iter().map(|&v| v as f64).collect();
        let c: Vec<f64> = self.hidden_bias.iter().map(|&v| v as f64).collect();
        // β = 0: h uniform, x ~ N(b, σ²) independently.
        let mut x = DMatrix::from_fn(chains, d, |_, i| b[i] + sigma[i] * rng.normal());
        let inputs = |x: &DMatrix<f64>| {
            let mut v = x.clone();
            for (i, mut col) in v.column_iter_mut().enumerate() {
                col /= sigma[i];
            }
            let mut a = v * &w;
            for (j, mut col) in a.column_iter_mut().enumerate() {
                col.add_scalar_mut(c[j]);
            }
            a
        };
        let log_star = |a: &DMatrix<f64>, beta: f64, r: usize| -> f64 {
            a.row(r).iter().map(|&v| softplus(beta * v)).sum()
        };
        let mut log_w = vec![0.0f64; chains];
        let mut a = inputs(&x);
        let mut prev = 0.0;
        for k in 1..=steps {
            let beta = k as f64 / steps as f64;
            // The Gaussian part of log p*_β(x) does not depend on β: it cancels.
            for (r, lw) in log_w.iter_mut().enumerate() {
                *lw += log_star(&a, beta, r) - log_star(&a, prev, r);
            }
            prev = beta;
            if k == steps {
                break;
            }
            let hs = DMatrix::from_fn(chains, h, |r, j| {
                (rng.uniform() < sigmoid(beta * a[(r, j)])) as u8 as f64
            });
            let u = hs * w.transpose();
            x = DMatrix::from_fn(chains, d, |r, i| {
                b[i] + beta * sigma[i] * u[(r, i)] + sigma[i] * rng.normal()
            });
            a = inputs(&x);
        }
        let log_z0 = self.log_gauss_norm() + h as f64 * std::f64::consts::LN_2;
        log_z0 + log_sum_exp(&log_w) - (chains as f64).ln()
    }

    fn weight_matrix(&self) -> DMatrix<f64> {
        DMatrix::from_row_iterator(
            self.dim,
            self.hidden,
            self.weights.iter().map(|&v| v as f64),
        )
    }

    /// `log Z` exactly for `H ≤ 20`, else by AIS (100 chains, 1000 steps).
    pub fn estimate_log_partition(&self, seed: u64) -> f64 {
        self.log_partition_exact()
            .unwrap_or_else(|| self.log_partition_ais(100, 1000, seed))
    }

    /// CD-k with momentum and weight decay; returns the RBM (its `log Z` estimated) and the
    /// mean squared reconstruction error per item after each epoch.
    pub fn fit_cd(
        data: &[f32],
        dim: usize,
        hidden: usize,
        mode: SigmaMode,
        opts: &FitOptions,
        progress: &mut dyn FnMut(usize, f64),
    ) -> Result<(Self, Vec<f64>)> {
        let n = data.len() / dim;
        let x = DMatrix::from_row_iterator(n, dim, data.iter().map(|&v| v as f64));
        let mut rng = rng(opts.seed);
        let mean: Vec<f64> = (0..dim).map(|i| x.column(i).mean()).collect();
        let floor = opts.reg.max(1e-6);
        let mut log_sigma: Vec<f64> = (0..dim)
            .map(|i| 0.5 * (x.column(i).variance() + floor).ln())
            .collect();
        let mut w = DMatrix::from_fn(dim, hidden, |_, _| 0.01 * rng.normal());
        let mut b = mean.clone();
        let mut c = vec![0.0f64; hidden];
        let (mut vw, mut vb, mut vc, mut vs) = (
            DMatrix::zeros(dim, hidden),
            vec![0.0; dim],
            vec![0.0; hidden],
            vec![0.0; dim],
        );
        let m = opts.batch.clamp(1, n);
        let epochs = opts
            .iterations
            .unwrap_or_else(|| (4000 * m).div_ceil(n).clamp(30, 500));
        let k = opts.cd_steps.max(1);
        let lr = opts.learning_rate;
        let mut order: Vec<usize> = (0..n).collect();
        let mut history = Vec::with_capacity(epochs);
        for epoch in 0..epochs {
            let momentum = if epoch < 5 { 0.5 } else { 0.9 };
            for i in (1..n).rev() {
                order.swap(i, rng.below(i + 1));
            }
            let mut err = 0.0;
            for chunk in order.chunks(m) {
                let xb = DMatrix::from_fn(chunk.len(), dim, |r, i| x[(chunk[r], i)]);
                let sigma: Vec<f64> = log_sigma.iter().map(|l| l.exp()).collect();
                let scaled = |x: &DMatrix<f64>| {
                    let mut v = x.clone();
                    for (i, mut col) in v.column_iter_mut().enumerate() {
                        col /= sigma[i];
                    }
                    v
                };
                let hidden_probs = |v: &DMatrix<f64>| {
                    let mut a = v * &w;
                    for (j, mut col) in a.column_iter_mut().enumerate() {
                        col.apply(|z| *z = sigmoid(*z + c[j]));
                    }
                    a
                };
                let v0 = scaled(&xb);
                let h0 = hidden_probs(&v0);
                let mut hs = h0.map(|p| (rng.uniform() < p) as u8 as f64);
                let mut xk = xb.clone();
                let mut vk = v0.clone();
                let mut hk = h0.clone();
                for step in 0..k {
                    let u = &hs * w.transpose();
                    xk = DMatrix::from_fn(chunk.len(), dim, |r, i| {
                        b[i] + sigma[i] * u[(r, i)] + sigma[i] * rng.normal()
                    });
                    if step == 0 {
                        err += (0..chunk.len())
                            .map(|r| {
                                (0..dim)
                                    .map(|i| (xb[(r, i)] - b[i] - sigma[i] * u[(r, i)]).powi(2))
                                    .sum::<f64>()
                            })
                            .sum::<f64>();
                    }
                    vk = scaled(&xk);
                    hk = hidden_probs(&vk);
                    if step + 1 < k {
                        hs = hk.map(|p| (rng.uniform() < p) as u8 as f64);
                    }
                }
                let inv = 1.0 / chunk.len() as f64;
                let (wh0, whk) = (&h0 * w.transpose(), &hk * w.transpose());
                let gw = (v0.transpose() * &h0 - vk.transpose() * &hk) * inv;
                vw = &vw * momentum + (gw - &w * 2e-4) * lr;
                w += &vw;
                for j in 0..hidden {
                    let g = (h0.column(j).sum() - hk.column(j).sum()) * inv;
                    vc[j] = momentum * vc[j] + lr * g;
                    c[j] += vc[j];
                }
                for i in 0..dim {
                    let s2 = sigma[i] * sigma[i];
                    let (mut gb, mut gs) = (0.0, 0.0);
                    for r in 0..chunk.len() {
                        let (p, q) = (xb[(r, i)] - b[i], xk[(r, i)] - b[i]);
                        gb += (p - q) / s2;
                        gs += (p * p - q * q) / s2
                            - (v0[(r, i)] * wh0[(r, i)] - vk[(r, i)] * whk[(r, i)]);
                    }
                    vb[i] = momentum * vb[i] + lr * gb * inv;
                    b[i] += vb[i];
                    if mode == SigmaMode::Learned {
                        vs[i] = momentum * vs[i] + 0.1 * lr * gs * inv;
                        log_sigma[i] = (log_sigma[i] + vs[i]).max(0.5 * floor.ln());
                    }
                }
            }
            let e = err / n as f64;
            if !e.is_finite() || w.iter().any(|v| !v.is_finite()) {
                return Err(Error::Invalid(format!(
                    "contrastive divergence diverged at epoch {epoch}; lower the learning rate (now {lr})"
                )));
            }
            progress(epoch, e);
            history.push(e);
        }
        let f = |v: &[f64]| v.iter().map(|&a| a as f32).collect::<Vec<f32>>();
        let mut rbm = Grbm {
            dim,
            hidden,
            sigma_mode: mode,
            weights: (0..dim * hidden)
                .map(|t| w[(t / hidden, t % hidden)] as f32)
                .collect(),
            visible_bias: f(&b),
            hidden_bias: f(&c),
            sigma: log_sigma.iter().map(|l| l.exp() as f32).collect(),
            log_partition: 0.0,
        };
        rbm.log_partition = rbm.estimate_log_partition(opts.seed ^ 0xA15);
        Ok((rbm, history))
    }
}
