//! Layer-wise relevance propagation on the GPU: forward and backward in one submission.

mod linear;
mod record;
mod reference;
mod terms;

pub use linear::Linear;
pub use reference::{reference_lrp, stabilize};

use crate::error::{Error, Result};
use crate::explain::{Composite, Target};
use crate::gpu::Gpu;
use crate::model::{Graph, Op, Tensor};
use crate::plan::predict::items_per_submission;
use crate::plan::{record_forward, Plan, PlanBuilder, TensorId};
use record::{record_lrp, LrpSettings};

/// Relevance of one node, summed per item, for the conservation report.
#[derive(Clone, Debug, PartialEq)]
pub struct LayerSum {
    /// Node name.
    pub name: String,
    /// Node kind.
    pub kind: &'static str,
    /// Sum of relevance per batch item.
    pub sums: Vec<f32>,
}

/// The result of explaining a batch.
#[derive(Clone, Debug)]
pub struct Explanation {
    /// Relevance at the input, `[N, ...input shape]`.
    pub relevance: Tensor,
    /// The explained outputs f(x) (logits when the model ends in a softmax), `[N, F]`.
    pub outputs: Tensor,
    /// The class each item's relevance was computed for (argmax for weightings).
    pub classes: Vec<usize>,
    /// Per-layer relevance sums (when the plan records them), from output to input.
    pub layers: Option<Vec<LayerSum>>,
}

impl Explanation {
    /// Sum of relevance at the input, per item.
    pub fn relevance_sums(&self) -> Vec<f64> {
        let n = self.relevance.shape[0];
        let item = self.relevance.numel() / n.max(1);
        self.relevance
            .data
            .chunks(item)
            .map(|c| c.iter().map(|&v| v as f64).sum())
            .collect()
    }
}

/// An LRP plan: a model, a composite and a batch size, compiled once.
pub struct LrpPlan {
    plan: Plan,
    input: TensorId,
    outputs: TensorId,
    target: TensorId,
    relevance: TensorId,
    sums: Option<TensorId>,
    batch: usize,
    in_shape: Vec<usize>,
    features: usize,
    names: Vec<(String, &'static str)>,
    start: usize,
}

impl LrpPlan {
    /// Plans forward + LRP for up to `batch` items per submission. `conservation` records the
    /// relevance sum of every layer.
    pub fn new(
        gpu: &Gpu,
        graph: &Graph,
        composite: &Composite,
        batch: usize,
        conservation: bool,
    ) -> Result<Self> {
        let rules = composite.rules_for(graph)?;
        let start = explained_node(graph);
        // Relevance and intermediate terms roughly triple what one forward item needs.
        let batch = items_per_submission(gpu, graph, batch)?;
        let mut b = PlanBuilder::new(gpu);
        let values = record_forward(&mut b, graph, batch)?;
        let settings = LrpSettings {
            rules: &rules,
            stabilizer: composite.stabilizer,
            ignore_bias: composite.ignore_bias,
            conservation,
        };
        let t = record_lrp(&mut b, graph, &values, batch, start, &settings)?;
        for keep in [values[0], values[start], t.target, t.input_relevance] {
            b.keep(keep);
        }
        if let Some(s) = t.sums {
            b.keep(s);
        }
        Ok(LrpPlan {
            plan: b.build()?,
            input: values[0],
            outputs: values[start],
            target: t.target,
            relevance: t.input_relevance,
            sums: t.sums,
            batch,
            in_shape: graph.input_shape().to_vec(),
            features: graph.nodes[start].shape.iter().product(),
            names: graph
                .nodes
                .iter()
                .map(|n| (n.name.clone(), n.op.kind()))
                .collect(),
            start,
        })
    }

    /// Items per submission.
    pub fn batch(&self) -> usize {
        self.batch
    }

