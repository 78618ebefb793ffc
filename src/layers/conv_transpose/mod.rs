//! 2-D transposed convolution (ONNX `ConvTranspose`): parameters, shapes, the f64 references
//! (as the definition reads: every input value scatters a weighted kernel), and the [`Layer`]
//! and [`LinearLayer`] implementations; GPU recording is in `record.rs`, the ONNX mapping in
//! `onnx.rs`.
//!
//! A transposed convolution is the adjoint of the convolution of the same geometry whose weight
//! `[C_out_conv, C_in_conv/g, KH, KW]` is this layer's `[C_in, C_out/g, KH, KW]`: its forward pass
//! gathers like the convolution's VJP, and its VJP is a plain (strided, dilated) convolution.

mod onnx;
mod record;

pub(crate) use onnx::ONNX;
pub(crate) use record::{FORWARD, VJP};

use super::{ForwardIo, Layer, LayerClass, LinearIo, LinearLayer, RefVjp, VjpIo};
use crate::error::{Error, Result};
use crate::model::Tensor;
use crate::plan::{Param, Program, TensorId, WeightMod};

/// Transposed convolution weights and geometry (ONNX's attributes, pads resolved).
#[derive(Clone, Debug)]
pub struct ConvTranspose2d {
    /// `[C_in, C_out / groups, KH, KW]` (ONNX layout: input channels first).
    pub weight: Tensor,
    /// One value per output channel.
    pub bias: Option<Vec<f32>>,
    /// `[sy, sx]`.
    pub stride: [usize; 2],
    /// `[top, left, bottom, right]`: rows and columns cropped from the full output.
    pub pads: [usize; 4],
    /// `[dy, dx]`.
    pub dilation: [usize; 2],
    /// `[oy, ox]`: rows and columns added at the bottom and right (they receive only the bias
    /// and the taps that reach them).
    pub output_padding: [usize; 2],
    /// Channel groups; `groups == C_in == C_out` is depthwise.
    pub groups: usize,
}

/// One output axis: `(H − 1)·s − pad_a − pad_b + d·(K − 1) + output_padding + 1` (ONNX).
pub(crate) fn transposed_out(
    size: usize,
    k: usize,
    stride: usize,
    dil: usize,
    pads: [usize; 2],
    output_padding: usize,
) -> Result<usize> {
    let full = (size as i128 - 1) * stride as i128
        + dil as i128 * (k as i128 - 1)
        + output_padding as i128
        + 1;
    let out = full - pads[0] as i128 - pads[1] as i128;
    if size == 0 || k == 0 || out < 1 || out > u32::MAX as i128 {
        return Err(Error::Shape(format!(
            "transposed convolution of an axis of {size} by a window of {k} (stride {stride}, dilation {dil}, output padding {output_padding}) has {full} values before cropping {}+{}: nothing is left",
            pads[0], pads[1]
        )));
    }
    Ok(out as usize)
}

impl ConvTranspose2d {
    /// Output shape `[C_out, OH, OW]` for an input `[C_in, H, W]`.
    pub fn output_shape(&self, input: &[usize]) -> Result<Vec<usize>> {
        let w = &self.weight.shape;
        if w.len() != 4 || input.len() != 3 {
            return Err(Error::Shape(format!(
                "transposed convolution needs a 4-D weight and a [C,H,W] input, got weight {w:?} and input {input:?}"
            )));
        }
        if self.groups == 0 || self.stride.contains(&0) || self.dilation.contains(&0) {
            return Err(Error::Shape(
                "stride, dilation and groups must be positive".into(),
            ));
        }
        let (cin, cout_g, kh, kw) = (w[0], w[1], w[2], w[3]);
        if input[0] != cin || cin % self.groups != 0 {
            return Err(Error::Shape(format!(
                "input has {} channels but the transposed weight {w:?} with {} groups expects {cin} (a multiple of the groups)",
                input[0], self.groups
            )));
        }
        let cout = cout_g * self.groups;
        if let Some(b) = &self.bias {
            if b.len() != cout {
                return Err(Error::Shape(format!(
                    "bias has {} values for {cout} channels",
                    b.len()
                )));
            }
        }
        let p = &self.pads;
        let oh = transposed_out(
            input[1],
            kh,
            self.stride[0],
            self.dilation[0],
            [p[0], p[2]],
            self.output_padding[0],
        )?;
        let ow = transposed_out(
            input[2],
            kw,
            self.stride[1],
            self.dilation[1],
            [p[1], p[3]],
            self.output_padding[1],
        )?;
        Ok(vec![cout, oh, ow])
    }

