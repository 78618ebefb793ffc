//! Max, average and global average pooling: window geometry, shapes, f64 references and the
//! three layer kinds; the VJP references are in `reference.rs`, GPU recording in `record.rs`.

mod onnx;
mod record;
mod reduce;
mod reference;

pub(crate) use onnx::ONNX;
pub use record::{GlobalPoolParams, PoolParams, PoolVjpParams};
pub(crate) use record::{FORWARD, GLOBAL_FORWARD, VJP};

use super::conv2d::{dims4, window_out};
use super::{ForwardIo, GradMode, Layer, LayerClass, LinearLayer, RefVjp, VjpIo};
use crate::error::{Error, Result};
use crate::model::Tensor;
use crate::plan::{Param, Program, TensorId, WeightMod};

/// Pooling window geometry (ONNX MaxPool / AveragePool attributes).
#[derive(Clone, Debug, PartialEq)]
pub struct Pool2d {
    /// `[KH, KW]`.
    pub kernel: [usize; 2],
    /// `[sy, sx]`.
    pub stride: [usize; 2],
    /// `[top, left, bottom, right]`.
    pub pads: [usize; 4],
    /// Average pooling divides by the whole window, pads included (ONNX `count_include_pad = 1`).
    pub count_include_pad: bool,
    /// Output size rounds up (ONNX `ceil_mode = 1`).
    pub ceil_mode: bool,
}

impl Pool2d {
    /// The window of global average pooling over a `[C, H, W]` input: one window per plane.
    pub fn global(input: &[usize]) -> Pool2d {
        Pool2d {
            kernel: [input[1], input[2]],
            stride: [1, 1],
            pads: [0; 4],
            count_include_pad: false,
            ceil_mode: false,
        }
    }

    /// `[C, OH, OW]` for an input `[C, H, W]`.
    pub fn output_shape(&self, input: &[usize]) -> Result<Vec<usize>> {
        if input.len() != 3 {
            return Err(Error::Shape(format!(
                "pooling needs a [C,H,W] input, got {input:?}"
            )));
        }
        if self.stride.contains(&0) || self.kernel.contains(&0) {
            return Err(Error::Shape(
                "pooling kernel and stride must be positive".into(),
            ));
        }
        if self.pads[0] >= self.kernel[0]
            || self.pads[2] >= self.kernel[0]
            || self.pads[1] >= self.kernel[1]
            || self.pads[3] >= self.kernel[1]
        {
            return Err(Error::Shape(format!(
                "padding {:?} must be smaller than the window {:?}",
                self.pads, self.kernel
            )));
        }
        let oh = window_out(
            input[1],
            self.kernel[0],
            self.stride[0],
            1,
            self.pads[0],
            self.pads[2],
            self.ceil_mode,
        )?;
        let ow = window_out(
            input[2],
            self.kernel[1],
            self.stride[1],
            1,
            self.pads[1],
            self.pads[3],
            self.ceil_mode,
        )?;
        Ok(vec![input[0], oh, ow])
    }

    /// The window of output `(i, j)` clipped to the input: rows `y0..y1`, columns `x0..x1`,
    /// and the divisor average pooling uses.
    pub fn window(
        &self,
        i: usize,
        j: usize,
        h: usize,
        w: usize,
    ) -> (usize, usize, usize, usize, usize) {
        let span = |o: usize, a: usize| {
            let start = (o * self.stride[a]) as isize - self.pads[a] as isize;
            let end = start + self.kernel[a] as isize;
            (start, end)
        };
        let (sy, ey) = span(i, 0);
        let (sx, ex) = span(j, 1);
        let clip = |v: isize, hi: usize| v.clamp(0, hi as isize) as usize;
        let (y0, y1, x0, x1) = (clip(sy, h), clip(ey, h), clip(sx, w), clip(ex, w));
        let divisor = if self.count_include_pad {
            // The window clipped to the padded extent (a ceil-mode overhang past the pads is not counted).
            let ph = (ey.min((h + self.pads[2]) as isize) - sy) as usize;
            let pw = (ex.min((w + self.pads[3]) as isize) - sx) as usize;
            ph * pw
        } else {
            (y1 - y0) * (x1 - x0)
        };
        (y0, y1, x0, x1, divisor)
    }

    /// f64 reference of max pooling (padding never wins).
    pub fn reference_max(&self, x: &Tensor<f64>) -> Tensor<f64> {
        self.reference_with(x, |vals, _| {
            vals.iter().cloned().fold(f64::NEG_INFINITY, f64::max)
        })
    }

    /// f64 reference of average pooling.
    pub fn reference_avg(&self, x: &Tensor<f64>) -> Tensor<f64> {
        self.reference_with(x, |vals, div| vals.iter().sum::<f64>() / div as f64)
    }

    fn reference_with(&self, x: &Tensor<f64>, f: impl Fn(&[f64], usize) -> f64) -> Tensor<f64> {
        let [n, c, h, w] = dims4(&x.shape);
        let out = self
            .output_shape(&[c, h, w])
            .expect("shape checked at graph build");
        let (oh, ow) = (out[1], out[2]);
        let mut y = Tensor::zeros(vec![n, c, oh, ow]);
        let mut vals = Vec::new();
        for p in 0..n * c {
            for i in 0..oh {
                for j in 0..ow {
                    let (y0, y1, x0, x1, div) = self.window(i, j, h, w);
                    vals.clear();
                    for yy in y0..y1 {
                        for xx in x0..x1 {
                            vals.push(x.data[(p * h + yy) * w + xx]);
                        }
                    }
                    y.data[(p * oh + i) * ow + j] = f(&vals, div);
                }
            }
        }
        y
    }
}

