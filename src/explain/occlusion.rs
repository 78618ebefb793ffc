//! Occlusion (Zeiler & Fergus 2014; Captum's `Occlusion`): a window slides over the input, each
//! position replaced by a baseline in one copy, and every input value is given the mean drop of
//! the explained score over the copies whose window covered it. Forward passes only, run in
//! batches of copies like the metrics'.
//!
//! The windows are Captum's: along each input dimension of size D, a window of w at stride s
//! starts at 0, s, 2s, … for ⌈(D − w) / s⌉ + 1 positions, the last one cut at the edge.

use crate::error::{Error, Result};
use crate::evaluate::copies::run_copies;
use crate::explain::explanation::{check_batch, target_of};
use crate::explain::gradient::Baseline;
use crate::explain::{Explanation, Target};
use crate::gpu::DeviceModel;
use crate::model::Tensor;
use crate::predict::Predictor;

/// What an occluded window is filled with.
#[derive(Clone, Debug, PartialEq)]
pub enum OcclusionFill {
    /// One value everywhere (Captum's scalar `baselines`).
    Value(f32),
    /// A reference input (one for all items, or one per item), read inside the window.
    Reference(Baseline),
}

/// The window, its strides and the fill.
#[derive(Clone, Debug, PartialEq)]
pub struct OcclusionOptions {
    /// The window per input dimension (`[C, H, W]` for images); `None`: the whole channel
    /// range by 15 × 15 pixels on inputs of 64 pixels or more, else 4 × 4.
    pub window: Option<Vec<usize>>,
    /// The stride per input dimension; `None`: the window's channels, and half its height and
    /// width rounded up.
    pub strides: Option<Vec<usize>>,
    /// What replaces the window.
    pub fill: OcclusionFill,
}

impl Default for OcclusionOptions {
    fn default() -> Self {
        OcclusionOptions {
            window: None,
            strides: None,
            fill: OcclusionFill::Value(0.0),
        }
    }
}

/// The window positions of one input shape: per dimension, the first index and the length of
/// every window (cut at the edge).
#[derive(Clone, Debug, PartialEq)]
pub struct Windows {
    shape: Vec<usize>,
    /// Per dimension, `(start, length)` of each position.
    spans: Vec<Vec<(usize, usize)>>,
}

impl Windows {
    /// The positions of `window` at `strides` over `shape` (checked: no window or stride of 0
    /// or larger than its dimension, and no stride larger than its window, which would leave
    /// values no window covers).
    pub fn new(shape: &[usize], window: &[usize], strides: &[usize]) -> Result<Self> {
        if window.len() != shape.len() || strides.len() != shape.len() {
            return Err(Error::Invalid(format!(
                "occlusion: the input is {shape:?} but the window is {window:?} and the strides {strides:?}: give one of each per input dimension"
            )));
        }
        let mut spans = Vec::with_capacity(shape.len());
        for (d, ((&size, &w), &s)) in shape.iter().zip(window).zip(strides).enumerate() {
            if w == 0 || s == 0 || w > size {
                return Err(Error::Invalid(format!(
                    "occlusion: window {window:?} at strides {strides:?} does not fit the input {shape:?} (dimension {d}: a window of 1 … {size} and a stride of at least 1)"
                )));
            }
            if s > w {
                return Err(Error::Invalid(format!(
                    "occlusion: stride {s} is larger than the window {w} along dimension {d}: values between windows would never be occluded"
                )));
            }
            let count = (size - w).div_ceil(s) + 1;
            spans.push((0..count).map(|k| (k * s, w.min(size - k * s))).collect());
        }
        Ok(Windows {
            shape: shape.to_vec(),
            spans,
        })
    }

    /// How many positions there are.
    pub fn count(&self) -> usize {
        self.spans.iter().map(Vec::len).product()
    }

