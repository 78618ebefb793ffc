//! Softmax over the features of each item. Explanations start at the logits before a final
//! softmax; its VJP serves objectives on probabilities.

mod onnx;

pub(crate) use onnx::ONNX;

use super::{Factor, ForwardIo, Layer, LayerClass, LinearLayer, RefVjp, VjpIo};
use crate::error::{Error, Result};
use crate::model::Tensor;
use crate::plan::{binds, Launch, Out, Param, Program, Resource, TensorId, WeightMod, WgslEnum};

crate::params! {
    /// Items and features per item.
    pub struct SoftmaxParams { pub items: u32, pub features: u32, pub pad0: u32, pub pad1: u32 }
}

crate::params! {
    /// Items, features, and the epilogue `out (+)= coef · factor(x) · …`.
    pub struct SoftmaxVjpParams {
        pub items: u32, pub features: u32, pub factor: u32, pub accumulate: u32,
        pub coef: f32, pub pad0: u32, pub pad1: u32, pub pad2: u32,
    }
}

crate::kernel!(pub(crate) FORWARD: SoftmaxParams = "layers/softmax/forward");
crate::kernel!(pub(crate) VJP: SoftmaxVjpParams = "layers/softmax/vjp");

/// Softmax over the features of each item.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Softmax;

/// Softmax over the features of each batch item, in f64.
pub fn reference_softmax(x: &Tensor<f64>) -> Tensor<f64> {
    let f: usize = x.shape[1..].iter().product();
    let mut data = Vec::with_capacity(x.data.len());
    for row in x.data.chunks(f.max(1)) {
        let m = row.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let e: Vec<f64> = row.iter().map(|v| (v - m).exp()).collect();
        let s: f64 = e.iter().sum();
        data.extend(e.iter().map(|v| v / s));
    }
    Tensor {
        shape: x.shape.clone(),
        data,
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
        Ok(super::one_input(inputs)?.to_vec())
    }

    fn reference(&self, xs: &[&Tensor<f64>]) -> Tensor<f64> {
        reference_softmax(xs[0])
    }

    fn reference_vjp(&self, v: &RefVjp) -> Vec<Tensor<f64>> {
        let f: usize = v.y.shape[1..].iter().product();
        let mut data = vec![0.0; v.g.data.len()];
        for ((out, y), g) in data
            .chunks_mut(f.max(1))
            .zip(v.y.data.chunks(f.max(1)))
            .zip(v.g.data.chunks(f.max(1)))
        {
            let dot: f64 = y.iter().zip(g).map(|(a, b)| a * b).sum();
            for k in 0..out.len() {
                out[k] = y[k] * (g[k] - dot);
            }
        }
        vec![Tensor {
            shape: v.xs[0].shape.clone(),
            data,
        }]
    }

    fn record_forward(&self, p: &mut Program, io: &ForwardIo) -> Result<TensorId> {
        let f = io.out_shape.iter().product::<usize>();
        let y = p.tensor(io.name, io.batch * f)?;
        let params = SoftmaxParams {
            items: io.batch as u32,
            features: f as u32,
            ..SoftmaxParams::default()
        };
        let launch = Launch::Flat {
            count: io.batch as u64,
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
        let f = io.out_shape.iter().product::<usize>();
        let dest = io.dests[0];
        let params = SoftmaxVjpParams {
            items: io.batch as u32,
            features: f as u32,
            factor: io.factor.code(),
            accumulate: dest.accumulate as u32,
            coef: io.coef,
            ..SoftmaxVjpParams::default()
        };
        let launch = Launch::Flat {
            count: io.batch as u64,
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
