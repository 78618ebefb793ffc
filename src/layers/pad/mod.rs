//! Pad: a constant border on any per-item axis (ONNX Pad in constant mode, when no convolution
//! reads it: zero padding before a Conv is folded into the convolution at import). The forward
//! pass fills the output with the value and copies the input inside it; what flows back is the
//! inside, so LRP never rules it (what reaches the border stays there).

mod onnx;

pub(crate) use onnx::import_pad;

use super::strided::{contiguous, fill, gather, reference_gather, scatter_over, StridedMap};
use super::{ForwardIo, Layer, LayerClass, LinearLayer, RefVjp, VjpIo};
use crate::error::{Error, Result};
use crate::model::Tensor;
use crate::plan::{Param, Program, TensorId, WeightMod};

/// A constant border of `before[k]` and `after[k]` values on each per-item axis `k`.
#[derive(Clone, Debug, PartialEq)]
pub struct Pad {
    /// Values added before each axis.
    pub before: Vec<usize>,
    /// Values added after each axis.
    pub after: Vec<usize>,
    /// The border's value.
    pub value: f32,
}

impl Pad {
    fn out(&self, input: &[usize]) -> Vec<usize> {
        input
            .iter()
            .zip(self.before.iter().zip(&self.after))
            .map(|(&d, (&b, &a))| d + b + a)
            .collect()
    }

    /// Where each input value lands in the output.
    fn map(&self, batch: usize, input: &[usize]) -> Result<StridedMap> {
        let out = self.out(input);
        let st = contiguous(&out);
        let offset: i64 = self
            .before
            .iter()
            .zip(&st)
            .map(|(&b, s)| b as i64 * s)
            .sum();
        StridedMap::new(batch, input, &st, offset as usize, out.iter().product())
    }
}

impl Layer for Pad {
    fn kind(&self) -> &'static str {
        "Pad"
    }

    fn class(&self) -> LayerClass {
        LayerClass::Select
    }

    fn output_shape(&self, inputs: &[&[usize]]) -> Result<Vec<usize>> {
        let input = super::one_input(inputs)?;
        if self.before.len() != input.len() || self.after.len() != input.len() {
            return Err(Error::Shape(format!(
                "Pad of {input:?} needs a border per axis, has {:?} and {:?}",
                self.before, self.after
            )));
        }
        Ok(self.out(input))
    }

    fn reference(&self, xs: &[&Tensor<f64>]) -> Tensor<f64> {
        let x = xs[0];
        let out = self.out(&x.shape[1..]);
        let map = self
            .map(x.shape[0], &x.shape[1..])
            .expect("checked when added");
        let numel = x.shape[0] * out.iter().product::<usize>();
        let mut y = Tensor {
            shape: std::iter::once(x.shape[0]).chain(out).collect(),
            data: vec![self.value as f64; numel],
        };
        for (i, &v) in x.data.iter().enumerate() {
            y.data[map.at(i)] = v;
        }
        y
    }

    fn reference_vjp(&self, v: &RefVjp) -> Vec<Tensor<f64>> {
        let x = v.xs[0];
        let map = self
            .map(x.shape[0], &x.shape[1..])
            .expect("checked when added");
        vec![reference_gather(v.g, &map, &x.shape[1..])]
    }

    fn record_forward(&self, p: &mut Program, io: &ForwardIo) -> Result<TensorId> {
        let count = io.batch * io.out_shape.iter().product::<usize>();
        let y = p.tensor(io.name, count)?;
        fill(p, y, count, self.value)?;
        scatter_over(p, io.xs[0], &self.map(io.batch, io.in_shapes[0])?, y)?;
        Ok(y)
    }

    fn record_vjp(&self, p: &mut Program, io: &VjpIo) -> Result<()> {
        super::reject_factor(io, "Pad")?;
        gather(p, io.g, &self.map(io.batch, io.in_shapes[0])?, io.dests[0])
    }

    fn linear(&self) -> Option<&dyn LinearLayer> {
        None
    }

    fn nonnegative(&self, inputs: &[bool]) -> bool {
        inputs.iter().all(|&b| b) && self.value >= 0.0
    }

    fn parameter(&self, _param: Param, _modifier: WeightMod) -> Option<Vec<f32>> {
        None
    }

    fn macs(&self, _out_shape: &[usize]) -> u64 {
        0
    }
}
