//! Add: the element-wise sum of two or more activations of one shape (residual connections).

mod onnx;

pub(crate) use onnx::ONNX;

use super::scale::pass_through;
use super::{ForwardIo, Layer, LayerClass, LinearLayer, RefVjp, VjpIo};
use crate::error::{Error, Result};
use crate::model::Tensor;
use crate::plan::{binds, Launch, Out, Param, Program, Resource, TensorId, WeightMod};

crate::params! {
    /// Values per tensor.
    pub struct AddParams { pub count: u32, pub pad0: u32, pub pad1: u32, pub pad2: u32 }
}

crate::kernel!(pub(crate) FORWARD: AddParams = "layers/add/forward");

/// A sum of activations.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Add;

impl Layer for Add {
    fn kind(&self) -> &'static str {
        "Add"
    }

    fn class(&self) -> LayerClass {
        LayerClass::Sum
    }

    fn output_shape(&self, inputs: &[&[usize]]) -> Result<Vec<usize>> {
        if inputs.len() < 2 || inputs.iter().any(|s| *s != inputs[0]) {
            return Err(Error::Shape(format!(
                "Add needs two or more inputs of one shape, got {inputs:?}"
            )));
        }
        Ok(inputs[0].to_vec())
    }

    fn reference(&self, xs: &[&Tensor<f64>]) -> Tensor<f64> {
        let mut y = xs[0].clone();
        for x in &xs[1..] {
            y.data.iter_mut().zip(&x.data).for_each(|(a, b)| *a += b);
        }
        y
    }

    fn reference_vjp(&self, v: &RefVjp) -> Vec<Tensor<f64>> {
        v.xs.iter()
            .map(|x| Tensor {
                shape: x.shape.clone(),
                data: v.g.data.clone(),
            })
            .collect()
    }

    fn record_forward(&self, p: &mut Program, io: &ForwardIo) -> Result<TensorId> {
        let count = io.batch * io.out_shape.iter().product::<usize>();
        let y = p.tensor(io.name, count)?;
        let params = AddParams {
            count: count as u32,
            ..AddParams::default()
        };
        let launch = Launch::Flat {
            count: count as u64,
            size: 256,
        };
        p.pass(
            &FORWARD,
            "main",
            &params,
            binds(&io.xs[..2], &[], y),
            Out::Write(y),
            launch,
        )?;
        for &extra in &io.xs[2..] {
            let bindings = vec![(1, Resource::Tensor(extra)), (3, Resource::Tensor(y))];
            p.pass(
                &FORWARD,
                "accumulate",
                &params,
                bindings,
                Out::Update(y),
                launch,
            )?;
        }
        Ok(y)
    }

    fn record_vjp(&self, p: &mut Program, io: &VjpIo) -> Result<()> {
        let count = io.batch * io.out_shape.iter().product::<usize>();
        for (&x, &dest) in io.xs.iter().zip(io.dests) {
            pass_through(p, x, io.g, count, io.factor, io.coef, dest)?;
        }
        Ok(())
    }

    fn linear(&self) -> Option<&dyn LinearLayer> {
        None
    }

    fn nonnegative(&self, inputs: &[bool]) -> bool {
        inputs.iter().all(|&b| b)
    }

    fn parameter(&self, _param: Param, _modifier: WeightMod) -> Option<Vec<f32>> {
        None
    }

    fn macs(&self, _out_shape: &[usize]) -> u64 {
        0
    }

    fn passes_gradient(&self) -> bool {
        true
    }
}
