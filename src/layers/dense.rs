//! Fully connected layer: parameters, shape, and the f64 reference.

use crate::error::{Error, Result};
use crate::model::Tensor;

/// `y = W x + b` with `W` stored `[out, in]`.
#[derive(Clone, Debug)]
pub struct Dense {
    /// `[out_features, in_features]`.
    pub weight: Tensor,
    /// One value per output feature.
    pub bias: Option<Vec<f32>>,
}

impl Dense {
    /// `[out]` for an input of `in` features (any per-item shape with that many values).
    pub fn output_shape(&self, input: &[usize]) -> Result<Vec<usize>> {
        let w = &self.weight.shape;
        let features: usize = input.iter().product();
        if w.len() != 2 || w[1] != features {
            return Err(Error::Shape(format!(
                "dense weight {w:?} does not take an input of shape {input:?} ({features} features)"
            )));
        }
        if let Some(b) = &self.bias {
            if b.len() != w[0] {
                return Err(Error::Shape(format!(
                    "bias has {} values for {} outputs",
                    b.len(),
                    w[0]
                )));
            }
        }
        Ok(vec![w[0]])
    }

    /// f64 reference `y[n,o] = b[o] + Σ_i W[o,i] x[n,i]`.
    pub fn reference(&self, x: &Tensor<f64>) -> Tensor<f64> {
        let (out, inp) = (self.weight.shape[0], self.weight.shape[1]);
        let n = x.shape[0];
        let mut y = Tensor::zeros(vec![n, out]);
        for b in 0..n {
            for o in 0..out {
                let mut acc = self.bias.as_ref().map_or(0.0, |b| b[o] as f64);
                for i in 0..inp {
                    acc += self.weight.data[o * inp + i] as f64 * x.data[b * inp + i];
                }
                y.data[b * out + o] = acc;
            }
        }
        y
    }

    /// f64 reference of the adjoint `x̄ = Wᵀ ȳ`, shaped `[N, in]`.
    pub fn reference_transpose(&self, ybar: &Tensor<f64>) -> Tensor<f64> {
        let (out, inp) = (self.weight.shape[0], self.weight.shape[1]);
        let n = ybar.shape[0];
        let mut x = Tensor::zeros(vec![n, inp]);
        for b in 0..n {
            for o in 0..out {
                let g = ybar.data[b * out + o];
                for i in 0..inp {
                    x.data[b * inp + i] += self.weight.data[o * inp + i] as f64 * g;
                }
            }
        }
        x
    }
}
