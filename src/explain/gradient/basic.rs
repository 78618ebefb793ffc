//! One gradient per input: saliency, the signed gradient, sensitivity analysis, gradient × input,
//! deconvnet and guided backprop.

use super::gradient_spec;
use crate::error::Result;
use crate::explain::engine::{Combine, Engine, SampleMap, Samples};
use crate::explain::explanation::{batch_shape, check_batch, target_of};
use crate::explain::filter::{ConditionSet, Filter};
use crate::explain::Explanation;
use crate::explain::Target;
use crate::gpu::DeviceModel;
use crate::layers::GradMode;
use crate::model::Tensor;

/// What a [`GradientPlan`] maps each input to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GradientMap {
    /// `|∂f/∂x|`, the saliency map (Simonyan et al. 2014; Captum's `Saliency`).
    Saliency,
    /// `∂f/∂x`, signed.
    Gradient,
    /// `(∂f/∂x)²`, sensitivity analysis (Montavon et al. 2018).
    Sensitivity,
    /// `x ⊙ ∂f/∂x` (Captum's `InputXGradient`).
    GradientTimesInput,
    /// Deconvnet (Zeiler & Fergus 2014), signed: ReLUs pass `max(ḡ, 0)`.
    Deconvnet,
    /// Guided backprop (Springenberg et al. 2015), signed: ReLUs pass `max(ḡ, 0)·[x > 0]`.
    GuidedBackprop,
}

impl GradientMap {
    fn spec(self) -> (GradMode, Combine) {
        let combine = |map, delta| Combine {
            map,
            delta,
            second: false,
        };
        match self {
            GradientMap::Saliency => (GradMode::Gradient, combine(SampleMap::Abs, false)),
            GradientMap::Gradient => (GradMode::Gradient, combine(SampleMap::Identity, false)),
            GradientMap::Sensitivity => (GradMode::Gradient, combine(SampleMap::Square, false)),
            GradientMap::GradientTimesInput => {
                (GradMode::Gradient, combine(SampleMap::Identity, true))
            }
            GradientMap::Deconvnet => (GradMode::Deconvnet, combine(SampleMap::Identity, false)),
            GradientMap::GuidedBackprop => (
                GradMode::GuidedBackprop,
                combine(SampleMap::Identity, false),
            ),
        }
    }
}

/// A plan computing one [`GradientMap`] for a model, compiled once.
pub struct GradientPlan {
    engine: Engine,
    in_shape: Vec<usize>,
}

impl GradientPlan {
    /// Bytes this plan allocated on the device besides the model's shared weights (its
    /// tensor buffers and its own constants).
    pub fn memory_bytes(&self) -> u64 {
        self.engine.memory_bytes()
    }

    /// Plans forward + backward for up to `batch` inputs per submission.
    pub fn new(model: &DeviceModel, map: GradientMap, batch: usize) -> Result<Self> {
        Self::with_filter(model, map, batch, Filter::default())
    }

    /// [`GradientPlan::new`] with filtering (see [`Filter`]).
    pub fn with_filter(
        model: &DeviceModel,
        map: GradientMap,
        batch: usize,
        filter: Filter,
    ) -> Result<Self> {
        let (mode, combine) = map.spec();
        let mut spec = gradient_spec(model.graph(), mode, 1, combine, batch);
        spec.filter = filter.clone();
        Ok(GradientPlan {
            engine: Engine::new(model, &spec)?,
            in_shape: model.graph().input_shape().to_vec(),
        })
    }

    /// Inputs per submission.
    pub fn batch(&self) -> usize {
        self.engine.inputs_per_run()
    }

    /// Explains `x` (`[N, ...input]`) with one target per item (or one for all).
    pub fn run(&mut self, x: &Tensor, targets: &[Target]) -> Result<Explanation> {
        self.run_filtered(x, targets, &[])
    }

    /// [`GradientPlan::run`] under conditions, one set per item (none: unconditioned).
    pub fn run_filtered(
        &mut self,
        x: &Tensor,
        targets: &[Target],
        conditions: &[ConditionSet],
    ) -> Result<Explanation> {
        let n = check_batch(x, &self.in_shape, targets)?;
        let got = self
            .engine
            .run_all(n, &AtInput { x, targets }, conditions)?;
        let f = got.outputs.len() / n;
        let mut e = Explanation::new(
            Tensor::new(batch_shape(n, &self.in_shape), got.m1)?,
            Tensor::new(vec![n, f], got.outputs)?,
            targets,
        )?;
        e.records = got.records;
        Ok(e)
    }
}

/// Each input itself, once; `x − 0` as the factor.
pub(crate) struct AtInput<'a> {
    pub x: &'a Tensor,
    pub targets: &'a [Target],
}

impl Samples for AtInput<'_> {
    fn point(&self, i: usize, _s: usize, out: &mut [f32]) -> Result<()> {
        let d = out.len();
        out.copy_from_slice(&self.x.data[i * d..(i + 1) * d]);
        Ok(())
    }

    fn delta(&self, i: usize, a: &mut [f32], b: &mut [f32]) -> Result<()> {
        self.point(i, 0, a)?;
        b.fill(0.0);
        Ok(())
    }

    fn target(&self, i: usize) -> &Target {
        target_of(self.targets, i)
    }
}
