//! TokenDense: a dense layer applied to every row of an item's last axis (a Linear on
//! `[.., tokens, features]`: ConvNeXt's channels-last MLPs, transformers' token-wise layers).
//! Each row is one item of the plain [`Dense`]: every kernel, rule and reference is Dense's,
//! run on `batch × rows` items.

use super::Dense;
use crate::error::{Error, Result};
use crate::layers::{ForwardIo, Layer, LayerClass, LinearIo, LinearLayer, RefVjp, VjpIo};
use crate::model::Tensor;
use crate::plan::{Param, Program, TensorId, WeightMod};

/// A dense layer over the last axis of each item.
#[derive(Clone, Debug)]
pub struct TokenDense {
    /// The layer each row goes through.
    pub dense: Dense,
}

/// Rows per item of a per-item shape (all axes but the last).
fn rows(shape: &[usize]) -> usize {
    shape[..shape.len().saturating_sub(1)].iter().product()
}

/// `[N, ..rows, F]` as `[N · rows, F]`.
fn as_rows(x: &Tensor<f64>) -> Tensor<f64> {
    let f = *x.shape.last().unwrap_or(&1);
    Tensor {
        shape: vec![x.data.len() / f.max(1), f],
        data: x.data.clone(),
    }
}

/// `[N · rows, F]` back to `[N, ..rows, F]` with `like`'s leading shape.
fn from_rows(y: Tensor<f64>, like: &Tensor<f64>) -> Tensor<f64> {
    let mut shape = like.shape.clone();
    *shape.last_mut().expect("a shape") = y.shape[1];
    Tensor {
        shape,
        data: y.data,
    }
}

impl TokenDense {
    fn features(&self) -> [usize; 2] {
        [self.dense.weight.shape[1], self.dense.weight.shape[0]]
    }
}

impl Layer for TokenDense {
    fn kind(&self) -> &'static str {
        "TokenDense"
    }

    fn class(&self) -> LayerClass {
        LayerClass::Dense
    }

    fn output_shape(&self, inputs: &[&[usize]]) -> Result<Vec<usize>> {
        let input = crate::layers::one_input(inputs)?;
        let [inp, out] = self.features();
        if input.len() < 2 || input.last() != Some(&inp) {
            return Err(Error::Shape(format!(
                "a token-wise dense layer of {inp} inputs needs an item [.., {inp}] of rank 2 or more, got {input:?}"
            )));
        }
        self.dense.output_shape(&[inp])?;
        let mut shape = input.to_vec();
        *shape.last_mut().expect("rank 2 or more") = out;
        Ok(shape)
    }

    fn reference(&self, xs: &[&Tensor<f64>]) -> Tensor<f64> {
        from_rows(self.dense.reference(&as_rows(xs[0])), xs[0])
    }

    fn reference_vjp(&self, v: &RefVjp) -> Vec<Tensor<f64>> {
        let (x, y, g) = (as_rows(v.xs[0]), as_rows(v.y), as_rows(v.g));
        let rv = RefVjp {
            xs: &[&x],
            y: &y,
            g: &g,
            mode: v.mode,
            weights: v.weights,
            reference: None,
        };
        let dx = Layer::reference_vjp(&self.dense, &rv).remove(0);
        vec![from_rows(dx, v.xs[0])]
    }

    fn record_forward(&self, p: &mut Program, io: &ForwardIo) -> Result<TensorId> {
        crate::layers::record_linear_forward(self, p, io)
    }

    fn record_vjp(&self, p: &mut Program, io: &VjpIo) -> Result<()> {
        let [inp, out] = self.features();
        let batch = io.batch * rows(io.in_shapes[0]);
        let in_shapes: [&[usize]; 1] = [&[inp]];
        let rows_io = VjpIo {
            batch,
            in_shapes: &in_shapes,
            out_shape: &[out],
            ..*io
        };
        self.dense.record_vjp(p, &rows_io)
    }

    fn linear(&self) -> Option<&dyn LinearLayer> {
        Some(self)
    }

    fn nonnegative(&self, _inputs: &[bool]) -> bool {
        false
    }

    fn parameter(&self, param: Param, modifier: WeightMod) -> Option<Vec<f32>> {
        self.dense.parameter(param, modifier)
    }

    fn macs(&self, out_shape: &[usize]) -> u64 {
        self.dense.weight.numel() as u64 * rows(out_shape) as u64
    }
}

impl LinearLayer for TokenDense {
    fn has_bias(&self) -> bool {
        self.dense.has_bias()
    }

    fn record_linear(&self, p: &mut Program, io: &LinearIo) -> Result<()> {
        let [inp, out] = self.features();
        let rows_io = LinearIo {
            batch: io.batch * rows(io.in_shape),
            in_shape: &[inp],
            out_shape: &[out],
            ..*io
        };
        self.dense.record_linear(p, &rows_io)
    }

    fn reference_linear(&self, x: &Tensor<f64>, weights: WeightMod, bias: bool) -> Tensor<f64> {
        from_rows(self.dense.reference_linear(&as_rows(x), weights, bias), x)
    }
}
