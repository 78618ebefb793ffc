//! Element-wise functions: one layer kind for every row of the table in `table.rs` (ReLU, Clip,
//! Sigmoid, Tanh, HardSigmoid, HardSwish, GELU, SiLU), one WGSL kernel specialised by the row.

mod onnx;
pub mod table;

pub(crate) use onnx::ONNX;
pub use table::{Func, Row, FUNCTIONS};

use super::{Factor, ForwardIo, GradMode, Layer, LayerClass, LinearLayer, RefVjp, VjpIo};
use crate::error::{Error, Result};
use crate::model::Tensor;
use crate::plan::{binds, Launch, Out, Param, Program, TensorId, WeightMod, WgslEnum};

crate::params! {
    /// Values, the row's parameters, and the backward pass's mode, factor and multiplier.
    pub struct ElementwiseParams {
        pub count: u32, pub a: f32, pub b: f32, pub mode: u32,
        pub factor: u32, pub accumulate: u32, pub coef: f32, pub pad0: u32,
    }
}

pub(crate) const KERNEL: crate::plan::Kernel<ElementwiseParams> =
    crate::plan::Kernel::with_generated(
        "layers/elementwise/elementwise",
        include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/shaders/layers/elementwise/elementwise.wgsl"
        )),
        table::wgsl_dispatch,
    );

/// One element-wise function with its parameters.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Elementwise {
    /// Which function.
    pub func: Func,
    /// Its first parameter (Clip's lower bound, HardSigmoid's α); 0 where unused.
    pub a: f32,
    /// Its second parameter (Clip's upper bound, HardSigmoid's β); 0 where unused.
    pub b: f32,
}

impl Elementwise {
    /// A function without parameters.
    pub fn new(func: Func) -> Self {
        Elementwise {
            func,
            a: 0.0,
            b: 0.0,
        }
    }

    /// `max(x, 0)`.
    pub fn relu() -> Self {
        Self::new(Func::Relu)
    }

    /// `min(max(x, min), max)`.
    pub fn clip(min: f32, max: f32) -> Self {
        Elementwise {
            func: Func::Clip,
            a: min,
            b: max,
        }
    }

    /// `min(max(α·x + β, 0), 1)` (ONNX's defaults: α = 0.2, β = 0.5).
    pub fn hard_sigmoid(alpha: f32, beta: f32) -> Self {
        Elementwise {
            func: Func::HardSigmoid,
            a: alpha,
            b: beta,
        }
    }

    /// `x · HardSigmoid(x)` with α = 1/6, β = 1/2 (ONNX's HardSwish), or other α, β.
    pub fn hard_swish(alpha: f32, beta: f32) -> Self {
        Elementwise {
            func: Func::HardSwish,
            a: alpha,
            b: beta,
        }
    }

    fn row(&self) -> &'static Row {
        self.func.row()
    }

    /// The f64 value at `x`.
    pub fn f(&self, x: f64) -> f64 {
        (self.row().f)(x, self.a as f64, self.b as f64)
    }

    /// The f64 derivative at `x`.
    pub fn df(&self, x: f64) -> f64 {
        (self.row().df)(x, self.a as f64, self.b as f64)
    }

    /// What flows back through one value in a mode (f64): `g` in, ḡ out.
    fn backward(&self, mode: GradMode, x: f64, g: f64, reference: Option<f64>) -> f64 {
        let rect = self.row().rectifier;
        match mode {
            GradMode::Deconvnet if rect => g.max(0.0),
            GradMode::GuidedBackprop if rect => g.max(0.0) * self.df(x),
            GradMode::Rescale => match reference {
                Some(r) if (x - r).abs() >= 1e-10 => g * (self.f(x) - self.f(r)) / (x - r),
                _ => g * self.df(x),
            },
            GradMode::Redirected if rect && self.df(x) == 0.0 => {
                if self.func == Func::Relu || x <= self.a as f64 {
                    g.max(0.0)
                } else {
                    g.min(0.0)
                }
            }
            GradMode::Gradient
            | GradMode::ConstantStatistics
            | GradMode::SplitTies
            | GradMode::Deconvnet
            | GradMode::GuidedBackprop
            | GradMode::Redirected => g * self.df(x),
        }
    }
}

impl Layer for Elementwise {
    fn kind(&self) -> &'static str {
        self.row().kind
    }

    fn class(&self) -> LayerClass {
        LayerClass::Activation
    }

    fn output_shape(&self, inputs: &[&[usize]]) -> Result<Vec<usize>> {
        Ok(super::one_input(inputs)?.to_vec())
    }

    fn reference(&self, xs: &[&Tensor<f64>]) -> Tensor<f64> {
        Tensor {
            shape: xs[0].shape.clone(),
            data: xs[0].data.iter().map(|&v| self.f(v)).collect(),
        }
    }

    fn reference_vjp(&self, v: &RefVjp) -> Vec<Tensor<f64>> {
        let x = v.xs[0];
        let refs = v.reference.map(|(xs, _)| xs[0]);
        let data = (0..x.data.len())
            .map(|i| self.backward(v.mode, x.data[i], v.g.data[i], refs.map(|r| r.data[i])))
            .collect();
        vec![Tensor {
            shape: x.shape.clone(),
            data,
        }]
    }

    fn record_forward(&self, p: &mut Program, io: &ForwardIo) -> Result<TensorId> {
        let count = io.batch * io.out_shape.iter().product::<usize>();
        let y = p.tensor(io.name, count)?;
        let params = ElementwiseParams {
            count: count as u32,
            a: self.a,
            b: self.b,
            ..ElementwiseParams::default()
        };
        let bindings = vec![
            (1, crate::plan::Resource::Tensor(io.xs[0])),
            (3, crate::plan::Resource::Tensor(y)),
        ];
        let constants = [("FUNC", self.func.code() as f64)];
        let launch = Launch::Flat {
            count: count as u64,
            size: 256,
        };
        p.pass_specialised(
            &KERNEL,
            "forward",
            &constants,
            &params,
            bindings,
            Out::Write(y),
            launch,
        )?;
        Ok(y)
    }

    fn record_vjp(&self, p: &mut Program, io: &VjpIo) -> Result<()> {
        if matches!(io.factor, Factor::Channel | Factor::XTimesChannel) {
            return Err(Error::Invalid(format!(
                "element-wise '{}' takes no per-channel factor",
                io.name
            )));
        }
        let count = io.batch * io.out_shape.iter().product::<usize>();
        let dest = io.dests[0];
        let params = ElementwiseParams {
            count: count as u32,
            a: self.a,
            b: self.b,
            mode: io.mode.code(),
            factor: io.factor.code(),
            accumulate: dest.accumulate as u32,
            coef: io.coef,
            pad0: 0,
        };
        let constants = [("FUNC", self.func.code() as f64)];
        let launch = Launch::Flat {
            count: count as u64,
            size: 256,
        };
        let bindings = binds(&[io.xs[0], io.g], &[], dest.tensor);
        p.pass_specialised(
            &KERNEL,
            "vjp",
            &constants,
            &params,
            bindings,
            dest.out(),
            launch,
        )
    }

    fn linear(&self) -> Option<&dyn LinearLayer> {
        None
    }

    fn nonnegative(&self, _inputs: &[bool]) -> bool {
        (self.row().nonnegative)(self.a, self.b)
    }

    fn parameter(&self, _param: Param, _modifier: WeightMod) -> Option<Vec<f32>> {
        None
    }

    fn macs(&self, _out_shape: &[usize]) -> u64 {
        0
    }
}
