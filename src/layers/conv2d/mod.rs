//! 2-D convolution: parameters, shapes, the f64 references (as the definition reads), and the
//! [`Layer`] and [`LinearLayer`] implementations; GPU recording is in `record.rs`, the ONNX
//! mapping in `onnx.rs`.

mod onnx;
mod record;
mod winograd;

pub(crate) use onnx::ONNX;
pub use record::{ConvForwardParams, ConvVjpParams};
pub(crate) use record::{
    DEPTHWISE, DEPTHWISE_VJP, FORWARD, FORWARD_SUBGROUP, VJP, VJP_REGISTERS, VJP_SUBGROUP,
};
pub(crate) use winograd::{
    GEMM as WINOGRAD_GEMM, INPUT as WINOGRAD_INPUT, MIN_CHANNELS as WINOGRAD_MIN_CHANNELS,
    OUTPUT as WINOGRAD_OUTPUT,
};

use super::{ForwardIo, Layer, LayerClass, LinearIo, LinearLayer, RefVjp, VjpIo};
use crate::error::{Error, Result};
use crate::model::Tensor;
use crate::plan::{Param, Program, TensorId, WeightMod};

/// Convolution weights and geometry.
#[derive(Clone, Debug)]
pub struct Conv2d {
    /// `[C_out, C_in / groups, KH, KW]`.
    pub weight: Tensor,
    /// One value per output channel.
    pub bias: Option<Vec<f32>>,
    /// `[sy, sx]`.
    pub stride: [usize; 2],
    /// `[top, left, bottom, right]` zero padding.
    pub pads: [usize; 4],
    /// `[dy, dx]`.
    pub dilation: [usize; 2],
    /// Channel groups; `groups == C_in == C_out` is depthwise.
    pub groups: usize,
}

impl Conv2d {
    /// Output shape `[C_out, OH, OW]` for an input `[C_in, H, W]`.
    pub fn output_shape(&self, input: &[usize]) -> Result<Vec<usize>> {
        let w = &self.weight.shape;
        if w.len() != 4 || input.len() != 3 {
            return Err(Error::Shape(format!(
                "convolution needs a 4-D weight and a [C,H,W] input, got weight {w:?} and input {input:?}"
            )));
        }
        if self.groups == 0 || self.stride.contains(&0) || self.dilation.contains(&0) {
            return Err(Error::Shape(
                "stride, dilation and groups must be positive".into(),
            ));
        }
        let (cout, cin_g, kh, kw) = (w[0], w[1], w[2], w[3]);
        if input[0] != cin_g * self.groups || cout % self.groups != 0 {
            return Err(Error::Shape(format!(
                "input has {} channels but the weight {w:?} with {} groups expects {}",
                input[0],
                self.groups,
                cin_g * self.groups
            )));
        }
        if let Some(b) = &self.bias {
            if b.len() != cout {
                return Err(Error::Shape(format!(
                    "bias has {} values for {cout} channels",
                    b.len()
                )));
            }
        }
        let oh = window_out(
            input[1],
            kh,
            self.stride[0],
            self.dilation[0],
            self.pads[0],
            self.pads[2],
            false,
        )?;
        let ow = window_out(
            input[2],
            kw,
            self.stride[1],
            self.dilation[1],
            self.pads[1],
            self.pads[3],
            false,
        )?;
        Ok(vec![cout, oh, ow])
    }

    /// f64 reference, as the definition reads: `y[o,i,j] = b[o] + Σ_{c,u,v} W[o,c,u,v] x[g·cg + c, i·s − p + u·d, …]`.
    pub fn reference(&self, x: &Tensor<f64>) -> Tensor<f64> {
        let [n, cin, h, w] = dims4(&x.shape);
        let out = self
            .output_shape(&[cin, h, w])
            .expect("shape checked at graph build");
        let (cout, oh, ow) = (out[0], out[1], out[2]);
        let ws = &self.weight.shape;
        let (cin_g, kh, kw) = (ws[1], ws[2], ws[3]);
        let cout_g = cout / self.groups;
        let mut y = Tensor::zeros(vec![n, cout, oh, ow]);
        for b in 0..n {
            for o in 0..cout {
                let g = o / cout_g;
                for i in 0..oh {
                    for j in 0..ow {
                        let mut acc = self.bias.as_ref().map_or(0.0, |b| b[o] as f64);
                        for c in 0..cin_g {
                            let ci = g * cin_g + c;
                            for u in 0..kh {
                                let Some(yy) =
                                    tap(i, u, self.stride[0], self.dilation[0], self.pads[0], h)
                                else {
                                    continue;
                                };
                                for v in 0..kw {
                                    let Some(xx) = tap(
                                        j,
                                        v,
                                        self.stride[1],
                                        self.dilation[1],
                                        self.pads[1],
                                        w,
                                    ) else {
                                        continue;
                                    };
                                    let wv = self.weight.data[((o * cin_g + c) * kh + u) * kw + v]
                                        as f64;
                                    acc += wv * x.data[((b * cin + ci) * h + yy) * w + xx];
                                }
                            }
                        }
                        y.data[((b * cout + o) * oh + i) * ow + j] = acc;
                    }
                }
            }
        }
        y
    }

