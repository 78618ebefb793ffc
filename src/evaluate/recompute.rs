//! Selectivity with re-explanation (`selectivity --recompute`; Montavon's tutorial, §5.2 of
//! the Understanding-NN notebooks): after every removal the perturbed input is explained
//! again and the most relevant patch of the new map among those still present goes next. Each
//! step is one explanation pass of the whole batch on the GPU; its forward pass gives f(x_k).

use super::baseline::{fill, Baseline};
use super::copies::{check_inputs, class_score};
use super::evaluator::Evaluation;
use super::metric::Metric;
use super::ranking::{broadcast, region_scores, Grid, Regions};
use crate::error::{Error, Result};
use crate::explain::{Explainer, Target};
use crate::gpu::DeviceModel;
use crate::model::Tensor;

/// Selectivity that re-explains the input after every step.
pub struct Recompute<'m> {
    model: &'m DeviceModel,
    explainer: Explainer,
    grid: Grid,
    steps: usize,
    baseline: Baseline,
    probability: bool,
}

impl<'m> Recompute<'m> {
    /// `steps` patches of `patch`² pixels removed one at a time, re-explaining with
    /// `explainer` before each; the curve follows the probability or the logit.
    pub fn new(
        model: &'m DeviceModel,
        explainer: Explainer,
        patch: usize,
        steps: usize,
        baseline: Baseline,
        probability: bool,
    ) -> Result<Self> {
        let grid = Grid::new(
            model.graph().input_shape(),
            Regions::Patches { size: patch },
        )?;
        if steps == 0 || steps > grid.count() {
            return Err(Error::Invalid(format!(
                "{steps} steps asked for, but {patch}×{patch} patches cut the input into {}",
                grid.count()
            )));
        }
        if baseline == Baseline::Mean {
            return Err(Error::Invalid(
                "--recompute takes black, white, uniform, blur or a number as baseline \
                 (the drifting mean needs the whole order in advance)"
                    .into(),
            ));
        }
        Ok(Recompute {
            model,
            explainer,
            grid,
            steps,
            baseline,
            probability,
        })
    }

    /// Explanation passes one evaluation of `n` inputs runs: n · (K + 1).
    pub fn explanations(&self, n: usize) -> usize {
        n * (self.steps + 1)
    }

    /// Steps K.
    pub fn steps(&self) -> usize {
        self.steps
    }

    /// Curves f(x_k), k = 0…K, and their areas over k = 1…K (as Selectivity's); `first`
    /// is x's first input's index in the run (it keys a uniform baseline).
    pub fn evaluate(
        &mut self,
        x: &Tensor,
        classes: Option<&[usize]>,
        first: usize,
    ) -> Result<Evaluation> {
        let n = check_inputs(self.model, x)?;
        if let Some(c) = classes.filter(|c| c.len() != n) {
            return Err(Error::Shape(format!("{} labels for {n} inputs", c.len())));
        }
        let numel = self.grid.numel();
        let (k_max, count) = (self.steps, self.grid.count());
        let region: Vec<usize> = (0..numel).map(|f| self.grid.region_of(f)).collect();
        // One fill value per step (or a blurred image), from the original input.
        let order: Vec<u32> = (0..count as u32).collect();
        let fills: Vec<Vec<f32>> = (0..n)
            .map(|i| {
                let xi = &x.data[i * numel..(i + 1) * numel];
                fill(xi, &self.grid, &order, 1, k_max, self.baseline, first + i)
            })
            .collect();
        let mut current = x.clone();
        let mut removed = vec![vec![false; count]; n];
        let mut raw = vec![0.0f32; n * (k_max + 1)];
        let mut explained: Vec<usize> = Vec::with_capacity(n);
        let batch = self.explainer.batch();
        for k in 0..=k_max {
            for start in (0..n).step_by(batch) {
                let end = (start + batch).min(n);
                let mut bshape = x.shape.clone();
                bshape[0] = end - start;
                let xs = Tensor::new(bshape, current.data[start * numel..end * numel].to_vec())?;
                let targets: Vec<Target> = match (k, classes) {
                    (0, None) => vec![Target::Predicted],
                    (0, Some(c)) => c[start..end].iter().map(|&v| Target::Class(v)).collect(),
                    _ => explained[start..end]
                        .iter()
                        .map(|&v| Target::Class(v))
                        .collect(),
                };
                let e = self.explainer.explain(&xs, &targets)?;
                if k == 0 {
                    explained.extend(&e.classes);
                }
                let f = e.outputs.numel() / (end - start);
                let per_map = e.map.numel() / (end - start);
                for j in 0..end - start {
                    let i = start + j;
                    let row = &e.outputs.data[j * f..(j + 1) * f];
                    raw[i * (k_max + 1) + k] =
                        class_score(row, explained[i], self.probability) as f32;
                    if k == k_max {
                        continue;
                    }
                    let map = broadcast(&e.map.data[j * per_map..(j + 1) * per_map], &self.grid)?;
                    let scores = region_scores(&map, &self.grid);
                    // The most relevant patch still present; equal sums in index order.
                    let next = (0..count)
                        .filter(|&r| !removed[i][r])
                        .fold(None, |best: Option<usize>, r| match best {
                            Some(b) if scores[b] >= scores[r] => Some(b),
                            _ => Some(r),
                        })
                        .expect("fewer steps than patches");
                    removed[i][next] = true;
                    let xi = &mut current.data[i * numel..(i + 1) * numel];
                    for (f, v) in xi.iter_mut().enumerate() {
                        if region[f] == next {
                            *v = if self.baseline.is_image() {
                                fills[i][f]
                            } else {
                                fills[i][k]
                            };
                        }
                    }
                }
            }
        }
        let metric = Metric::Selectivity {
            patch: self.grid.size,
        };
        let scores = raw.chunks(k_max + 1).map(|c| metric.score(c)).collect();
        Ok(Evaluation {
            curves: Tensor::new(vec![n, k_max + 1], raw.clone())?,
            raw: Tensor::new(vec![n, k_max + 1], raw)?,
            scores,
            classes: explained,
        })
    }
}
