//! A forward-only plan: input batch in, network output back.

use super::builder::{Plan, PlanBuilder, TensorId};
use super::forward::record_forward;
use crate::error::{Error, Result};
use crate::gpu::Gpu;
use crate::model::{Graph, Tensor};

/// The forward pass of a graph planned for a fixed number of items per submission.
pub struct ForwardPlan {
    plan: Plan,
    input: TensorId,
    output: TensorId,
    batch: usize,
    in_shape: Vec<usize>,
    out_shape: Vec<usize>,
}

/// Items per submission: at most `wanted`, few enough that every tensor of `graph` stays
/// bindable, and splitting `wanted` items evenly; fails when not even one item fits.
pub fn items_per_submission(gpu: &Gpu, graph: &Graph, wanted: usize) -> Result<usize> {
    let (name, per_item) = graph
        .nodes
        .iter()
        .map(|n| {
            (
                n.name.as_str(),
                4 * n.shape.iter().product::<usize>() as u64,
            )
        })
        .max_by_key(|&(_, b)| b)
        .unwrap_or(("input", 4));
    let limit = gpu.max_binding().min(gpu.limits().max_buffer_size);
    let fit = (limit / per_item.max(1)) as usize;
    if fit == 0 {
        return Err(Error::TooLarge {
            tensor: name.to_string(),
            bytes: per_item,
            limit,
        });
    }
    // As few submissions as the limit allows, evenly filled: 16 items where 10 fit run as 8 + 8,
    // not as 10 + 6 padded to 10.
    let wanted = wanted.max(1);
    Ok(wanted.div_ceil(wanted.div_ceil(fit)))
}

impl ForwardPlan {
    /// Plans the forward pass for up to `batch` items per submission (fewer when the device's
    /// binding limit requires it; [`ForwardPlan::run`] then splits larger inputs).
    pub fn new(gpu: &Gpu, graph: &Graph, batch: usize) -> Result<Self> {
        let batch = items_per_submission(gpu, graph, batch)?;
        let mut b = PlanBuilder::new(gpu);
        let values = record_forward(&mut b, graph, batch)?;
        let (input, output) = (values[0], values[graph.output]);
        b.keep(input);
        b.keep(output);
        Ok(ForwardPlan {
            plan: b.build()?,
            input,
            output,
            batch,
            in_shape: graph.input_shape().to_vec(),
            out_shape: graph.output_shape().to_vec(),
        })
    }

    /// Items per submission.
    pub fn batch(&self) -> usize {
        self.batch
    }

    /// The underlying plan (pass and buffer statistics).
    pub fn plan(&self) -> &Plan {
        &self.plan
    }

    /// Runs `x` (`[N, ...input shape]`, any N ≥ 1) in submissions of at most `batch` items.
    pub fn run(&mut self, x: &Tensor) -> Result<Tensor> {
        if x.shape.len() != self.in_shape.len() + 1
            || x.shape[1..] != self.in_shape[..]
            || x.shape[0] == 0
        {
            return Err(Error::Shape(format!(
                "the model takes [N, {}], got {:?}",
                self.in_shape
                    .iter()
                    .map(|d| d.to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
                x.shape
            )));
        }
        x.check_finite("the input batch")?;
        let n = x.shape[0];
        let item_in: usize = self.in_shape.iter().product();
        let item_out: usize = self.out_shape.iter().product();
        let mut out = Vec::with_capacity(n * item_out);
        for start in (0..n).step_by(self.batch) {
            let end = (start + self.batch).min(n);
            let mut chunk = x.data[start * item_in..end * item_in].to_vec();
            chunk.resize(self.batch * item_in, 0.0);
            self.plan.write(self.input, &chunk)?;
            let got = self.plan.run(&[(self.output, (end - start) * item_out)])?;
            out.extend_from_slice(&got[0]);
        }
        Tensor::new(
            std::iter::once(n)
                .chain(self.out_shape.iter().cloned())
                .collect(),
            out,
        )
    }
}
