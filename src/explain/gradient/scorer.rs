//! The explained outputs alone: a forward program reading the explained node (the logits), on
//! the same device model (so the same weights), for methods that need f at points other than
//! their gradient samples — the prediction a target resolves to, f at a baseline, and Taylor's
//! root search.

use crate::error::Result;
use crate::explain::explanation::target_of;
use crate::explain::Target;
use crate::gpu::DeviceModel;
use crate::model::{NodeId, Tensor};
use crate::predict::Predictor;

/// A forward program up to the logits.
pub(crate) struct Scorer {
    plan: Predictor,
}

impl Scorer {
    /// Bytes of the tensor buffers and own constants.
    pub fn memory_bytes(&self) -> u64 {
        let e = self.plan.executable();
        e.buffer_bytes() + e.own_constant_bytes()
    }

    /// Reads the explained node, or `start` (a filter's start node) when given.
    pub fn new(model: &DeviceModel, start: Option<NodeId>, batch: usize) -> Result<Self> {
        let plan = match start {
            Some(node) => Predictor::at(model, node, batch)?,
            None => Predictor::logits(model, batch)?,
        };
        Ok(Scorer { plan })
    }

    /// The logits of `x` (`[N, ...input]`), `[N, F]`.
    pub fn logits(&mut self, x: &Tensor) -> Result<Tensor> {
        let y = self.plan.run(x)?;
        let n = y.shape[0];
        let f = y.numel() / n.max(1);
        Tensor::new(vec![n, f], y.data)
    }

    /// The targets with [`Target::Predicted`] resolved to the class the logits of `x` predict,
    /// one per item, and those logits: methods whose gradients are taken at other points
    /// (IG's path, SmoothGrad's noisy copies, Taylor's root) explain the prediction at x.
    pub fn resolve(&mut self, x: &Tensor, targets: &[Target]) -> Result<(Vec<Target>, Tensor)> {
        let y = self.logits(x)?;
        let f = y.shape[1];
        let resolved = (0..y.shape[0])
            .map(|i| match target_of(targets, i) {
                Target::Predicted => {
                    Target::Class(crate::explain::argmax(&y.data[i * f..(i + 1) * f]))
                }
                t => t.clone(),
            })
            .collect();
        Ok((resolved, y))
    }
}
