//! The evaluator: inputs and their maps in, one curve and one score per input out. Rankings
//! and fills are made on the CPU (a sort per input); every perturbed input is built on the GPU
//! inside the sweep, in batches of the forward pass.

use super::baseline::fill;
use super::metric::EvalOptions;
use super::ranking::{broadcast, ranks, region_scores, Grid};
use super::sweep::{Sweep, SweepShape, MAX_SLOTS};
use crate::error::{Error, Result};
use crate::gpu::DeviceModel;
use crate::model::Tensor;
use crate::predict::Predictor;

/// Inputs per sweep run at most (bounded further by the bytes they need).
const MAX_CHUNK: usize = 4096;
/// Bytes of inputs, ranks and fills one sweep run holds at most.
const CHUNK_BYTES: u64 = 256 << 20;

/// Curves and scores of a batch of inputs.
#[derive(Clone, Debug)]
pub struct Evaluation {
    /// One curve per input, `[N, K + 1]`, the unperturbed input first.
    pub curves: Tensor,
    /// The raw score f(x_k) (logit or probability) per input and step, `[N, K + 1]`.
    pub raw: Tensor,
    /// One score per input (see [`super::Metric::score`]).
    pub scores: Vec<f64>,
    /// The class evaluated per input.
    pub classes: Vec<usize>,
}

/// Evaluates explanations of one model with one metric.
pub struct Evaluator<'m> {
    model: &'m DeviceModel,
    options: EvalOptions,
    grid: Grid,
    shape: SweepShape,
    batch: usize,
    sweep: Option<Sweep>,
    predictor: Option<Predictor>,
}

impl<'m> Evaluator<'m> {
    /// An evaluator with `batch` perturbed inputs per forward pass.
    pub fn new(model: &'m DeviceModel, options: EvalOptions, batch: usize) -> Result<Self> {
        let graph = model.graph();
        let grid = Grid::new(graph.input_shape(), options.metric.regions())?;
        let steps = options.metric.steps(grid.count())?;
        let shape = SweepShape {
            grid,
            per_step: options.metric.per_step(),
            steps,
            image_fill: options.baseline.is_image(),
            probability: options.probability,
        };
        if shape.image_fill && grid.chw[1] * grid.chw[2] == 1 {
            return Err(Error::Invalid(
                "a blurred baseline needs image inputs [C, H, W]".into(),
            ));
        }
        Ok(Evaluator {
            model,
            options,
            grid,
            shape,
            batch: batch.max(1),
            sweep: None,
            predictor: None,
        })
    }

    /// The options.
    pub fn options(&self) -> &EvalOptions {
        &self.options
    }

    /// Steps K of every curve.
    pub fn steps(&self) -> usize {
        self.shape.steps
    }

    /// Forward passes of single inputs one evaluation of `n` inputs needs: n · (K + 1).
    pub fn forward_items(&self, n: usize) -> usize {
        n * self.shape.slots()
    }

    /// The sweep of the last evaluation (its program, its batch).
    pub fn sweep(&self) -> Option<&Sweep> {
        self.sweep.as_ref()
    }

