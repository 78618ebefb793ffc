//! Slice: a box of each item, with a start, length and (signed) step per axis (ONNX Slice, and
//! each output of Split). What flows back lands where each value came from, zeros elsewhere;
//! LRP never rules it.

mod onnx;

pub(crate) use onnx::{onnx_range, ONNX};

use super::strided::{
    contiguous, record_gather, reference_gather, reference_scatter, scatter, StridedMap,
};
use super::{ForwardIo, Layer, LayerClass, LinearLayer, RefVjp, VjpIo};
use crate::error::{Error, Result};
use crate::model::Tensor;
use crate::plan::{Param, Program, TensorId, WeightMod};

/// What one per-item axis keeps: `len` values from `start`, `step` apart.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AxisRange {
    /// The first index kept.
    pub start: usize,
    /// How many are kept.
    pub len: usize,
    /// The distance between kept indices (negative: backwards).
    pub step: i64,
}

/// A box of each item: one range per per-item axis.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Slice {
    /// One range per per-item axis.
    pub ranges: Vec<AxisRange>,
}

impl Slice {
    fn map(&self, batch: usize, input: &[usize]) -> Result<StridedMap> {
        let st = contiguous(input);
        let dims: Vec<usize> = self.ranges.iter().map(|r| r.len).collect();
        let strides: Vec<i64> = self
            .ranges
            .iter()
            .zip(&st)
            .map(|(r, s)| r.step * s)
            .collect();
        let offset: i64 = self
            .ranges
            .iter()
            .zip(&st)
            .map(|(r, s)| r.start as i64 * s)
            .sum();
        StridedMap::new(
            batch,
            &dims,
            &strides,
            offset as usize,
            input.iter().product(),
        )
    }

    fn reference_map(&self, x: &Tensor<f64>) -> StridedMap {
        self.map(x.shape[0], &x.shape[1..])
            .expect("checked when the node was added")
    }
}

impl Layer for Slice {
    fn kind(&self) -> &'static str {
        "Slice"
    }

    fn class(&self) -> LayerClass {
        LayerClass::Select
    }

    fn output_shape(&self, inputs: &[&[usize]]) -> Result<Vec<usize>> {
        let input = super::one_input(inputs)?;
        let inside = |r: &AxisRange, d: usize| {
            let last = r.start as i64 + (r.len as i64 - 1) * r.step;
            r.len > 0 && r.step != 0 && r.start < d && (0..d as i64).contains(&last)
        };
        if self.ranges.len() != input.len()
            || !self.ranges.iter().zip(input).all(|(r, &d)| inside(r, d))
        {
            return Err(Error::Shape(format!(
                "Slice: {:?} is not a non-empty box of {input:?}",
                self.ranges
            )));
        }
        Ok(self.ranges.iter().map(|r| r.len).collect())
    }

    fn reference(&self, xs: &[&Tensor<f64>]) -> Tensor<f64> {
        let x = xs[0];
        let out: Vec<usize> = self.ranges.iter().map(|r| r.len).collect();
        reference_gather(x, &self.reference_map(x), &out)
    }

    fn reference_vjp(&self, v: &RefVjp) -> Vec<Tensor<f64>> {
        vec![reference_scatter(
            v.g,
            v.xs[0],
            &self.reference_map(v.xs[0]),
        )]
    }

    fn record_forward(&self, p: &mut Program, io: &ForwardIo) -> Result<TensorId> {
        record_gather(p, io.name, io.xs[0], &self.map(io.batch, io.in_shapes[0])?)
    }

    fn record_vjp(&self, p: &mut Program, io: &VjpIo) -> Result<()> {
        super::reject_factor(io, "Slice")?;
        let map = self.map(io.batch, io.in_shapes[0])?;
        let values = io.batch * io.in_shapes[0].iter().product::<usize>();
        scatter(p, io.g, &map, io.dests[0], Some(values))
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
}
