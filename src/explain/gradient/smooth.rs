//! SmoothGrad (Smilkov et al. 2017), its squared form and VarGrad (Adebayo et al. 2018), as
//! Captum's `NoiseTunnel`: gradients at noisy copies of each input, all copies of one input in
//! one submission, averaged on the GPU.

use super::gradient_spec;
use super::noise::gaussian_noise;
use super::Scorer;
use crate::error::{Error, Result};
use crate::explain::engine::{Combine, Engine, SampleMap, Samples};
use crate::explain::explanation::{batch_shape, check_batch};
use crate::explain::filter::{ConditionSet, Filter};
use crate::explain::Explanation;
use crate::explain::Target;
use crate::gpu::DeviceModel;
use crate::layers::GradMode;
use crate::model::Tensor;

/// How the noisy gradients of one input are combined.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SmoothKind {
    /// Their mean (SmoothGrad).
    Mean,
    /// The mean of their squares (Captum's `smoothgrad_sq`).
    Squared,
    /// Their variance, `E[g²] − E[g]²` (VarGrad; Captum's `vargrad`).
    Variance,
}

/// Options of a [`SmoothGrad`] plan.
#[derive(Clone, Debug, PartialEq)]
pub struct SmoothOptions {
    /// How samples combine.
    pub kind: SmoothKind,
    /// Noisy copies per input.
    pub samples: usize,
    /// Noise standard deviation as a fraction of each input's value range `max x − min x`.
    pub sigma: f32,
    /// Seed of the noise.
    pub seed: u64,
    /// Explicit noise `[samples, N, ...input]` (or `[samples, ...input]` for every input),
    /// added as is (σ and the seed are then unused): to reproduce another library's draw.
    pub noise: Option<Tensor>,
    /// Combine `|∂f/∂x|` (Captum's `NoiseTunnel(Saliency(model))`) rather than `∂f/∂x`.
    pub abs: bool,
}

impl Default for SmoothOptions {
    fn default() -> Self {
        SmoothOptions {
            kind: SmoothKind::Mean,
            samples: 16,
            sigma: 0.15,
            seed: 0,
            noise: None,
            abs: true,
        }
    }
}

/// A SmoothGrad / VarGrad plan, compiled once.
pub struct SmoothGrad {
    engine: Engine,
    scorer: Scorer,
    options: SmoothOptions,
    in_shape: Vec<usize>,
}

impl SmoothGrad {
    /// Bytes this plan allocated on the device besides the model's shared weights (its
    /// tensor buffers and its own constants).
    pub fn memory_bytes(&self) -> u64 {
        self.engine.memory_bytes() + self.scorer.memory_bytes()
    }

    /// Plans the method: all noisy copies of one input run in one submission (several inputs
    /// when `batch` gradients per submission allow).
    pub fn new(model: &DeviceModel, options: SmoothOptions, batch: usize) -> Result<Self> {
        Self::with_filter(model, options, batch, Filter::default())
    }

    /// [`Self::new`] with filtering's conditions and recorded nodes (see [`Filter`]).
    pub fn with_filter(
        model: &DeviceModel,
        options: SmoothOptions,
        batch: usize,
        filter: Filter,
    ) -> Result<Self> {
        if options.samples == 0 {
            return Err(Error::Invalid("SmoothGrad needs at least 1 sample".into()));
        }
        if !(options.sigma.is_finite() && options.sigma >= 0.0) {
            return Err(Error::Invalid(format!(
                "the noise level σ = {} must be a finite fraction ≥ 0",
                options.sigma
            )));
        }
        let map = match (options.kind, options.abs) {
            (SmoothKind::Squared, _) => SampleMap::Square,
            (_, true) => SampleMap::Abs,
            (_, false) => SampleMap::Identity,
        };
        let mut spec = gradient_spec(
            model.graph(),
            GradMode::Gradient,
            options.samples,
            Combine {
                map,
                delta: false,
                second: options.kind == SmoothKind::Variance,
            },
            batch,
        );
        spec.filter = filter;
        Ok(SmoothGrad {
            engine: Engine::new(model, &spec)?,
            scorer: Scorer::new(model, spec.filter.start, batch)?,
            options,
            in_shape: model.graph().input_shape().to_vec(),
        })
    }

