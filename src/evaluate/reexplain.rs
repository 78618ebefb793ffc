//! The robustness evaluator: every input explained, then its perturbed copies (seeded noise or
//! translations) built on the CPU, explained on the GPU in batches of the explainer, and
//! compared with the input's explanation as they come back; only the maps of one batch are
//! held at a time.

use super::copies::{check_inputs, items};
use super::robustness::{prepare, quadrants, translate, RobustOptions, Robustness};
use crate::error::{Error, Result};
use crate::explain::gradient::{gaussian_noise, uniform_noise};
use crate::explain::{Explainer, Target};
use crate::gpu::DeviceModel;
use crate::model::Tensor;

/// Scores of a batch of inputs under one robustness metric.
#[derive(Clone, Debug)]
pub struct RobustEvaluation {
    /// One score per input.
    pub scores: Vec<f64>,
    /// The ratio of every perturbed copy, `[N, S]` (continuity: one per shift).
    pub ratios: Tensor,
    /// The explained score (the class's output) at the input, then at every copy, `[N, S + 1]`.
    pub outputs: Tensor,
    /// Continuity: relevance of the raw map in the four quadrants (top-left, top-right,
    /// bottom-left, bottom-right) at every shift, `[N, S, 4]`.
    pub quadrants: Option<Tensor>,
    /// The class explained per input.
    pub classes: Vec<usize>,
}

/// Evaluates how stable one explainer's maps are.
pub struct RobustEvaluator<'m> {
    model: &'m DeviceModel,
    explainer: Explainer,
    options: RobustOptions,
}

/// One perturbed copy waiting for its explanation.
struct Copy {
    input: usize,
    sample: usize,
    /// The perturbed input before rounding to f32 (what distances are taken of).
    exact: Vec<f64>,
}

impl<'m> RobustEvaluator<'m> {
    /// An evaluator re-explaining with `explainer` (built on `model`).
    pub fn new(
        model: &'m DeviceModel,
        explainer: Explainer,
        options: RobustOptions,
    ) -> Result<Self> {
        options.metric.check(model.graph().input_shape())?;
        Ok(RobustEvaluator {
            model,
            explainer,
            options,
        })
    }

    /// The options.
    pub fn options(&self) -> &RobustOptions {
        &self.options
    }

    /// Explanations one evaluation of `n` inputs computes: n · (S + 1).
    pub fn explanations(&self, n: usize) -> usize {
        n * (self.options.metric.samples() + 1)
    }

