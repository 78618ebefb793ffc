//! Softmax along one axis of each item. Explanations start at the logits before a final
//! softmax; inside a graph (attention) the softmax's weights are what CP-LRP holds constant,
//! and AttnLRP's rule, `x ⊙ VJP(R / y)`, crosses it otherwise. Its VJP also serves objectives
//! on probabilities.

mod onnx;

pub(crate) use onnx::ONNX;

use super::{Factor, ForwardIo, Layer, LayerClass, LinearLayer, RefVjp, VjpIo};
use crate::error::{Error, Result};
use crate::model::Tensor;
use crate::plan::{binds, Launch, Out, Param, Program, Resource, TensorId, WeightMod, WgslEnum};

crate::params! {
    /// Rows (every outer and inner position of every item), values along the axis, and the
    /// distance between them.
    pub struct SoftmaxParams { pub rows: u32, pub features: u32, pub inner: u32, pub pad0: u32 }
}

crate::params! {
    /// Rows, values along the axis and their distance, and the epilogue
    /// `out (+)= coef · factor(x) · …`.
    pub struct SoftmaxVjpParams {
        pub rows: u32, pub features: u32, pub inner: u32, pub factor: u32,
        pub accumulate: u32, pub coef: f32, pub pad0: u32, pub pad1: u32,
    }
}

crate::kernel!(pub(crate) FORWARD: SoftmaxParams = "layers/softmax/forward");
crate::kernel!(pub(crate) VJP: SoftmaxVjpParams = "layers/softmax/vjp");

/// Softmax along per-item axis `axis`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Softmax {
    /// The per-item axis normalised over.
    pub axis: usize,
}

/// `(outer, features, inner)` of a per-item shape around `axis`.
fn split(shape: &[usize], axis: usize) -> (usize, usize, usize) {
    let outer = shape[..axis].iter().product();
    let inner = shape[axis + 1..].iter().product();
    (outer, shape[axis], inner)
}

/// For every row of a batch `[N, ..shape]`, the indices of its values along `axis`.
fn rows(batch: usize, shape: &[usize], axis: usize) -> Vec<Vec<usize>> {
    let (outer, f, inner) = split(shape, axis);
    (0..batch * outer)
        .flat_map(|o| (0..inner).map(move |i| (o, i)))
        .map(|(o, i)| (0..f).map(|k| (o * f + k) * inner + i).collect())
        .collect()
}

/// Softmax along per-item axis `axis` of a batch, in f64.
pub fn reference_softmax(x: &Tensor<f64>, axis: usize) -> Tensor<f64> {
    let mut data = vec![0.0; x.data.len()];
    for row in rows(x.shape[0], &x.shape[1..], axis) {
        let m = row
            .iter()
            .map(|&j| x.data[j])
            .fold(f64::NEG_INFINITY, f64::max);
        let s: f64 = row.iter().map(|&j| (x.data[j] - m).exp()).sum();
        for &j in &row {
            data[j] = (x.data[j] - m).exp() / s;
        }
    }
    Tensor {
        shape: x.shape.clone(),
        data,
    }
}

impl Softmax {
    fn params(&self, batch: usize, shape: &[usize]) -> (usize, usize, usize) {
        let (outer, f, inner) = split(shape, self.axis);
        (batch * outer * inner, f, inner)
    }
}

impl Layer for Softmax {
    fn kind(&self) -> &'static str {
        "Softmax"
    }

    fn class(&self) -> LayerClass {
        LayerClass::Softmax
    }

    fn output_shape(&self, inputs: &[&[usize]]) -> Result<Vec<usize>> {
        let s = super::one_input(inputs)?;
        if self.axis >= s.len() {
            return Err(Error::Shape(format!(
                "softmax along axis {} of a per-item shape {s:?}",
                self.axis
            )));
        }
        Ok(s.to_vec())
    }

    fn reference(&self, xs: &[&Tensor<f64>]) -> Tensor<f64> {
        reference_softmax(xs[0], self.axis)
    }

    fn reference_vjp(&self, v: &RefVjp) -> Vec<Tensor<f64>> {
        let mut data = vec![0.0; v.g.data.len()];
        for row in rows(v.y.shape[0], &v.y.shape[1..], self.axis) {
            let dot: f64 = row.iter().map(|&j| v.y.data[j] * v.g.data[j]).sum();
            for &j in &row {
                data[j] = v.y.data[j] * (v.g.data[j] - dot);
            }
        }
        vec![Tensor {
            shape: v.xs[0].shape.clone(),
            data,
        }]
    }

    fn record_forward(&self, p: &mut Program, io: &ForwardIo) -> Result<TensorId> {
        let count = io.batch * io.out_shape.iter().product::<usize>();
        let y = p.tensor(io.name, count)?;
        let (rows, features, inner) = self.params(io.batch, io.out_shape);
        let params = SoftmaxParams {
            rows: rows as u32,
            features: features as u32,
            inner: inner as u32,
            ..SoftmaxParams::default()
        };
        let launch = Launch::Flat {
            count: rows as u64,
            size: 64,
        };
        p.pass(
            &FORWARD,
            "main",
            &params,
            binds(&[io.xs[0]], &[], y),
            Out::Write(y),
            launch,
        )?;
        Ok(y)
    }

    fn record_vjp(&self, p: &mut Program, io: &VjpIo) -> Result<()> {
        if matches!(io.factor, Factor::Channel | Factor::XTimesChannel) {
            return Err(Error::Invalid(format!(
                "softmax '{}' takes no per-channel factor",
                io.name
            )));
        }
        let (rows, features, inner) = self.params(io.batch, io.out_shape);
        let dest = io.dests[0];
        let params = SoftmaxVjpParams {
            rows: rows as u32,
            features: features as u32,
            inner: inner as u32,
            factor: io.factor.code(),
            accumulate: dest.accumulate as u32,
            coef: io.coef,
            ..SoftmaxVjpParams::default()
        };
        let launch = Launch::Flat {
            count: rows as u64,
            size: 64,
        };
        let bindings = binds(&[io.g, io.xs[0]], &[Resource::Tensor(io.y)], dest.tensor);
        p.pass(&VJP, "main", &params, bindings, dest.out(), launch)
    }

    fn linear(&self) -> Option<&dyn LinearLayer> {
        None
    }

    fn nonnegative(&self, _inputs: &[bool]) -> bool {
        true
    }

    fn parameter(&self, _param: Param, _modifier: WeightMod) -> Option<Vec<f32>> {
        None
    }

    fn macs(&self, _out_shape: &[usize]) -> u64 {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_run_along_the_axis() {
        // [2, 3] per item, along axis 0: three rows of two values, 3 apart.
        assert_eq!(rows(1, &[2, 3], 0), [[0, 3], [1, 4], [2, 5]]);
        assert_eq!(rows(2, &[2], 0), [[0, 1], [2, 3]]);
        let x = Tensor {
            shape: vec![1, 2, 2],
            data: vec![0.0, 1.0, 0.0, 1.0],
        };
        let y = reference_softmax(&x, 0);
        assert!(y.data.iter().all(|&v| (v - 0.5).abs() < 1e-12));
    }
}
