//! One explainer for every method: built from a device model, a method and a batch size.

use super::cam::CamPlan;
use super::filter::{ConditionSet, Filter};
use super::gradient::{DeepLiftPlan, GradientPlan, IntegratedGradients, SmoothGrad, TaylorPlan};
use super::occlusion::OcclusionPlan;
use super::{Explanation, LrpPlan, Method, Target};
use crate::error::{Error, Result};
use crate::gpu::DeviceModel;
use crate::model::Tensor;

/// A compiled plan of one method.
enum Plan {
    Lrp(LrpPlan),
    Gradient(GradientPlan),
    Taylor(TaylorPlan),
    DeepLift(DeepLiftPlan),
    Integrated(IntegratedGradients),
    Smooth(SmoothGrad),
    Cam(CamPlan),
    Occlusion(OcclusionPlan),
}

/// Explains inputs of one model with one method.
pub struct Explainer {
    plan: Plan,
    method: Method,
    batch: usize,
}

impl Explainer {
    /// Plans `method` on `model` for up to `batch` gradient items per submission (for the
    /// sampling methods, a submission holds all samples of as many inputs as fit).
    pub fn new(model: &DeviceModel, method: &Method, batch: usize) -> Result<Self> {
        Self::with_filter(model, method, batch, Filter::default())
    }

    /// [`Explainer::new`] with filtering (a start node, conditioned and recorded nodes), for
    /// LRP and the gradient methods; CAMs and occlusion refuse a filter.
    pub fn with_filter(
        model: &DeviceModel,
        method: &Method,
        batch: usize,
        filter: Filter,
    ) -> Result<Self> {
        let filtered = !filter.is_none();
        let plan = match method {
            Method::Lrp {
                composite,
                conservation,
            } => Plan::Lrp(LrpPlan::with_filter(
                model,
                composite,
                batch,
                *conservation,
                filter,
            )?),
            Method::Gradient(map) => {
                Plan::Gradient(GradientPlan::with_filter(model, *map, batch, filter)?)
            }
            Method::Taylor { root } => {
                Plan::Taylor(TaylorPlan::with_filter(model, root.clone(), batch, filter)?)
            }
            Method::DeepLift { baseline } => Plan::DeepLift(DeepLiftPlan::with_filter(
                model,
                baseline.clone(),
                batch,
                filter,
            )?),
            Method::IntegratedGradients {
                baseline,
                steps,
                riemann,
            } => Plan::Integrated(IntegratedGradients::with_filter(
                model,
                baseline.clone(),
                *steps,
                *riemann,
                batch,
                filter,
            )?),
            Method::SmoothGrad(options) => Plan::Smooth(SmoothGrad::with_filter(
                model,
                options.clone(),
                batch,
                filter,
            )?),
            _ if filtered => {
                return Err(Error::Invalid(format!(
                    "filtering (a start node, conditions, recorded nodes) applies to lrp and the \
                     gradient methods, not to {}",
                    method.name()
                )))
            }
            Method::Cam { kind, layer } => {
                Plan::Cam(CamPlan::new(model, *kind, layer.as_ref(), batch)?)
            }
            Method::Occlusion(options) => {
                Plan::Occlusion(OcclusionPlan::new(model, options, batch)?)
            }
        };
        Ok(Explainer {
            plan,
            method: method.clone(),
            batch: batch.max(1),
        })
    }

    /// The method.
    pub fn method(&self) -> &Method {
        &self.method
    }

    /// Inputs the explainer takes per call without splitting them further (what a caller
    /// streaming inputs should batch them by).
    pub fn batch(&self) -> usize {
        self.batch
    }

    /// Bytes this explainer allocated on the device besides the model's shared weights.
    pub fn memory_bytes(&self) -> u64 {
        match &self.plan {
            Plan::Lrp(p) => p.memory_bytes(),
            Plan::Gradient(p) => p.memory_bytes(),
            Plan::Taylor(p) => p.memory_bytes(),
            Plan::DeepLift(p) => p.memory_bytes(),
            Plan::Integrated(p) => p.memory_bytes(),
            Plan::Smooth(p) => p.memory_bytes(),
            Plan::Cam(p) => p.memory_bytes(),
            Plan::Occlusion(p) => p.memory_bytes(),
        }
    }

    /// Explains `x` under conditions, one set per item (see [`Filter`]); targets weight the
    /// start node's values.
    pub fn explain_filtered(
        &mut self,
        x: &Tensor,
        targets: &[Target],
        conditions: &[ConditionSet],
    ) -> Result<Explanation> {
        match &mut self.plan {
            Plan::Lrp(p) => p.run_filtered(x, targets, conditions),
            Plan::Gradient(p) => p.run_filtered(x, targets, conditions),
            Plan::Taylor(p) => p.run_filtered(x, targets, conditions),
            Plan::DeepLift(p) => p.run_filtered(x, targets, conditions),
            Plan::Integrated(p) => p.run_filtered(x, targets, conditions),
            Plan::Smooth(p) => p.run_filtered(x, targets, conditions),
            _ if conditions.is_empty() => self.explain(x, targets),
            _ => Err(Error::Invalid(format!(
                "conditions apply to lrp and the gradient methods, not to {}",
                self.method.name()
            ))),
        }
    }

    /// Explains `x` (`[N, ...input]`) with one target per item, or one for all.
    pub fn explain(&mut self, x: &Tensor, targets: &[Target]) -> Result<Explanation> {
        match &mut self.plan {
            Plan::Lrp(p) => p.run(x, targets),
            Plan::Gradient(p) => p.run(x, targets),
            Plan::Taylor(p) => p.run(x, targets),
            Plan::DeepLift(p) => p.run(x, targets),
            Plan::Integrated(p) => p.run(x, targets),
            Plan::Smooth(p) => p.run(x, targets),
            Plan::Cam(p) => p.run(x, targets),
            Plan::Occlusion(p) => p.run(x, targets),
        }
    }
}
