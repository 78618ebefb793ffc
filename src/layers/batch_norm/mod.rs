//! Batch normalisation in inference form: a per-channel affine map (one that the canonizer
//! could not fold into the layer before it).

mod onnx;

pub(crate) use onnx::ONNX;

use super::scale::{scale_pass, Scale};
use super::{Factor, ForwardIo, Layer, LayerClass, LinearLayer, RefVjp, VjpIo};
use crate::error::{Error, Result};
use crate::model::Tensor;
use crate::plan::{binds, Launch, Out, Param, Program, Resource, TensorId, WeightKey, WeightMod};

crate::params! {
    /// `count` values of `[.., channels, inner]`.
    pub struct BatchNormParams { pub count: u32, pub channels: u32, pub inner: u32, pub pad0: u32 }
}

crate::kernel!(pub(crate) FORWARD: BatchNormParams = "layers/batch_norm/forward");

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

impl Layer for BatchNorm {
    fn kind(&self) -> &'static str {
        "BatchNorm"
    }

    fn class(&self) -> LayerClass {
        LayerClass::Normalisation
    }

    fn output_shape(&self, inputs: &[&[usize]]) -> Result<Vec<usize>> {
        BatchNorm::output_shape(self, super::one_input(inputs)?)
    }

    fn reference(&self, xs: &[&Tensor<f64>]) -> Tensor<f64> {
        BatchNorm::reference(self, xs[0])
    }

    fn reference_vjp(&self, v: &RefVjp) -> Vec<Tensor<f64>> {
        let g = v.g;
        let c = g.shape[1];
        let inner: usize = g.shape[2..].iter().product();
        let data = g
            .data
            .iter()
            .enumerate()
            .map(|(k, &gv)| gv * self.scale[(k / inner) % c] as f64)
            .collect();
        vec![Tensor {
            shape: v.xs[0].shape.clone(),
            data,
        }]
    }

    fn record_forward(&self, p: &mut Program, io: &ForwardIo) -> Result<TensorId> {
        let count = io.batch * io.out_shape.iter().product::<usize>();
        let y = p.tensor(io.name, count)?;
        let key = WeightKey {
            node: io.node,
            param: Param::Affine,
            modifier: WeightMod::Plain,
        };
        let affine = p.weight(key, &format!("{}.affine", io.name), 2 * self.scale.len())?;
        let params = BatchNormParams {
            count: count as u32,
            channels: self.scale.len() as u32,
            inner: io.out_shape[1..].iter().product::<usize>() as u32,
            pad0: 0,
        };
        let launch = Launch::Flat {
            count: count as u64,
            size: 256,
        };
        let bindings = binds(&[io.xs[0]], &[Resource::Const(affine)], y);
        p.pass(&FORWARD, "main", &params, bindings, Out::Write(y), launch)?;
        Ok(y)
    }

    /// `dest (+)= coef · scale[c] · factor(x) · g` through the scale kernel's per-channel modes.
    fn record_vjp(&self, p: &mut Program, io: &VjpIo) -> Result<()> {
        let factor = match io.factor {
            Factor::One => Factor::Channel,
            Factor::X => Factor::XTimesChannel,
            other => {
                return Err(Error::Invalid(format!(
                    "batch norm '{}' takes the factor 1 or x, not {other:?}",
                    io.name
                )))
            }
        };
        let key = WeightKey {
            node: io.node,
            param: Param::Scale,
            modifier: WeightMod::Plain,
        };
        let scale = p.weight(key, &format!("{}.scale", io.name), self.scale.len())?;
        let sc = Scale {
            x: io.xs[0],
            s: io.g,
            channel_values: Some(Resource::Const(scale)),
            count: io.batch * io.out_shape.iter().product::<usize>(),
            channels: self.scale.len(),
            inner: io.out_shape[1..].iter().product(),
            factor,
            coef: io.coef,
        };
        scale_pass(p, &sc, io.dests[0])
    }

    fn linear(&self) -> Option<&dyn LinearLayer> {
        None
    }

    fn nonnegative(&self, _inputs: &[bool]) -> bool {
        false
    }

    fn parameter(&self, param: Param, _modifier: WeightMod) -> Option<Vec<f32>> {
        match param {
            Param::Scale => Some(self.scale.clone()),
            Param::Affine => Some(self.scale.iter().chain(&self.shift).cloned().collect()),
            Param::Weight
            | Param::ConvPacked
            | Param::ConvAdjointPacked
            | Param::ConvWinograd
            | Param::ConvAdjointWinograd
            | Param::Bias => None,
        }
    }

    fn macs(&self, _out_shape: &[usize]) -> u64 {
        0
    }
}