    /// Output coordinate input `i` reaches at kernel tap `u` along axis `a`, or `None` when it
    /// is cropped.
    fn reach(&self, a: usize, i: usize, u: usize, out: usize) -> Option<usize> {
        let o = (i * self.stride[a] + u * self.dilation[a]) as isize - self.pads[a] as isize;
        (o >= 0 && (o as usize) < out).then_some(o as usize)
    }

    /// Calls `f(weight index, input index, output index)` for every multiply of the definition:
    /// input `x[n, c, i, j]` scatters `W[c, m, u, v]` to `y[n, g·Mg + m, i·s − p + u·d, …]`.
    fn each_tap(&self, n: usize, input: &[usize], mut f: impl FnMut(usize, usize, usize)) {
        let (cin, h, w) = (input[0], input[1], input[2]);
        let out = self
            .output_shape(input)
            .expect("shape checked at graph build");
        let (cout, oh, ow) = (out[0], out[1], out[2]);
        let ws = &self.weight.shape;
        let (mg, kh, kw) = (ws[1], ws[2], ws[3]);
        let cin_g = cin / self.groups;
        for b in 0..n {
            for c in 0..cin {
                let g = c / cin_g;
                for i in 0..h {
                    for j in 0..w {
                        let xi = ((b * cin + c) * h + i) * w + j;
                        for m in 0..mg {
                            let o = g * mg + m;
                            for u in 0..kh {
                                let Some(yy) = self.reach(0, i, u, oh) else {
                                    continue;
                                };
                                for v in 0..kw {
                                    let Some(xx) = self.reach(1, j, v, ow) else {
                                        continue;
                                    };
                                    let wi = ((c * mg + m) * kh + u) * kw + v;
                                    f(wi, xi, ((b * cout + o) * oh + yy) * ow + xx);
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /// f64 reference, as the definition reads: `y = b + Σ` of every input value times the kernel
    /// it scatters (`y[n,o,i·s−p+u·d,…] += W[c,m,u,v]·x[n,c,i,…]`, `o = g·Mg + m`).
    pub fn reference(&self, x: &Tensor<f64>) -> Tensor<f64> {
        let [n, cin, h, w] = super::conv2d::dims4(&x.shape);
        let out = self
            .output_shape(&[cin, h, w])
            .expect("shape checked at graph build");
        let (cout, inner) = (out[0], out[1] * out[2]);
        let mut y = Tensor::zeros(vec![n, cout, out[1], out[2]]);
        if let Some(b) = &self.bias {
            for (k, v) in y.data.iter_mut().enumerate() {
                *v = b[(k / inner) % cout] as f64;
            }
        }
        self.each_tap(n, &[cin, h, w], |wi, xi, yi| {
            y.data[yi] += self.weight.data[wi] as f64 * x.data[xi];
        });
        y
    }

    /// f64 reference of the adjoint: `x̄ = Wᵀ ȳ` (the input gradient of `Σ ȳ·y`, bias excluded),
    /// over the same multiplies as the forward pass.
    pub fn reference_transpose(&self, ybar: &Tensor<f64>, input: &[usize]) -> Tensor<f64> {
        let n = ybar.shape[0];
        let mut x = Tensor::zeros(vec![n, input[0], input[1], input[2]]);
        self.each_tap(n, input, |wi, xi, yi| {
            x.data[xi] += self.weight.data[wi] as f64 * ybar.data[yi];
        });
        x
    }

    /// The same layer with its weight (and bias, unless dropped) modified.
    pub fn modified(&self, weights: WeightMod, bias: bool) -> ConvTranspose2d {
        let (weight, bias) = super::modify_parameters(&self.weight, &self.bias, weights, bias);
        ConvTranspose2d {
            weight,
            bias,
            ..self.clone()
        }
    }
}

impl Layer for ConvTranspose2d {
    fn kind(&self) -> &'static str {
        "ConvTranspose2d"
    }

    fn class(&self) -> LayerClass {
        LayerClass::Convolution
    }

    fn output_shape(&self, inputs: &[&[usize]]) -> Result<Vec<usize>> {
        self.output_shape(super::one_input(inputs)?)
    }

    fn reference(&self, xs: &[&Tensor<f64>]) -> Tensor<f64> {
        ConvTranspose2d::reference(self, xs[0])
    }

    fn reference_vjp(&self, v: &RefVjp) -> Vec<Tensor<f64>> {
        let m = self.modified(v.weights, false);
        vec![m.reference_transpose(v.g, &v.xs[0].shape[1..])]
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

    fn macs(&self, out_shape: &[usize]) -> u64 {
        // Each output value gathers about C_in/g · KH·KW / (sy·sx) taps.
        let w = &self.weight.shape;
        let per = (w[0] / self.groups.max(1)) * w[2] * w[3];
        (out_shape.iter().product::<usize>() * per / (self.stride[0] * self.stride[1]).max(1))
            as u64
    }
}

impl LinearLayer for ConvTranspose2d {
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
