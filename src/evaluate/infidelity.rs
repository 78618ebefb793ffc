//! Captum's `infidelity` (Yeh et al. 2019): how well an explanation predicts the output's change
//! under random perturbations I, E[(Iᵀa − (f(x) − f(x − I)))²], with I ~ N(0, σ²) drawn from
//! glimpse's seeded stream; forward passes only, in batches.

use super::copies::{check_inputs, run_copies};
use crate::error::{Error, Result};
use crate::explain::gradient::gaussian_noise;
use crate::gpu::DeviceModel;
use crate::model::Tensor;
use crate::predict::Predictor;

/// Captum's infidelity with Gaussian perturbations.
#[derive(Clone, Debug, PartialEq)]
pub struct Infidelity {
    /// Perturbations per input (Captum: 10).
    pub samples: usize,
    /// σ of I.
    pub std: f32,
    /// Captum's `normalize`: scale the explanation by the β that minimises the error first,
    /// β = E[Iᵀa · Δ] / E[(Iᵀa)²].
    pub normalize: bool,
    /// Seed: input i, perturbation s always draw the same I.
    pub seed: u64,
}

/// Infidelity of a batch.
#[derive(Clone, Debug)]
pub struct InfidelityEvaluation {
    /// One score per input.
    pub scores: Vec<f64>,
    /// Iᵀa per input and perturbation, `[N, S]`.
    pub explained: Tensor,
    /// Δ = f(x) − f(x − I) per input and perturbation, `[N, S]`.
    pub changes: Tensor,
}

impl Infidelity {
    /// Infidelity of `maps` (`[N, …input]`) of `x` for `classes`, the logits read by
    /// `predictor`; `first` is x's first input's index in the run (it keys the noise).
    pub fn evaluate(
        &self,
        model: &DeviceModel,
        predictor: &mut Predictor,
        x: &Tensor,
        maps: &Tensor,
        classes: &[usize],
        first: usize,
    ) -> Result<InfidelityEvaluation> {
        let n = check_inputs(model, x)?;
        if maps.shape != x.shape {
            return Err(Error::Shape(format!(
                "infidelity needs one attribution per input value: maps {:?} for inputs {:?}",
                maps.shape, x.shape
            )));
        }
        if classes.len() != n {
            return Err(Error::Shape(format!(
                "{} classes for {n} inputs",
                classes.len()
            )));
        }
        if self.samples == 0 || !(self.std.is_finite() && self.std > 0.0) {
            return Err(Error::Invalid(format!(
                "infidelity: needs samples ≥ 1 and σ > 0, got {} and {}",
                self.samples, self.std
            )));
        }
        maps.check_finite("the maps")?;
        let numel = x.numel() / n;
        let s = self.samples;
        let base = predictor.run(x)?;
        let f = base.numel() / n;
        if let Some(&c) = classes.iter().find(|&&c| c >= f) {
            return Err(Error::Invalid(format!(
                "class {c} does not exist: the model has {f} outputs"
            )));
        }
        let mut explained = Tensor::zeros(vec![n, s]);
        let mut changes = Tensor::zeros(vec![n, s]);
        // Copy k is perturbation k % S of input k / S.
        run_copies(
            predictor,
            x,
            n * s,
            |k, out| {
                let (i, j) = (k / s, k % s);
                let xi = &x.data[i * numel..(i + 1) * numel];
                let a = &maps.data[i * numel..(i + 1) * numel];
                let noise = gaussian_noise(self.seed, first + i, j, numel, self.std);
                explained.data[k] = noise
                    .iter()
                    .zip(a)
                    .map(|(&e, &v)| e as f64 * v as f64)
                    .sum::<f64>() as f32;
                out.extend(xi.iter().zip(&noise).map(|(&v, &e)| v - e));
                Ok(())
            },
            |k, row| {
                let (i, c) = (k / s, classes[k / s]);
                changes.data[k] = base.data[i * f + c] - row[c];
                Ok(())
            },
        )?;
        let scores = (0..n)
            .map(|i| {
                let ia = &explained.data[i * s..(i + 1) * s];
                let d = &changes.data[i * s..(i + 1) * s];
                self.score(ia, d)
            })
            .collect();
        Ok(InfidelityEvaluation {
            scores,
            explained,
            changes,
        })
    }

    /// The score of one input from its Iᵀa and Δ.
    pub fn score(&self, ia: &[f32], d: &[f32]) -> f64 {
        let pairs = ia.iter().zip(d).map(|(&p, &q)| (p as f64, q as f64));
        let beta = if self.normalize {
            let (num, den) = pairs
                .clone()
                .fold((0.0, 0.0), |(u, v), (p, q)| (u + p * q, v + p * p));
            if den == 0.0 {
                0.0
            } else {
                num / den
            }
        } else {
            1.0
        };
        pairs.map(|(p, q)| (beta * p - q).powi(2)).sum::<f64>() / ia.len() as f64
    }
}