    /// f64 reference of the adjoint: `x̄ = Wᵀ ȳ` (the input gradient of `Σ ȳ·y`, bias excluded).
    pub fn reference_transpose(&self, ybar: &Tensor<f64>, input: &[usize]) -> Tensor<f64> {
        let [n, cout, oh, ow] = dims4(&ybar.shape);
        let (cin, h, w) = (input[0], input[1], input[2]);
        let ws = &self.weight.shape;
        let (cin_g, kh, kw) = (ws[1], ws[2], ws[3]);
        let cout_g = cout / self.groups;
        let mut x = Tensor::zeros(vec![n, cin, h, w]);
        for b in 0..n {
            for o in 0..cout {
                let g = o / cout_g;
                for i in 0..oh {
                    for j in 0..ow {
                        let gy = ybar.data[((b * cout + o) * oh + i) * ow + j];
                        for c in 0..cin_g {
                            let ci = g * cin_g + c;
                            for u in 0..kh {
                                let Some(yy) =
                                    tap(i, u, self.stride[0], self.dilation[0], self.pads[0], h)
                                else {
                                    continue;
                                };
                                for v in 0..kw {
                                    let Some(xx) = tap(
                                        j,
                                        v,
                                        self.stride[1],
                                        self.dilation[1],
                                        self.pads[1],
                                        w,
                                    ) else {
                                        continue;
                                    };
                                    let wv = self.weight.data[((o * cin_g + c) * kh + u) * kw + v]
                                        as f64;
                                    x.data[((b * cin + ci) * h + yy) * w + xx] += wv * gy;
                                }
                            }
                        }
                    }
                }
            }
        }
        x
    }
}

/// Input coordinate read by output `i` at kernel tap `u`, or `None` in the padding.
pub(crate) fn tap(
    i: usize,
    u: usize,
    stride: usize,
    dil: usize,
    pad: usize,
    size: usize,
) -> Option<usize> {
    let p = (i * stride + u * dil) as isize - pad as isize;
    (p >= 0 && (p as usize) < size).then_some(p as usize)
}

/// Number of window positions along one axis (ONNX semantics, including `ceil_mode`).
pub(crate) fn window_out(
    size: usize,
    k: usize,
    stride: usize,
    dil: usize,
    pad_a: usize,
    pad_b: usize,
    ceil: bool,
) -> Result<usize> {
    let span = dil * (k - 1) + 1;
    let padded = size + pad_a + pad_b;
    if k == 0 || span > padded {
        return Err(Error::Shape(format!(
            "window of {k} (dilation {dil}) does not fit an axis of {size} padded by {pad_a}+{pad_b}"
        )));
    }
    let steps = padded - span;
    let mut out = if ceil {
        steps.div_ceil(stride)
    } else {
        steps / stride
    } + 1;
    // A last window that starts beyond the input and its leading pad is dropped (ONNX, PyTorch).
    if ceil && (out - 1) * stride >= size + pad_a {
        out -= 1;
    }
    Ok(out)
}

/// `[N, C, H, W]` of a 4-D shape.
pub(crate) fn dims4(shape: &[usize]) -> [usize; 4] {
    [shape[0], shape[1], shape[2], shape[3]]
}

impl Conv2d {
    /// The same convolution with its weight (and bias, unless dropped) modified.
    pub fn modified(&self, weights: WeightMod, bias: bool) -> Conv2d {
        let (weight, bias) = super::modify_parameters(&self.weight, &self.bias, weights, bias);
        Conv2d {
            weight,
            bias,
            ..self.clone()
        }
    }
}

impl Layer for Conv2d {
    fn kind(&self) -> &'static str {
        "Conv2d"
    }

    fn class(&self) -> LayerClass {
        LayerClass::Convolution
    }

    fn output_shape(&self, inputs: &[&[usize]]) -> Result<Vec<usize>> {
        self.output_shape(super::one_input(inputs)?)
    }

    fn reference(&self, xs: &[&Tensor<f64>]) -> Tensor<f64> {
        Conv2d::reference(self, xs[0])
    }

    fn reference_vjp(&self, v: &RefVjp) -> Vec<Tensor<f64>> {
        let x = v.xs[0];
        let m = self.modified(v.weights, false);
        vec![m.reference_transpose(v.g, &x.shape[1..])]
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
            Param::ConvPacked => Some(record::pack_forward(&m)),
            Param::ConvAdjointPacked => Some(record::pack_adjoint(&m)),
            Param::ConvWinograd => Some(winograd::pack_forward(&m)),
            Param::ConvAdjointWinograd => Some(winograd::pack_adjoint(&m)),
            Param::Bias => Some(m.bias.unwrap_or_default()),
            Param::Scale | Param::Affine => None,
        }
    }

    fn macs(&self, out_shape: &[usize]) -> u64 {
        let w = &self.weight.shape;
        out_shape.iter().product::<usize>() as u64 * (w[1] * w[2] * w[3]) as u64
    }
}

impl LinearLayer for Conv2d {
    fn has_bias(&self) -> bool {
        self.bias.is_some()
    }

    fn record_linear(&self, p: &mut Program, io: &LinearIo) -> Result<()> {
        record::forward(self, p, io)
    }

    fn reference_linear(&self, x: &Tensor<f64>, weights: WeightMod, bias: bool) -> Tensor<f64> {
        self.modified(weights, bias).reference(x)
    }
}
