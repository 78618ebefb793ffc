//! DeepLIFT with the rescale rule (Shrikumar et al. 2017), as Captum's `DeepLift`: the input
//! and its reference run forward together in one submission (the references as extra batch
//! items), the backward pass replaces each ReLU's derivative by `Δy / Δx` and max pools by
//! Captum's multiplier, and the map is `(x − x′) ⊙ m`. Its sum is `f(x) − f(x′)`.

use super::gradient_spec;
use super::Baseline;
use crate::error::Result;
use crate::explain::engine::{Combine, Engine, SampleMap, Samples};
use crate::explain::explanation::{batch_shape, check_batch, target_of};
use crate::explain::filter::{ConditionSet, Filter};
use crate::explain::Explanation;
use crate::explain::Target;
use crate::gpu::DeviceModel;
use crate::layers::GradMode;
use crate::model::Tensor;

/// A DeepLIFT plan for a model and a reference input, compiled once.
pub struct DeepLiftPlan {
    engine: Engine,
    baseline: Baseline,
    in_shape: Vec<usize>,
}

impl DeepLiftPlan {
    /// Bytes this plan allocated on the device besides the model's shared weights (its
    /// tensor buffers and its own constants).
    pub fn memory_bytes(&self) -> u64 {
        self.engine.memory_bytes()
    }

    /// Plans DeepLIFT for up to `batch` inputs per submission against `baseline`.
    pub fn new(model: &DeviceModel, baseline: Baseline, batch: usize) -> Result<Self> {
        Self::with_filter(model, baseline, batch, Filter::default())
    }

    /// [`Self::new`] with filtering's conditions and recorded nodes (see [`Filter`]).
    pub fn with_filter(
        model: &DeviceModel,
        baseline: Baseline,
        batch: usize,
        filter: Filter,
    ) -> Result<Self> {
        baseline.check_shape(model.graph().input_shape())?;
        let mut spec = gradient_spec(
            model.graph(),
            GradMode::Rescale,
            1,
            Combine {
                map: SampleMap::Identity,
                delta: true,
                second: false,
            },
            batch,
        );
        spec.filter = filter;
        Ok(DeepLiftPlan {
            engine: Engine::new(model, &spec)?,
            baseline,
            in_shape: model.graph().input_shape().to_vec(),
        })
    }

    /// Inputs per submission.
    pub fn batch(&self) -> usize {
        self.engine.inputs_per_run()
    }

    /// Explains `x` (`[N, ...input]`); the result carries f(x′) and the completeness residual.
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
        let src = AgainstBaseline {
            x,
            baseline: &self.baseline,
            targets,
        };
        let got = self.engine.run_all(n, &src, conditions)?;
        let f = got.outputs.len() / n;
        let refs = got.reference_outputs.unwrap_or_default();
        let mut e = Explanation::new(
            Tensor::new(batch_shape(n, &self.in_shape), got.m1)?,
            Tensor::new(vec![n, f], got.outputs)?,
            targets,
        )?
        .with_reference(&refs, targets, true)?;
        e.records = got.records;
        Ok(e)
    }
}

struct AgainstBaseline<'a> {
    x: &'a Tensor,
    baseline: &'a Baseline,
    targets: &'a [Target],
}

impl Samples for AgainstBaseline<'_> {
    fn point(&self, i: usize, _s: usize, out: &mut [f32]) -> Result<()> {
        let d = out.len();
        out.copy_from_slice(&self.x.data[i * d..(i + 1) * d]);
        Ok(())
    }

    fn reference(&self, i: usize, out: &mut [f32]) -> Result<()> {
        self.baseline.write(i, out);
        Ok(())
    }

    fn delta(&self, i: usize, a: &mut [f32], b: &mut [f32]) -> Result<()> {
        self.point(i, 0, a)?;
        self.baseline.write(i, b);
        Ok(())
    }

    fn target(&self, i: usize) -> &Target {
        target_of(self.targets, i)
    }
}