    /// Curves and scores of `x` (`[N, …input]`) explained by `maps` (`[N, …input]`, or
    /// `[N, 1, H, W]` broadcast over the channels), for `classes` (the prediction when `None`).
    pub fn evaluate(
        &mut self,
        x: &Tensor,
        maps: &Tensor,
        classes: Option<&[usize]>,
    ) -> Result<Evaluation> {
        let graph = self.model.graph();
        let numel = self.grid.numel();
        let n = x.shape.first().copied().unwrap_or(0);
        if x.shape.len() != graph.input_shape().len() + 1
            || x.shape[1..] != graph.input_shape()[..]
            || n == 0
        {
            return Err(Error::Shape(format!(
                "the model takes [N, {:?}], got inputs {:?}",
                graph.input_shape(),
                x.shape
            )));
        }
        x.check_finite("the inputs")?;
        if maps.shape.first() != Some(&n) {
            return Err(Error::Shape(format!(
                "{n} inputs but maps of shape {:?}",
                maps.shape
            )));
        }
        maps.check_finite("the maps")?;
        let per_map = maps.numel() / n;
        let plane = self.grid.chw[1] * self.grid.chw[2];
        if per_map != numel && (per_map != plane || maps.shape.get(1) != Some(&1)) {
            return Err(Error::Shape(format!(
                "maps of shape {:?} fit neither the inputs {:?} nor [N, 1, H, W]",
                maps.shape, x.shape
            )));
        }
        let classes = match classes {
            Some(c) if c.len() == n => c.to_vec(),
            Some(c) => return Err(Error::Shape(format!("{} labels for {n} inputs", c.len()))),
            None => self.predict(x)?,
        };
        let outputs: usize = graph.nodes[crate::explain::engine::explained_node(graph)]
            .shape
            .iter()
            .product();
        if let Some(&c) = classes.iter().find(|&&c| c >= outputs) {
            return Err(Error::Invalid(format!(
                "class {c} does not exist: the model has {outputs} outputs"
            )));
        }
        let capacity = self.capacity(n);
        if self.sweep.as_ref().is_none_or(|s| s.capacity() != capacity) {
            self.sweep = None;
            self.sweep = Some(Sweep::new(self.model, self.shape, capacity, self.batch)?);
        }
        let sweep = self.sweep.as_mut().expect("made above");
        let slots = self.shape.slots();
        let mut raw = Vec::with_capacity(n * slots);
        for start in (0..n).step_by(capacity) {
            let end = (start + capacity).min(n);
            let mut all_ranks = Vec::with_capacity((end - start) * self.grid.count());
            let mut fills = Vec::with_capacity((end - start) * self.shape.fill_len());
            for i in start..end {
                let xi = &x.data[i * numel..(i + 1) * numel];
                let map = broadcast(&maps.data[i * per_map..(i + 1) * per_map], &self.grid)?;
                let r = ranks(
                    &region_scores(&map, &self.grid),
                    self.options.metric.order(),
                    i,
                );
                fills.extend(fill(
                    xi,
                    &self.grid,
                    &r,
                    self.shape.per_step,
                    self.shape.steps,
                    self.options.baseline,
                    i,
                ));
                all_ranks.extend(r);
            }
            let targets: Vec<u32> = classes[start..end].iter().map(|&c| c as u32).collect();
            raw.extend(sweep.run(
                self.model,
                &x.data[start * numel..end * numel],
                &all_ranks,
                &fills,
                &targets,
            )?);
        }
        let metric = self.options.metric;
        let mut curves = Vec::with_capacity(raw.len());
        let mut scores = Vec::with_capacity(n);
        for item in raw.chunks(slots) {
            let c = metric.curve(item);
            scores.push(metric.score(&c));
            curves.extend(c);
        }
        Ok(Evaluation {
            curves: Tensor::new(vec![n, slots], curves)?,
            raw: Tensor::new(vec![n, slots], raw)?,
            scores,
            classes,
        })
    }

    /// Inputs per sweep run: all of them when they fit, else equal chunks.
    fn capacity(&self, n: usize) -> usize {
        let per_item =
            4 * (self.grid.numel() + self.grid.count() + self.shape.fill_len() + 1) as u64;
        let limit = CHUNK_BYTES.min(self.model.profile().max_tensor_bytes());
        let fit = ((limit / per_item) as usize)
            .min(MAX_SLOTS / self.shape.slots())
            .clamp(1, MAX_CHUNK);
        let chunks = n.div_ceil(fit);
        n.div_ceil(chunks)
    }

    fn predict(&mut self, x: &Tensor) -> Result<Vec<usize>> {
        if self.predictor.is_none() {
            self.predictor = Some(Predictor::logits(self.model, self.batch)?);
        }
        let y = self.predictor.as_mut().expect("made above").run(x)?;
        let k = y.numel() / y.shape[0];
        Ok(y.data
            .chunks(k)
            .map(|row| {
                row.iter()
                    .enumerate()
                    .fold(
                        (0, f32::NEG_INFINITY),
                        |b, (i, &v)| if v > b.1 { (i, v) } else { b },
                    )
                    .0
            })
            .collect())
    }
}