/// Max pooling.
#[derive(Clone, Debug, PartialEq)]
pub struct MaxPool2d(pub Pool2d);

/// Average pooling.
#[derive(Clone, Debug, PartialEq)]
pub struct AvgPool2d(pub Pool2d);

impl std::ops::Deref for MaxPool2d {
    type Target = Pool2d;
    fn deref(&self) -> &Pool2d {
        &self.0
    }
}

impl std::ops::Deref for AvgPool2d {
    type Target = Pool2d;
    fn deref(&self) -> &Pool2d {
        &self.0
    }
}

/// The mean of each channel's plane: `[C, H, W] → [C, 1, 1]`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GlobalAvgPool;

/// The pieces of a pooling layer's [`Layer`] implementation that do not depend on the kind.
macro_rules! no_parameters {
    () => {
        fn linear(&self) -> Option<&dyn LinearLayer> {
            None
        }

        fn nonnegative(&self, inputs: &[bool]) -> bool {
            inputs[0]
        }

        fn parameter(&self, _param: Param, _modifier: WeightMod) -> Option<Vec<f32>> {
            None
        }

        fn macs(&self, _out_shape: &[usize]) -> u64 {
            0
        }
    };
}

impl Layer for MaxPool2d {
    fn kind(&self) -> &'static str {
        "MaxPool2d"
    }

    fn class(&self) -> LayerClass {
        LayerClass::MaxPool
    }

    fn output_shape(&self, inputs: &[&[usize]]) -> Result<Vec<usize>> {
        self.0.output_shape(super::one_input(inputs)?)
    }

    fn reference(&self, xs: &[&Tensor<f64>]) -> Tensor<f64> {
        self.0.reference_max(xs[0])
    }

    fn reference_vjp(&self, v: &RefVjp) -> Vec<Tensor<f64>> {
        let x = v.xs[0];
        vec![match (v.mode, v.reference) {
            (GradMode::SplitTies, _) => reference::max_winner(&self.0, x, v.y, v.g, false),
            (GradMode::Rescale, Some((rx, ry))) => {
                reference::max_rescale(&self.0, x, v.y, rx[0], ry, v.g)
            }
            (
                GradMode::Gradient
                | GradMode::Deconvnet
                | GradMode::GuidedBackprop
                | GradMode::Redirected
                | GradMode::ConstantStatistics
                | GradMode::Rescale,
                _,
            ) => reference::max_winner(&self.0, x, v.y, v.g, true),
        }]
    }

    fn record_forward(&self, p: &mut Program, io: &ForwardIo) -> Result<TensorId> {
        record::forward(&self.0, "max_pool", p, io)
    }

    fn record_vjp(&self, p: &mut Program, io: &VjpIo) -> Result<()> {
        record::max_vjp(&self.0, p, io)
    }

    no_parameters!();
}

impl Layer for AvgPool2d {
    fn kind(&self) -> &'static str {
        "AvgPool2d"
    }

    fn class(&self) -> LayerClass {
        LayerClass::AvgPool
    }

    fn output_shape(&self, inputs: &[&[usize]]) -> Result<Vec<usize>> {
        self.0.output_shape(super::one_input(inputs)?)
    }

    fn reference(&self, xs: &[&Tensor<f64>]) -> Tensor<f64> {
        self.0.reference_avg(xs[0])
    }

    fn reference_vjp(&self, v: &RefVjp) -> Vec<Tensor<f64>> {
        vec![reference::avg_adjoint(&self.0, v.g, v.xs[0])]
    }

    fn record_forward(&self, p: &mut Program, io: &ForwardIo) -> Result<TensorId> {
        record::forward(&self.0, "avg_pool", p, io)
    }

    fn record_vjp(&self, p: &mut Program, io: &VjpIo) -> Result<()> {
        record::avg_vjp(&self.0, p, io)
    }

    no_parameters!();
}

impl Layer for GlobalAvgPool {
    fn kind(&self) -> &'static str {
        "GlobalAvgPool"
    }

    fn class(&self) -> LayerClass {
        LayerClass::AvgPool
    }

    fn output_shape(&self, inputs: &[&[usize]]) -> Result<Vec<usize>> {
        match super::one_input(inputs)? {
            [c, _, _] => Ok(vec![*c, 1, 1]),
            s => Err(Error::Shape(format!(
                "global pooling needs [C,H,W], got {s:?}"
            ))),
        }
    }

    fn reference(&self, xs: &[&Tensor<f64>]) -> Tensor<f64> {
        reference_global_avg(xs[0])
    }

    fn reference_vjp(&self, v: &RefVjp) -> Vec<Tensor<f64>> {
        let x = v.xs[0];
        vec![reference::avg_adjoint(
            &Pool2d::global(&x.shape[1..]),
            v.g,
            x,
        )]
    }

    fn record_forward(&self, p: &mut Program, io: &ForwardIo) -> Result<TensorId> {
        record::global_forward(p, io)
    }

    fn record_vjp(&self, p: &mut Program, io: &VjpIo) -> Result<()> {
        record::avg_vjp(&Pool2d::global(io.in_shapes[0]), p, io)
    }

    no_parameters!();
}

/// f64 reference of global average pooling: `[N,C,H,W] → [N,C,1,1]`.
pub fn reference_global_avg(x: &Tensor<f64>) -> Tensor<f64> {
    let [n, c, h, w] = dims4(&x.shape);
    let data = x
        .data
        .chunks(h * w)
        .map(|p| p.iter().sum::<f64>() / (h * w) as f64)
        .collect();
    Tensor {
        shape: vec![n, c, 1, 1],
        data,
    }
}