    /// Calls `f` with the flat index of every value inside window `k` (the first dimension's
    /// position varies fastest, as Captum numbers them).
    pub fn for_each_index(&self, mut k: usize, mut f: impl FnMut(usize)) {
        let box_: Vec<(usize, usize)> = self
            .spans
            .iter()
            .map(|s| {
                let span = s[k % s.len()];
                k /= s.len();
                span
            })
            .collect();
        let mut at = vec![0usize; box_.len()];
        loop {
            let flat = at
                .iter()
                .zip(&box_)
                .zip(&self.shape)
                .fold(0, |acc, ((&i, &(start, _)), &size)| acc * size + start + i);
            f(flat);
            // Odometer over the window's box, last dimension fastest.
            let mut d = box_.len();
            loop {
                if d == 0 {
                    return;
                }
                d -= 1;
                at[d] += 1;
                if at[d] < box_[d].1 {
                    break;
                }
                at[d] = 0;
            }
        }
    }
}

/// Occlusion for one model, its forward pass compiled once.
pub struct OcclusionPlan {
    predictor: Predictor,
    windows: Windows,
    /// How many windows cover each input value (Captum's weights).
    coverage: Vec<f64>,
    fill: OcclusionFill,
    in_shape: Vec<usize>,
}

impl OcclusionPlan {
    /// Plans occlusion on `model`, `batch` copies per forward submission.
    pub fn new(model: &DeviceModel, options: &OcclusionOptions, batch: usize) -> Result<Self> {
        let in_shape = model.graph().input_shape().to_vec();
        let (window, strides) = resolve(&in_shape, options)?;
        let windows = Windows::new(&in_shape, &window, &strides)?;
        if let OcclusionFill::Reference(b) = &options.fill {
            b.check_shape(&in_shape)?;
        }
        if let OcclusionFill::Value(v) = options.fill {
            if !v.is_finite() {
                return Err(Error::Invalid(format!(
                    "occlusion: the fill value {v} is not finite"
                )));
            }
        }
        let numel: usize = in_shape.iter().product();
        let mut coverage = vec![0.0; numel];
        for k in 0..windows.count() {
            windows.for_each_index(k, |i| coverage[i] += 1.0);
        }
        Ok(OcclusionPlan {
            predictor: Predictor::logits(model, batch)?,
            windows,
            coverage,
            fill: options.fill.clone(),
            in_shape,
        })
    }

    /// The window positions.
    pub fn windows(&self) -> &Windows {
        &self.windows
    }

    /// Bytes the forward plan allocated on the device besides the model's weights.
    pub fn memory_bytes(&self) -> u64 {
        self.predictor.executable().buffer_bytes()
    }

