//! One explainer for every method: built from a device model, a method and a batch size.

use super::cam::CamPlan;
use super::gradient::{DeepLiftPlan, GradientPlan, IntegratedGradients, SmoothGrad, TaylorPlan};
use super::occlusion::OcclusionPlan;
use super::{Explanation, LrpPlan, Method, Target};
use crate::error::Result;
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
        let plan = match method {
            Method::Lrp {
                composite,
                conservation,
            } => Plan::Lrp(LrpPlan::new(model, composite, batch, *conservation)?),
            Method::Gradient(map) => Plan::Gradient(GradientPlan::new(model, *map, batch)?),
            Method::Taylor { root } => Plan::Taylor(TaylorPlan::new(model, root.clone(), batch)?),
            Method::DeepLift { baseline } => {
                Plan::DeepLift(DeepLiftPlan::new(model, baseline.clone(), batch)?)
            }
            Method::IntegratedGradients {
                baseline,
                steps,
                riemann,
            } => Plan::Integrated(IntegratedGradients::new(
                model,
                baseline.clone(),
                *steps,
                *riemann,
                batch,
            )?),
            Method::SmoothGrad(options) => {
                Plan::Smooth(SmoothGrad::new(model, options.clone(), batch)?)
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
