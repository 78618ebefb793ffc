//! Concept atlases, as zennit-crp's `FeatureVisualization` builds them: every input scored per
//! channel of a node — its relevance (for its predicted class) or its activation, summed over
//! the channel's positions and divided by the sum of their magnitudes over the channels
//! (RelMax / ActMax with `max_target="sum"`, `abs_norm=True`) — the K best inputs kept per
//! channel, each with the neuron where the channel's map peaks, whose conditional heatmap
//! (the backward pass started at that neuron alone) is cropped to what it reaches.

use crate::error::{Error, Result};
use crate::explain::argmax;
use crate::explain::filter::concept_relevance;
use crate::model::Tensor;

/// What ranks the inputs of a channel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AtlasBy {
    /// Relevance at the node for the input's predicted class (RelMax).
    Relevance,
    /// The node's activation (ActMax).
    Activation,
}

impl AtlasBy {
    /// Parses `relevance` or `activation`.
    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "relevance" => Ok(AtlasBy::Relevance),
            "activation" => Ok(AtlasBy::Activation),
            _ => Err(Error::Invalid(format!(
                "--by {s}: rank by relevance or activation"
            ))),
        }
    }
}

/// One input kept for a channel.
#[derive(Clone, Debug, PartialEq)]
pub struct Reference {
    /// Its position in the data set's (sorted) input list.
    pub input: usize,
    /// Its score for the channel.
    pub value: f32,
    /// The flat position within the channel where the channel's map peaks (its first maximum).
    pub neuron: usize,
}

/// Per item and channel of a node's map `[N, C, ...]`: the normalised channel sums and the
/// position of each channel's first maximum.
pub fn channel_scores(map: &Tensor) -> Result<(Vec<f32>, Vec<usize>)> {
    let (n, c) = match map.shape[..] {
        [n, c, ..] => (n, c),
        _ => {
            return Err(Error::Shape(format!(
                "channel scores need [N, C, ...], got {:?}",
                map.shape
            )))
        }
    };
    let inner: usize = map.shape[2..].iter().product::<usize>().max(1);
    // The values are concept relevance's normalised channel sums, applied to any map.
    let values = concept_relevance(&map.data, n, c);
    let neurons = map.data.chunks(inner).map(argmax).collect();
    Ok((values, neurons))
}

/// The `k` best inputs per channel from every input's scores (`values`, `neurons`:
/// `[inputs × channels]`, input `i`'s row its entry `ids[i]`), best first; equal values keep
/// the input listed first.
pub fn top_k(
    ids: &[usize],
    values: &[f32],
    neurons: &[usize],
    channels: usize,
    k: usize,
) -> Vec<Vec<Reference>> {
    (0..channels)
        .map(|c| {
            let mut refs: Vec<Reference> = ids
                .iter()
                .enumerate()
                .map(|(row, &input)| Reference {
                    input,
                    value: values[row * channels + c],
                    neuron: neurons[row * channels + c],
                })
                .collect();
            // NaN (a score that could not be computed) ranks last, not first.
            let key = |r: &Reference| {
                if r.value.is_nan() {
                    f32::NEG_INFINITY
                } else {
                    r.value
                }
            };
            refs.sort_by(|a, b| key(b).total_cmp(&key(a)).then(a.input.cmp(&b.input)));
            refs.truncate(k);
            refs
        })
        .collect()
}