    /// Explains `x` (`[N, ...input]`) for one target per item, or one for all: the explained
    /// score is `w · f(x)` on the logits (before a final softmax), as for every method.
    pub fn run(&mut self, x: &Tensor, targets: &[Target]) -> Result<Explanation> {
        let n = check_batch(x, &self.in_shape, targets)?;
        if let OcclusionFill::Reference(b) = &self.fill {
            b.check(&self.in_shape, n)?;
        }
        let outputs = self.predictor.run(x)?;
        let f = outputs.numel() / n;
        let weights = (0..n)
            .map(|i| target_of(targets, i).weights_for(&outputs.data[i * f..(i + 1) * f]))
            .collect::<Result<Vec<_>>>()?;
        let score = |i: usize, row: &[f32]| -> f64 {
            weights[i]
                .iter()
                .zip(row)
                .map(|(w, v)| *w as f64 * *v as f64)
                .sum()
        };
        let initial: Vec<f64> = (0..n)
            .map(|i| score(i, &outputs.data[i * f..(i + 1) * f]))
            .collect();
        let numel = self.coverage.len();
        let count = self.windows.count();
        let mut reference = vec![0.0f32; numel];
        let mut reference_of = usize::MAX;
        let mut drops = vec![0.0f64; n * count];
        let (windows, fill) = (&self.windows, &self.fill);
        run_copies(
            &mut self.predictor,
            x,
            n * count,
            |k, out| {
                let (i, w) = (k / count, k % count);
                let start = out.len();
                out.extend_from_slice(&x.data[i * numel..(i + 1) * numel]);
                let copy = &mut out[start..];
                match fill {
                    OcclusionFill::Value(v) => windows.for_each_index(w, |j| copy[j] = *v),
                    OcclusionFill::Reference(b) => {
                        if reference_of != i {
                            b.write(i, &mut reference);
                            reference_of = i;
                        }
                        windows.for_each_index(w, |j| copy[j] = reference[j]);
                    }
                }
                Ok(())
            },
            |k, row| {
                drops[k] = initial[k / count] - score(k / count, row);
                Ok(())
            },
        )?;
        let mut map = vec![0.0f64; n * numel];
        for (k, &drop) in drops.iter().enumerate() {
            let item = &mut map[(k / count) * numel..(k / count + 1) * numel];
            windows.for_each_index(k % count, |j| item[j] += drop);
        }
        let map: Vec<f32> = map
            .iter()
            .enumerate()
            .map(|(j, &v)| (v / self.coverage[j % numel]) as f32)
            .collect();
        let mut shape = vec![n];
        shape.extend_from_slice(&self.in_shape);
        Explanation::new(Tensor::new(shape, map)?, outputs, targets)
    }
}

/// The window and strides `options` give for inputs of `shape`, defaults filled in.
fn resolve(shape: &[usize], options: &OcclusionOptions) -> Result<(Vec<usize>, Vec<usize>)> {
    let window = match &options.window {
        Some(w) => w.clone(),
        None => match shape {
            [c, h, w] => {
                let side = if (*h).min(*w) >= 64 { 15 } else { 4 };
                vec![*c, side.min(*h), side.min(*w)]
            }
            _ => shape.iter().map(|&d| d.min(4)).collect(),
        },
    };
    let strides = match &options.strides {
        Some(s) => s.clone(),
        None => match window.as_slice() {
            [c, h, w] => vec![*c, h.div_ceil(2), w.div_ceil(2)],
            w => w.iter().map(|&d| d.div_ceil(2)).collect(),
        },
    };
    Ok((window, strides))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_follow_captum_and_cut_the_last_at_the_edge() {
        // 1 × 7 × 5, window 1 × 3 × 2 at 1 × 2 × 2: ⌈4/2⌉+1 = 3 rows of ⌈3/2⌉+1 = 3 columns.
        let w = Windows::new(&[1, 7, 5], &[1, 3, 2], &[1, 2, 2]).unwrap();
        assert_eq!(w.count(), 9);
        let mut last = Vec::new();
        w.for_each_index(8, |i| last.push(i));
        // Rows 4..7, column 4 alone (cut at the edge).
        assert_eq!(last, [24, 29, 34]);
        let mut first = Vec::new();
        w.for_each_index(0, |i| first.push(i));
        assert_eq!(first, [0, 1, 5, 6, 10, 11]);
        // The position along H varies before the one along W (Captum's numbering).
        let mut second = Vec::new();
        w.for_each_index(1, |i| second.push(i));
        assert_eq!(second[0], 10);
    }

    #[test]
    fn bad_windows_are_refused_with_the_reason() {
        let e = |w: &[usize], s: &[usize]| Windows::new(&[3, 8, 8], w, s).unwrap_err().to_string();
        assert!(e(&[3, 9, 2], &[3, 1, 1]).contains("does not fit"));
        assert!(e(&[3, 2, 2], &[3, 3, 1]).contains("never be occluded"));
        assert!(e(&[2, 2], &[1, 1]).contains("per input dimension"));
        assert!(e(&[3, 0, 2], &[3, 1, 1]).contains("does not fit"));
    }
}
