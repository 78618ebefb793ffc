//! Reshape (Flatten, Reshape): the same values in a new per-item shape. Its output aliases its
//! input's tensor; what flows back passes unchanged.

mod onnx;

pub(crate) use onnx::ONNX;

use super::scale::pass_through;
use super::{ForwardIo, Layer, LayerClass, LinearLayer, RefVjp, VjpIo};
use crate::error::{Error, Result};
use crate::model::Tensor;
use crate::plan::{Param, Program, TensorId, WeightMod};

/// A reshape to `shape` per item.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reshape {
    /// The per-item output shape.
    pub shape: Vec<usize>,
}

impl Layer for Reshape {
    fn kind(&self) -> &'static str {
        "Reshape"
    }

    fn class(&self) -> LayerClass {
        LayerClass::Reshape
    }

    fn output_shape(&self, inputs: &[&[usize]]) -> Result<Vec<usize>> {
        let from = super::one_input(inputs)?;
        if from.iter().product::<usize>() != self.shape.iter().product::<usize>() {
            return Err(Error::Shape(format!(
                "reshaping {from:?} to {:?} changes the number of values",
                self.shape
            )));
        }
        Ok(self.shape.clone())
    }

    fn reference(&self, xs: &[&Tensor<f64>]) -> Tensor<f64> {
        xs[0].clone()
    }

    fn reference_vjp(&self, v: &RefVjp) -> Vec<Tensor<f64>> {
        vec![Tensor {
            shape: v.xs[0].shape.clone(),
            data: v.g.data.clone(),
        }]
    }

    fn record_forward(&self, _p: &mut Program, io: &ForwardIo) -> Result<TensorId> {
        Ok(io.xs[0])
    }

    fn record_vjp(&self, p: &mut Program, io: &VjpIo) -> Result<()> {
        let count = io.batch * io.out_shape.iter().product::<usize>();
        pass_through(p, io.xs[0], io.g, count, io.factor, io.coef, io.dests[0])
    }

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

    fn passes_gradient(&self) -> bool {
        true
    }
}