    /// The underlying plan.
    pub fn plan(&self) -> &Plan {
        &self.plan
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
        let n = classes.len();
        let shape = std::iter::once(n)
            .chain(self.in_shape.iter().cloned())
            .collect();
        let batch = Tensor::new(shape, x.data.repeat(n))?;
        let targets: Vec<Target> = classes.iter().map(|&c| Target::Class(c)).collect();
        self.run(&batch, &targets)
    }

    /// Explains `x` (`[N, ...input]`) with one target per item (or one target for all).
    pub fn run(&mut self, x: &Tensor, targets: &[Target]) -> Result<Explanation> {
        if x.shape.len() != self.in_shape.len() + 1
            || x.shape[1..] != self.in_shape[..]
            || x.shape[0] == 0
        {
            return Err(Error::Shape(format!(
                "the model takes [N, {:?}], got {:?}",
                self.in_shape, x.shape
            )));
        }
        x.check_finite("the input batch")?;
        let n = x.shape[0];
        if targets.len() != 1 && targets.len() != n {
            return Err(Error::Invalid(format!(
                "{} targets for {n} inputs: give one, or one per input",
                targets.len()
            )));
        }
        let item_in: usize = self.in_shape.iter().product();
        let f = self.features;
        let mut relevance = Vec::with_capacity(n * item_in);
        let mut outputs = Vec::with_capacity(n * f);
        let mut sums: Vec<Vec<f32>> = vec![Vec::new(); self.names.len()];
        for start in (0..n).step_by(self.batch) {
            let end = (start + self.batch).min(n);
            let mut chunk = x.data[start * item_in..end * item_in].to_vec();
            chunk.resize(self.batch * item_in, 0.0);
            let mut modes = vec![0.0f32; self.batch];
            let mut weights = vec![0.0f32; self.batch * f];
            for i in start..end {
                let t = &targets[if targets.len() == 1 { 0 } else { i }];
                let (mode, w) = t.encode(f)?;
                modes[i - start] = mode;
                weights[(i - start) * f..(i - start + 1) * f].copy_from_slice(&w);
            }
            modes.extend(weights);
            self.plan.write(self.input, &chunk)?;
            self.plan.write(self.target, &modes)?;
            let m = end - start;
            let mut reads = vec![(self.relevance, m * item_in), (self.outputs, m * f)];
            if let Some(s) = self.sums {
                reads.push((s, self.names.len() * self.batch));
            }
            let got = self.plan.run(&reads)?;
            relevance.extend_from_slice(&got[0]);
            outputs.extend_from_slice(&got[1]);
            if let Some(all) = got.get(2) {
                for (k, s) in sums.iter_mut().enumerate() {
                    s.extend_from_slice(&all[k * self.batch..k * self.batch + m]);
                }
            }
        }
        let classes = (0..n)
            .map(|i| {
                let row = &outputs[i * f..(i + 1) * f];
                let t = &targets[if targets.len() == 1 { 0 } else { i }];
                t.weights_for(row).map(|w| super::target::argmax(&w))
            })
            .collect::<Result<Vec<_>>>()?;
        let layers = self.sums.map(|_| {
            (0..=self.start)
                .rev()
                .filter(|&k| !sums[k].is_empty())
                .map(|k| LayerSum {
                    name: self.names[k].0.clone(),
                    kind: self.names[k].1,
                    sums: sums[k].clone(),
                })
                .collect()
        });
        Ok(Explanation {
            relevance: Tensor::new(
                std::iter::once(n)
                    .chain(self.in_shape.iter().cloned())
                    .collect(),
                relevance,
            )?,
            outputs: Tensor::new(vec![n, f], outputs)?,
            classes,
            layers,
        })
    }
}

/// The node an explanation starts from: the output, or the logits before a final softmax.
pub fn explained_node(graph: &Graph) -> usize {
    match graph.nodes[graph.output].op {
        Op::Softmax => graph.nodes[graph.output].inputs[0],
        _ => graph.output,
    }
}
