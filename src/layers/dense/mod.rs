//! Fully connected layer: parameters, shape, the f64 references, and the [`Layer`] and
//! [`LinearLayer`] implementations; GPU recording is in `record.rs`, the ONNX mapping (Gemm,
//! MatMul and the bias Add after it) in `onnx.rs`.

mod onnx;
mod record;
mod token;

pub(crate) use onnx::{fold_bias, import_matmul_weight, ONNX};
pub use record::dense_chunks;
pub use record::{DenseForwardParams, DenseVjpParams};
pub(crate) use record::{FORWARD, FORWARD_SUBGROUP, VJP, VJP_SUBGROUP};
pub use token::TokenDense;

use super::{Factor, ForwardIo, Layer, LayerClass, LinearIo, LinearLayer, RefVjp, VjpIo};
use crate::error::{Error, Result};
use crate::model::Tensor;
use crate::plan::{Param, Program, TensorId, WeightMod};

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

impl Dense {
    /// The same layer with its weight (and bias, unless dropped) modified.
    pub fn modified(&self, weights: WeightMod, bias: bool) -> Dense {
        let (weight, bias) = super::modify_parameters(&self.weight, &self.bias, weights, bias);
        Dense { weight, bias }
    }

    /// A batch as `[N, features]`.
    fn flat(x: &Tensor<f64>) -> Tensor<f64> {
        let n = x.shape[0];
        Tensor {
            shape: vec![n, x.data.len() / n.max(1)],
            data: x.data.clone(),
        }
    }
}

impl Layer for Dense {
    fn kind(&self) -> &'static str {
        "Dense"
    }

    fn class(&self) -> LayerClass {
        LayerClass::Dense
    }

    fn output_shape(&self, inputs: &[&[usize]]) -> Result<Vec<usize>> {
        Dense::output_shape(self, super::one_input(inputs)?)
    }

    fn reference(&self, xs: &[&Tensor<f64>]) -> Tensor<f64> {
        Dense::reference(self, &Self::flat(xs[0]))
    }

    fn reference_vjp(&self, v: &RefVjp) -> Vec<Tensor<f64>> {
        let mut x = self
            .modified(v.weights, false)
            .reference_transpose(&Self::flat(v.g));
        x.shape = v.xs[0].shape.clone();
        vec![x]
    }

    fn record_forward(&self, p: &mut Program, io: &ForwardIo) -> Result<TensorId> {
        super::record_linear_forward(self, p, io)
    }

    fn record_vjp(&self, p: &mut Program, io: &VjpIo) -> Result<()> {
        record::vjp(self, p, io)
    }

    fn linear(&self) -> Option<&dyn LinearLayer> {
        Some(self)
    }

    fn nonnegative(&self, _inputs: &[bool]) -> bool {
        false
    }

    fn parameter(&self, param: Param, modifier: WeightMod) -> Option<Vec<f32>> {
        let m = self.modified(modifier, true);
        match param {
            Param::Weight => Some(m.weight.data),
            Param::Bias => Some(m.bias.unwrap_or_default()),
            Param::ConvPacked
            | Param::ConvAdjointPacked
            | Param::ConvWinograd
            | Param::ConvAdjointWinograd
            | Param::Scale
            | Param::Affine => None,
        }
    }

    fn macs(&self, _out_shape: &[usize]) -> u64 {
        self.weight.numel() as u64
    }
}

impl LinearLayer for Dense {
    fn has_bias(&self) -> bool {
        self.bias.is_some()
    }

    fn record_linear(&self, p: &mut Program, io: &LinearIo) -> Result<()> {
        if !matches!(io.input, Factor::X | Factor::Positive | Factor::Negative) {
            return Err(Error::Invalid(format!(
                "dense layer '{}': the forward pass feeds x, max(x, 0) or min(x, 0), not {:?}",
                io.name, io.input
            )));
        }
        record::forward(self, p, io)
    }

    fn reference_linear(&self, x: &Tensor<f64>, weights: WeightMod, bias: bool) -> Tensor<f64> {
        self.modified(weights, bias).reference(&Self::flat(x))
    }
}