    /// Explains `x` (`[N, ...input]`); with explicit noise, item `i` takes `noise[:, i]`.
    pub fn run(&mut self, x: &Tensor, targets: &[Target]) -> Result<Explanation> {
        self.run_filtered(x, targets, &[])
    }

    /// [`Self::run`] under conditions, one set per input (none: unconditioned).
    pub fn run_filtered(
        &mut self,
        x: &Tensor,
        targets: &[Target],
        conditions: &[ConditionSet],
    ) -> Result<Explanation> {
        let n = check_batch(x, &self.in_shape, targets)?;
        let d: usize = self.in_shape.iter().product();
        let shared = match &self.options.noise {
            Some(t) => Some(check_noise(t, self.options.samples, n, &self.in_shape)?),
            None => None,
        };
        let (resolved, outputs) = self.scorer.resolve(x, targets)?;
        let sigmas = (0..n)
            .map(|i| {
                let v = &x.data[i * d..(i + 1) * d];
                let lo = v.iter().cloned().fold(f32::INFINITY, f32::min);
                let hi = v.iter().cloned().fold(f32::NEG_INFINITY, f32::max);
                self.options.sigma * (hi - lo)
            })
            .collect();
        let src = Noisy {
            x,
            options: &self.options,
            shared,
            sigmas,
            targets: &resolved,
        };
        let got = self.engine.run_all(n, &src, conditions)?;
        let mut map = got.m1;
        if let Some(m2) = got.m2 {
            map.iter_mut().zip(&m2).for_each(|(m, s)| *m = s - *m * *m);
        }
        let mut e = Explanation::new(
            Tensor::new(batch_shape(n, &self.in_shape), map)?,
            outputs,
            &resolved,
        )?;
        e.records = got.records;
        Ok(e)
    }
}

/// Checks explicit noise; returns whether one draw is shared by all inputs.
fn check_noise(t: &Tensor, samples: usize, n: usize, in_shape: &[usize]) -> Result<bool> {
    let rank = in_shape.len();
    let ok_data = crate::model::checked_numel(&t.shape)? == t.data.len();
    let shared = t.shape.len() == rank + 1 && t.shape[0] == samples && t.shape[1..] == in_shape[..];
    let per_item = t.shape.len() == rank + 2
        && t.shape[0] == samples
        && t.shape[1] == n
        && t.shape[2..] == in_shape[..];
    if !ok_data || !(shared || per_item) {
        return Err(Error::Shape(format!(
            "the noise is {:?} but {samples} samples of {n} inputs {in_shape:?} need [{samples}, {n}, …] or [{samples}, …]",
            t.shape
        )));
    }
    t.check_finite("the noise")?;
    Ok(shared)
}

struct Noisy<'a> {
    x: &'a Tensor,
    options: &'a SmoothOptions,
    shared: Option<bool>,
    sigmas: Vec<f32>,
    targets: &'a [Target],
}

impl Samples for Noisy<'_> {
    fn point(&self, i: usize, s: usize, out: &mut [f32]) -> Result<()> {
        let d = out.len();
        let x = &self.x.data[i * d..(i + 1) * d];
        let n = self.x.shape[0];
        let drawn;
        let noise: &[f32] = match (&self.options.noise, self.shared) {
            (Some(t), Some(true)) => &t.data[s * d..(s + 1) * d],
            (Some(t), _) => &t.data[(s * n + i) * d..(s * n + i + 1) * d],
            (None, _) => {
                drawn = gaussian_noise(self.options.seed, i, s, d, self.sigmas[i]);
                &drawn
            }
        };
        for k in 0..d {
            out[k] = x[k] + noise[k];
        }
        Ok(())
    }

    fn weight(&self, _i: usize, _s: usize) -> f32 {
        1.0 / self.options.samples as f32
    }

    fn target(&self, i: usize) -> &Target {
        &self.targets[i]
    }
}
