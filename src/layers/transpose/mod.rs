//! Transpose: the per-item axes permuted (ShuffleNet's channel shuffle, channels-last layouts).
//! What flows back is moved back to where each value came from; LRP never rules it.

mod onnx;

pub(crate) use onnx::{permute, ONNX};

use super::strided::{
    contiguous, record_gather, reference_gather, reference_scatter, scatter, StridedMap,
};
use super::{ForwardIo, Layer, LayerClass, LinearLayer, RefVjp, VjpIo};
use crate::error::{Error, Result};
use crate::model::Tensor;
use crate::plan::{Param, Program, TensorId, WeightMod};

/// Output axis `k` of each item is input axis `perm[k]` (the batch stays first).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transpose {
    /// A permutation of `0..rank` over the per-item axes.
    pub perm: Vec<usize>,
}

impl Transpose {
    /// The map from the output's values to the input's.
    fn map(&self, batch: usize, input: &[usize]) -> Result<StridedMap> {
        let st = contiguous(input);
        let dims: Vec<usize> = self.perm.iter().map(|&a| input[a]).collect();
        let strides: Vec<i64> = self.perm.iter().map(|&a| st[a]).collect();
        StridedMap::new(batch, &dims, &strides, 0, input.iter().product())
    }

    fn reference_map(&self, x: &Tensor<f64>) -> StridedMap {
        self.map(x.shape[0], &x.shape[1..])
            .expect("checked when the node was added")
    }
}

impl Layer for Transpose {
    fn kind(&self) -> &'static str {
        "Transpose"
    }

    fn class(&self) -> LayerClass {
        LayerClass::Select
    }

    fn output_shape(&self, inputs: &[&[usize]]) -> Result<Vec<usize>> {
        let input = super::one_input(inputs)?;
        let mut seen = vec![false; input.len()];
        let valid = self.perm.len() == input.len()
            && self
                .perm
                .iter()
                .all(|&a| a < input.len() && !std::mem::replace(&mut seen[a], true));
        if !valid {
            return Err(Error::Shape(format!(
                "Transpose: {:?} is not a permutation of the {} per-item axes of {input:?}",
                self.perm,
                input.len()
            )));
        }
        StridedMap::new(1, input, &contiguous(input), 0, 0)?;
        Ok(self.perm.iter().map(|&a| input[a]).collect())
    }

    fn reference(&self, xs: &[&Tensor<f64>]) -> Tensor<f64> {
        let x = xs[0];
        let out: Vec<usize> = self.perm.iter().map(|&a| x.shape[1 + a]).collect();
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
        super::reject_factor(io, "Transpose")?;
        let map = self.map(io.batch, io.in_shapes[0])?;
        scatter(p, io.g, &map, io.dests[0], None)
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
