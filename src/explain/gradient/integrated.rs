//! Integrated gradients (Sundararajan et al. 2017) with Captum's Riemann quadratures: the
//! gradients at all path points of one input run in one submission and are summed on the GPU.

use super::gradient_spec;
use super::{Baseline, Scorer};
use crate::error::{Error, Result};
use crate::explain::engine::{Combine, Engine, SampleMap, Samples};
use crate::explain::explanation::{batch_shape, check_batch};
use crate::explain::filter::{ConditionSet, Filter};
use crate::explain::Explanation;
use crate::explain::Target;
use crate::gpu::DeviceModel;
use crate::layers::GradMode;
use crate::model::Tensor;

/// Riemann sums over the path, as Captum's `riemann_*` methods.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Riemann {
    /// Left end points `α = 0, 1/n, …, 1 − 1/n`.
    Left,
    /// Right end points `α = 1/n, …, 1`.
    Right,
    /// Midpoints `α = 1/2n, …, 1 − 1/2n`.
    Middle,
    /// `α = 0, 1/(n−1), …, 1` with steps `1/n`, the first and last halved (so they sum to
    /// `1 − 1/n`: Captum's quirk, kept to match it).
    Trapezoid,
}

impl Riemann {
    /// `left`, `right`, `middle` or `trapezoid` (optionally prefixed `riemann-` / `riemann_`).
    pub fn parse(s: &str) -> Result<Riemann> {
        let s = s.trim().to_ascii_lowercase();
        let s = s
            .strip_prefix("riemann-")
            .or_else(|| s.strip_prefix("riemann_"))
            .unwrap_or(&s);
        match s {
            "left" => Ok(Riemann::Left),
            "right" => Ok(Riemann::Right),
            "middle" => Ok(Riemann::Middle),
            "trapezoid" => Ok(Riemann::Trapezoid),
            _ => Err(Error::Invalid(format!(
                "unknown Riemann method '{s}'; valid: left, right, middle, trapezoid"
            ))),
        }
    }
}

/// `torch.linspace(start, end, n)` for float32, element for element: the first half counts up
/// from `start`, the second half down from `end`, each point one fused multiply-add as
/// PyTorch's CPU kernel compiles (`start + step * i` contracted to an FMA).
fn linspace(start: f64, end: f64, n: usize) -> Vec<f32> {
    let (start, end) = (start as f32, end as f32);
    if n == 1 {
        return vec![start];
    }
    let step = (end - start) / (n - 1) as f32;
    let half = n / 2;
    (0..n)
        .map(|i| {
            if i < half {
                step.mul_add(i as f32, start)
            } else {
                (-step).mul_add((n - i - 1) as f32, end)
            }
        })
        .collect()
}

/// Captum's path points `α_k` and step sizes for `steps` points (float32, as Captum feeds them).
pub fn riemann_alphas(method: Riemann, steps: usize) -> Result<(Vec<f32>, Vec<f32>)> {
    if steps == 0 {
        return Err(Error::Invalid(
            "integrated gradients needs at least 1 step".into(),
        ));
    }
    let n = steps as f64;
    let alphas = match method {
        Riemann::Trapezoid => linspace(0.0, 1.0, steps),
        Riemann::Left => linspace(0.0, 1.0 - 1.0 / n, steps),
        Riemann::Middle => linspace(1.0 / (2.0 * n), 1.0 - 1.0 / (2.0 * n), steps),
        Riemann::Right => linspace(1.0 / n, 1.0, steps),
    };
    let mut sizes = vec![1.0 / n; steps];
    if method == Riemann::Trapezoid {
        sizes[0] /= 2.0;
        sizes[steps - 1] /= 2.0;
    }
    Ok((alphas, sizes.iter().map(|&s| s as f32).collect()))
}

/// An integrated-gradients plan, compiled once for a baseline, a number of steps and a method.
pub struct IntegratedGradients {
    engine: Engine,
    scorer: Scorer,
    baseline: Baseline,
    alphas: Vec<f32>,
    sizes: Vec<f32>,
    in_shape: Vec<usize>,
}