    /// Scores of `x` (`[N, …input]`) explained for `classes` (the prediction when `None`);
    /// `first` is the index of x's first input in the whole run, which keys the noise, so
    /// that a run split into chunks draws what one call would.
    pub fn evaluate(
        &mut self,
        x: &Tensor,
        classes: Option<&[usize]>,
        first: usize,
    ) -> Result<RobustEvaluation> {
        let shape = self.model.graph().input_shape().to_vec();
        let n = check_inputs(self.model, x)?;
        if let Some(c) = classes.filter(|c| c.len() != n) {
            return Err(Error::Shape(format!("{} labels for {n} inputs", c.len())));
        }
        let numel = x.numel() / n;
        let s = self.options.metric.samples();
        let batch = self.explainer.batch();
        let chw = match shape[..] {
            [c, h, w] => [c, h, w],
            _ => [1, 1, numel],
        };
        let mut out = RobustEvaluation {
            scores: Vec::with_capacity(n),
            ratios: Tensor::zeros(vec![n, s]),
            outputs: Tensor::zeros(vec![n, s + 1]),
            quadrants: matches!(self.options.metric, Robustness::Continuity { .. })
                .then(|| Tensor::zeros(vec![n, s, 4])),
            classes: Vec::with_capacity(n),
        };
        for start in (0..n).step_by(batch) {
            let end = (start + batch).min(n);
            let xs = items(x, start, end)?;
            let targets: Vec<Target> = match classes {
                Some(c) => c[start..end].iter().map(|&k| Target::Class(k)).collect(),
                None => vec![Target::Predicted],
            };
            let e = self.explainer.explain(&xs, &targets)?;
            let per_map = e.map.numel() / (end - start);
            let reference: Vec<Vec<f64>> = e
                .map
                .data
                .chunks(per_map)
                .map(|m| prepare(m, self.options.normalise, self.options.abs))
                .collect();
            // The chunk's inputs in f64, once, for the distances of all their copies.
            let exact: Vec<Vec<f64>> = xs
                .data
                .chunks(numel)
                .map(|c| c.iter().map(|&v| v as f64).collect())
                .collect();
            for (j, &c) in e.classes.iter().enumerate() {
                out.classes.push(c);
                out.outputs.data[(start + j) * (s + 1)] = e.scores[j] as f32;
            }
            // Every copy of the chunk's inputs, explained `batch` at a time.
            let copies: Vec<(usize, usize)> = (start..end)
                .flat_map(|i| (0..s).map(move |k| (i, k)))
                .collect();
            for group in copies.chunks(batch) {
                let pending: Vec<Copy> = group
                    .iter()
                    .map(|&(i, k)| Copy {
                        input: i,
                        sample: k,
                        exact: self.perturb(&x.data[i * numel..(i + 1) * numel], chw, first + i, k),
                    })
                    .collect();
                let mut data = Vec::with_capacity(pending.len() * numel);
                for p in &pending {
                    data.extend(p.exact.iter().map(|&v| v as f32));
                }
                let mut bshape = x.shape.clone();
                bshape[0] = pending.len();
                let batch_x = Tensor::new(bshape, data)?;
                let targets: Vec<Target> = pending
                    .iter()
                    .map(|p| Target::Class(out.classes[p.input]))
                    .collect();
                let got = self.explainer.explain(&batch_x, &targets)?;
                for (j, p) in pending.iter().enumerate() {
                    let map = &got.map.data[j * per_map..(j + 1) * per_map];
                    let b = prepare(map, self.options.normalise, self.options.abs);
                    let (a, xi) = (&reference[p.input - start], &exact[p.input - start]);
                    let r = self.options.metric.ratio(a, &b, xi, &p.exact);
                    out.ratios.data[p.input * s + p.sample] = r as f32;
                    out.outputs.data[p.input * (s + 1) + 1 + p.sample] = got.scores[j] as f32;
                    if let Some(q) = &mut out.quadrants {
                        let at = (p.input * s + p.sample) * 4;
                        // A CAM's map has one channel whatever the input has.
                        let plane = chw[1] * chw[2];
                        let sums = quadrants(map, [per_map / plane, chw[1], chw[2]]);
                        for (d, v) in q.data[at..at + 4].iter_mut().zip(sums) {
                            *d = v as f32;
                        }
                    }
                }
            }
        }
        for i in 0..n {
            let row: Vec<f64> = out.ratios.data[i * s..(i + 1) * s]
                .iter()
                .map(|&v| v as f64)
                .collect();
            out.scores.push(self.options.metric.aggregate(&row));
        }
        Ok(out)
    }

    /// Copy `sample` of input `input` (its index in the run), in f64.
    fn perturb(&self, x: &[f32], chw: [usize; 3], input: usize, sample: usize) -> Vec<f64> {
        let seed = self.options.seed;
        let x64 = x.iter().map(|&v| v as f64);
        match &self.options.metric {
            Robustness::MaxSensitivity { radius, .. }
            | Robustness::AvgSensitivity { radius, .. }
            | Robustness::SensitivityMax { radius, .. } => {
                let noise = uniform_noise(seed, input, sample, x.len(), -radius, *radius);
                x64.zip(noise).map(|(v, e)| v + e).collect()
            }
            Robustness::LocalLipschitz { std, .. } => {
                let noise = gaussian_noise(seed, input, sample, x.len(), *std);
                x64.zip(noise).map(|(v, e)| v + e as f64).collect()
            }
            Robustness::Continuity { shifts, axis } => {
                let fill = x.iter().copied().fold(f32::INFINITY, f32::min);
                translate(x, chw, shifts[sample], *axis, fill)
                    .into_iter()
                    .map(|v| v as f64)
                    .collect()
            }
        }
    }
}
