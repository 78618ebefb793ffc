//! The explained outputs alone: a forward plan of the graph cut at the explained node (the
//! logits), for methods that need f at points other than their gradient samples — the
//! prediction a target resolves to, f at a baseline, and Taylor's root search.

use super::target_of;
use crate::error::Result;
use crate::explain::lrp::explained_node;
use crate::explain::Target;
use crate::gpu::Gpu;
use crate::model::{Graph, Tensor};
use crate::plan::ForwardPlan;

/// A forward plan up to the logits.
pub(crate) struct Scorer {
    plan: ForwardPlan,
}

impl Scorer {
    pub fn new(gpu: &Gpu, graph: &Graph, batch: usize) -> Result<Self> {
        let mut cut = graph.clone();
        cut.output = explained_node(graph);
        Ok(Scorer {
            plan: ForwardPlan::new(gpu, &cut.prune(), batch)?,
        })
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