impl IntegratedGradients {
    /// Bytes this plan allocated on the device besides the model's shared weights (its
    /// tensor buffers and its own constants).
    pub fn memory_bytes(&self) -> u64 {
        self.engine.memory_bytes() + self.scorer.memory_bytes()
    }

    /// Plans IG with `steps` path points. All points of one input run in one submission
    /// (several inputs when `batch` gradients per submission allow, e.g. 2 inputs at 64 steps
    /// with `batch` 128), fewer only when the device cannot bind them.
    pub fn new(
        model: &DeviceModel,
        baseline: Baseline,
        steps: usize,
        method: Riemann,
        batch: usize,
    ) -> Result<Self> {
        Self::with_filter(model, baseline, steps, method, batch, Filter::default())
    }

    /// [`Self::new`] with filtering's conditions and recorded nodes (see [`Filter`]).
    pub fn with_filter(
        model: &DeviceModel,
        baseline: Baseline,
        steps: usize,
        method: Riemann,
        batch: usize,
        filter: Filter,
    ) -> Result<Self> {
        let (alphas, sizes) = riemann_alphas(method, steps)?;
        baseline.check_shape(model.graph().input_shape())?;
        let mut spec = gradient_spec(
            model.graph(),
            GradMode::Gradient,
            steps,
            Combine {
                map: SampleMap::Identity,
                delta: true,
                second: false,
            },
            batch,
        );
        spec.filter = filter;
        Ok(IntegratedGradients {
            engine: Engine::new(model, &spec)?,
            scorer: Scorer::new(model, spec.filter.start, batch)?,
            baseline,
            alphas,
            sizes,
            in_shape: model.graph().input_shape().to_vec(),
        })
    }

    /// Explains `x`; the result carries f(x′) and the completeness residual
    /// `f(x) − f(x′) − ΣIG`.
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
        self.baseline.check(&self.in_shape, n)?;
        let (resolved, outputs) = self.scorer.resolve(x, targets)?;
        let d: usize = self.in_shape.iter().product();
        let mut base = Tensor::zeros(x.shape.clone());
        for i in 0..n {
            self.baseline.write(i, &mut base.data[i * d..(i + 1) * d]);
        }
        let reference = self.scorer.logits(&base)?;
        let src = Path {
            x,
            base: &base,
            alphas: &self.alphas,
            sizes: &self.sizes,
            targets: &resolved,
        };
        let got = self.engine.run_all(n, &src, conditions)?;
        let mut e = Explanation::new(
            Tensor::new(batch_shape(n, &self.in_shape), got.m1)?,
            outputs,
            &resolved,
        )?
        .with_reference(&reference.data, &resolved, true)?;
        e.records = got.records;
        Ok(e)
    }
}

/// The straight path from the baseline to the input.
struct Path<'a> {
    x: &'a Tensor,
    base: &'a Tensor,
    alphas: &'a [f32],
    sizes: &'a [f32],
    targets: &'a [Target],
}

impl Samples for Path<'_> {
    fn point(&self, i: usize, s: usize, out: &mut [f32]) -> Result<()> {
        let d = out.len();
        let (x, b) = (&self.x.data[i * d..], &self.base.data[i * d..]);
        let a = self.alphas[s];
        for k in 0..d {
            out[k] = b[k] + a * (x[k] - b[k]);
        }
        Ok(())
    }

    fn weight(&self, _i: usize, s: usize) -> f32 {
        self.sizes[s]
    }

    fn delta(&self, i: usize, a: &mut [f32], b: &mut [f32]) -> Result<()> {
        let d = a.len();
        a.copy_from_slice(&self.x.data[i * d..(i + 1) * d]);
        b.copy_from_slice(&self.base.data[i * d..(i + 1) * d]);
        Ok(())
    }

    fn target(&self, i: usize) -> &Target {
        &self.targets[i]
    }
}
