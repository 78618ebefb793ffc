//! Batch normalisation in inference form: a per-channel affine map.

use crate::error::{Error, Result};
use crate::model::Tensor;

/// `y = (x − mean) / sqrt(var + eps) · gamma + beta`, stored as `y = x · scale + shift`.
#[derive(Clone, Debug)]
pub struct BatchNorm {
    /// Per-channel multiplier `gamma / sqrt(var + eps)`.
    pub scale: Vec<f32>,
    /// Per-channel offset `beta − mean · scale`.
    pub shift: Vec<f32>,
}

impl BatchNorm {
    /// From the ONNX parameters, computed in f64.
    pub fn from_stats(
        gamma: &[f32],
        beta: &[f32],
        mean: &[f32],
        var: &[f32],
        eps: f32,
    ) -> Result<Self> {
        let c = gamma.len();
        if beta.len() != c || mean.len() != c || var.len() != c {
            return Err(Error::Shape(format!(
                "batch norm parameters disagree in length: {c}, {}, {}, {}",
                beta.len(),
                mean.len(),
                var.len()
            )));
        }
        let mut scale = Vec::with_capacity(c);
        let mut shift = Vec::with_capacity(c);
        for i in 0..c {
            let s = gamma[i] as f64 / (var[i] as f64 + eps as f64).sqrt();
            if !s.is_finite() {
                return Err(Error::Shape(format!(
                    "batch norm channel {i} has a non-finite scale (variance {} + eps {eps})",
                    var[i]
                )));
            }
            scale.push(s as f32);
            shift.push((beta[i] as f64 - mean[i] as f64 * s) as f32);
        }
        Ok(BatchNorm { scale, shift })
    }

    /// The input shape, after checking its channels.
    pub fn output_shape(&self, input: &[usize]) -> Result<Vec<usize>> {
        if input.first() != Some(&self.scale.len()) {
            return Err(Error::Shape(format!(
                "batch norm has {} channels, input is {input:?}",
                self.scale.len()
            )));
        }
        Ok(input.to_vec())
    }

    /// f64 reference over `[N, C, ...]`.
    pub fn reference(&self, x: &Tensor<f64>) -> Tensor<f64> {
        let c = x.shape[1];
        let inner: usize = x.shape[2..].iter().product();
        let mut y = x.clone();
        for (k, v) in y.data.iter_mut().enumerate() {
            let ch = (k / inner) % c;
            *v = *v * self.scale[ch] as f64 + self.shift[ch] as f64;
        }
        y
    }
}