/// The rows and columns `(y0, y1, x0, x1)` (inclusive) a neuron's heatmap reaches, as
/// zennit-crp crops reference images: the map (summed over channels) blurred with a 19-tap
/// Gaussian (σ = 3.2, reflected at the edges), divided by its maximum, kept above 0.1. The
/// whole image when nothing is.
pub fn receptive_crop(heat: &Tensor) -> Result<(usize, usize, usize, usize)> {
    let [c, h, w] = heat.shape[..] else {
        return Err(Error::Shape(format!(
            "a heatmap to crop is [C, H, W], got {:?}",
            heat.shape
        )));
    };
    let mut sum = vec![0.0f64; h * w];
    for ch in heat.data.chunks(h * w).take(c) {
        sum.iter_mut().zip(ch).for_each(|(s, &v)| *s += v as f64);
    }
    let blurred = blur(&sum, h, w);
    let max = blurred.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    let (mut y0, mut y1, mut x0, mut x1) = (h, 0, w, 0);
    for y in 0..h {
        for x in 0..w {
            if blurred[y * w + x] / (max + 1e-10) > 0.1 {
                (y0, y1, x0, x1) = (y0.min(y), y1.max(y), x0.min(x), x1.max(x));
            }
        }
    }
    Ok(if y0 > y1 {
        (0, h - 1, 0, w - 1)
    } else {
        (y0, y1, x0, x1)
    })
}

/// A separable Gaussian blur, 19 taps, σ = 3.2 (torchvision's for that kernel size), reflected
/// at the edges (clamped where the image is smaller than the reach).
fn blur(v: &[f64], h: usize, w: usize) -> Vec<f64> {
    const TAPS: isize = 19;
    let sigma = 0.3 * ((TAPS as f64 - 1.0) * 0.5 - 1.0) + 0.8;
    let half = TAPS / 2;
    let kernel: Vec<f64> = (-half..=half)
        .map(|d| (-(d * d) as f64 / (2.0 * sigma * sigma)).exp())
        .collect();
    let total: f64 = kernel.iter().sum();
    let reflect = |i: isize, n: usize| -> usize {
        let n = n as isize;
        let mut i = i;
        while i < 0 || i >= n {
            if n == 1 {
                return 0;
            }
            i = if i < 0 { -i } else { 2 * (n - 1) - i };
        }
        i as usize
    };
    let pass = |src: &[f64], along_x: bool| -> Vec<f64> {
        let mut out = vec![0.0; h * w];
        for y in 0..h {
            for x in 0..w {
                let mut acc = 0.0;
                for (t, k) in kernel.iter().enumerate() {
                    let d = t as isize - half;
                    let (yy, xx) = if along_x {
                        (y, reflect(x as isize + d, w))
                    } else {
                        (reflect(y as isize + d, h), x)
                    };
                    acc += k * src[yy * w + xx];
                }
                out[y * w + x] = acc / total;
            }
        }
        out
    };
    pass(&pass(v, true), false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores_are_normalised_channel_sums_and_first_maxima() {
        // One item, two channels of three positions.
        let map = Tensor::new(vec![1, 2, 3], vec![1.0, 3.0, 3.0, -2.0, 0.0, -1.0]).unwrap();
        let (v, n) = channel_scores(&map).unwrap();
        assert!((v[0] - 7.0 / 10.0).abs() < 1e-6 && (v[1] + 3.0 / 10.0).abs() < 1e-6);
        assert_eq!(n, [1, 1]);
        let top = top_k(&[5, 9], &[0.5, 0.1, 0.5, 0.3], &[0, 1, 2, 3], 2, 1);
        assert_eq!(
            top[0],
            [Reference {
                input: 5,
                value: 0.5,
                neuron: 0
            }]
        );
        assert_eq!(top[1][0].input, 9);
    }

    #[test]
    fn a_crop_holds_the_blurred_peak_and_an_empty_map_keeps_everything() {
        let mut heat = vec![0.0f32; 40 * 40];
        heat[20 * 40 + 10] = 1.0;
        let t = Tensor::new(vec![1, 40, 40], heat).unwrap();
        let (y0, y1, x0, x1) = receptive_crop(&t).unwrap();
        assert!(
            y0 < 20 && y1 > 20 && x0 < 10 && x1 > 10,
            "{y0} {y1} {x0} {x1}"
        );
        assert!(y1 - y0 < 20, "the crop is local: {y0}..{y1}");
        assert_eq!(y1 - 20, 20 - y0, "the blur is symmetric");
        let empty = Tensor::new(vec![1, 8, 8], vec![0.0; 64]).unwrap();
        assert_eq!(receptive_crop(&empty).unwrap(), (0, 7, 0, 7));
    }
}
