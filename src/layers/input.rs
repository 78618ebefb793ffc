//! The graph input: node 0, written by the host before a program runs.

use super::{ForwardIo, Layer, LayerClass, LinearLayer, RefVjp, VjpIo};
use crate::error::{Error, Result};
use crate::model::Tensor;
use crate::plan::{Param, Program, TensorId, WeightMod};

/// The graph's input.
#[derive(Clone, Copy, Debug, Default)]
pub struct Input;

impl Layer for Input {
    fn kind(&self) -> &'static str {
        "Input"
    }

    fn class(&self) -> LayerClass {
        LayerClass::Input
    }

    fn output_shape(&self, _inputs: &[&[usize]]) -> Result<Vec<usize>> {
        Err(Error::Graph("Input has no producer".into()))
    }

    fn reference(&self, xs: &[&Tensor<f64>]) -> Tensor<f64> {
        xs[0].clone()
    }

    fn reference_vjp(&self, _v: &RefVjp) -> Vec<Tensor<f64>> {
        Vec::new()
    }

    fn record_forward(&self, p: &mut Program, io: &ForwardIo) -> Result<TensorId> {
        let x = p.tensor(io.name, io.batch * io.out_shape.iter().product::<usize>())?;
        p.keep(x);
        Ok(x)
    }

    /// Nothing lies before the input.
    fn record_vjp(&self, _p: &mut Program, _io: &VjpIo) -> Result<()> {
        Ok(())
    }

    fn linear(&self) -> Option<&dyn LinearLayer> {
        None
    }

    fn nonnegative(&self, _inputs: &[bool]) -> bool {
        false
    }

    fn parameter(&self, _param: Param, _modifier: WeightMod) -> Option<Vec<f32>> {
        None
    }

    fn macs(&self, _out_shape: &[usize]) -> u64 {
        0
    }
}
