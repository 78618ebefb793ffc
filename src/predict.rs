//! Predictions: the forward program of a model, a batch in, the outputs back.

use crate::error::{Error, Result};
use crate::explain::engine::explained_node;
use crate::gpu::{DeviceModel, Executable};
use crate::model::{NodeId, Tensor};
use crate::plan::{items_per_submission, record_forward, Program, TensorId};

/// The forward pass of a model, compiled for a number of items per submission.
pub struct Predictor {
    exe: Executable,
    input: TensorId,
    output: TensorId,
    batch: usize,
    in_shape: Vec<usize>,
    out_shape: Vec<usize>,
}

impl Predictor {
    /// Plans the forward pass for up to `batch` items per submission (fewer when the device's
    /// binding limit requires it; [`Predictor::run`] then splits larger inputs), reading the
    /// model's output.
    pub fn new(model: &DeviceModel, batch: usize) -> Result<Self> {
        Self::reading(model, model.graph().output, batch)
    }

    /// Like [`Predictor::new`], reading the explained outputs: the logits before a final
    /// softmax.
    pub fn logits(model: &DeviceModel, batch: usize) -> Result<Self> {
        Self::reading(model, explained_node(model.graph()), batch)
    }

    /// Like [`Predictor::new`], reading the forward value of `node` (an inner activation).
    pub fn at(model: &DeviceModel, node: NodeId, batch: usize) -> Result<Self> {
        Self::reading(model, node, batch)
    }

    fn reading(model: &DeviceModel, node: NodeId, batch: usize) -> Result<Self> {
        let graph = model.graph();
        let profile = model.profile();
        let batch = items_per_submission(&profile, graph, batch)?;
        let mut p = Program::new(&profile);
        let values = record_forward(&mut p, graph, batch)?;
        let (input, output) = (values[0], values[node]);
        p.keep(output);
        Ok(Predictor {
            exe: Executable::new(model, p)?,
            input,
            output,
            batch,
            in_shape: graph.input_shape().to_vec(),
            out_shape: graph.nodes[node].shape.clone(),
        })
    }

    /// Items per submission.
    pub fn batch(&self) -> usize {
        self.batch
    }

    /// The compiled program (pass and buffer statistics, profiling).
    pub fn executable(&self) -> &Executable {
        &self.exe
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
            self.exe.write(self.input, &chunk)?;
            let got = self.exe.run(&[(self.output, (end - start) * item_out)])?;
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
