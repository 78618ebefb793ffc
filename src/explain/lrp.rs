//! Layer-wise relevance propagation: the engine's program under a composite's rules, seeded with
//! `w ⊙ f(x)`, forward and backward in one submission.

use super::backward::Seed;
use super::engine::{explained_node, Engine, EngineSpec};
use super::explanation::{batch_shape, check_batch, LayerSum};
use super::filter::{ConditionSet, Filter};
use super::gradient::AtInput;
use super::{Composite, Explanation, Target};
use crate::error::{Error, Result};
use crate::gpu::DeviceModel;
use crate::model::Tensor;

/// An LRP plan: a model, a composite and a batch size, compiled once.
pub struct LrpPlan {
    engine: Engine,
    in_shape: Vec<usize>,
    names: Vec<(String, &'static str)>,
    start: usize,
    conservation: bool,
}

impl LrpPlan {
    /// Bytes this plan allocated on the device besides the model's shared weights (its
    /// tensor buffers and its own constants).
    pub fn memory_bytes(&self) -> u64 {
        self.engine.memory_bytes()
    }

    /// Plans forward + LRP for up to `batch` items per submission. `conservation` records the
    /// relevance sum of every layer. A rule that does not apply to a layer is an error here.
    pub fn new(
        model: &DeviceModel,
        composite: &Composite,
        batch: usize,
        conservation: bool,
    ) -> Result<Self> {
        Self::with_filter(model, composite, batch, conservation, Filter::default())
    }

    /// [`LrpPlan::new`] with filtering: the backward pass starts at the filter's start node (the
    /// composite's rules as the node's place in the graph gives them), its conditioned nodes
    /// take each run's conditions, its recorded nodes are read back.
    pub fn with_filter(
        model: &DeviceModel,
        composite: &Composite,
        batch: usize,
        conservation: bool,
        filter: Filter,
    ) -> Result<Self> {
        let graph = model.graph();
        let start = filter.start.unwrap_or_else(|| explained_node(graph));
        let spec = EngineSpec {
            rules: composite.node_rules(graph, start)?,
            seed: if filter.given_start {
                Seed::Gradient
            } else {
                Seed::Relevance
            },
            reference: false,
            samples: 1,
            combine: None,
            stop: 0,
            read_stop_value: false,
            sums: conservation,
            batch,
            filter,
        };
        Ok(LrpPlan {
            engine: Engine::new(model, &spec)?,
            in_shape: graph.input_shape().to_vec(),
            names: graph
                .nodes
                .iter()
                .map(|n| (n.name.clone(), n.op.kind()))
                .collect(),
            start,
            conservation,
        })
    }

    /// Items per submission.
    pub fn batch(&self) -> usize {
        self.engine.inputs_per_run()
    }

    /// The compiled program.
    pub fn executable(&self) -> &crate::gpu::Executable {
        self.engine.executable()
    }

    /// Explains one input (`[...input]` or `[1, ...input]`) for several classes at once: the
    /// input is repeated once per class, so all classes share the plan's submissions.
    pub fn run_classes(&mut self, x: &Tensor, classes: &[usize]) -> Result<Explanation> {
        let item: usize = self.in_shape.iter().product();
        if x.numel() != item {
            return Err(Error::Shape(format!(
                "run_classes takes one input of shape {:?}, got {:?}",
                self.in_shape, x.shape
            )));
        }
        let batch = Tensor::new(
            batch_shape(classes.len(), &self.in_shape),
            x.data.repeat(classes.len()),
        )?;
        let targets: Vec<Target> = classes.iter().map(|&c| Target::Class(c)).collect();
        self.run(&batch, &targets)
    }

    /// Explains `x` (`[N, ...input]`) with one target per item (or one target for all).
    pub fn run(&mut self, x: &Tensor, targets: &[Target]) -> Result<Explanation> {
        self.run_filtered(x, targets, &[])
    }

    /// [`LrpPlan::run`] under conditions, one set per item (none: unconditioned); targets
    /// weight the start node's values.
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
        if self.conservation {
            let sums = got.sums.unwrap_or_default();
            e.layers = Some(
                (0..=self.start)
                    .rev()
                    .filter(|&k| sums.get(k).is_some_and(|s| !s.is_empty()))
                    .map(|k| LayerSum {
                        name: self.names[k].0.clone(),
                        kind: self.names[k].1,
                        sums: sums[k].clone(),
                    })
                    .collect(),
            );
        }
        Ok(e)
    }
}
