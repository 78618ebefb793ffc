//! Concat: activations joined along one per-item axis; what flows back is split into the
//! inputs' parts. Each input is a strided copy into its part of the output (`layers/strided`).

mod onnx;

pub(crate) use onnx::ONNX;

use super::strided::{contiguous, gather, scatter, StridedMap};
use super::{Dest, ForwardIo, Layer, LayerClass, LinearLayer, RefVjp, VjpIo};
use crate::error::{Error, Result};
use crate::model::Tensor;
use crate::plan::{Param, Program, TensorId, WeightMod};

/// Concatenation along per-item axis `axis` (0: channels).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Concat {
    /// The per-item axis joined along.
    pub axis: usize,
}

impl Concat {
    /// Concatenation along channels.
    pub fn channels() -> Self {
        Concat { axis: 0 }
    }

    /// The map of each input's values into the output.
    fn maps(&self, batch: usize, inputs: &[&[usize]], out: &[usize]) -> Result<Vec<StridedMap>> {
        let st = contiguous(out);
        let item: usize = out.iter().product();
        let mut start = 0;
        inputs
            .iter()
            .map(|s| {
                let m = StridedMap::new(batch, s, &st, start * st[self.axis] as usize, item);
                start += s[self.axis];
                m
            })
            .collect()
    }
}

impl Layer for Concat {
    fn kind(&self) -> &'static str {
        "Concat"
    }

    fn class(&self) -> LayerClass {
        LayerClass::Concat
    }

    fn output_shape(&self, inputs: &[&[usize]]) -> Result<Vec<usize>> {
        let a = self.axis;
        let fits = |s: &[usize]| {
            s.len() == inputs[0].len()
                && a < s.len()
                && (0..s.len()).all(|k| k == a || s[k] == inputs[0][k])
        };
        if inputs.is_empty() || !inputs.iter().all(|s| fits(s)) {
            return Err(Error::Shape(format!(
                "Concat along per-item axis {a} needs inputs that differ only there, got {inputs:?}"
            )));
        }
        let mut out = inputs[0].to_vec();
        out[a] = inputs.iter().map(|s| s[a]).sum();
        StridedMap::new(1, &out, &contiguous(&out), 0, 0)?;
        Ok(out)
    }

    fn reference(&self, xs: &[&Tensor<f64>]) -> Tensor<f64> {
        let n = xs[0].shape[0];
        let shapes: Vec<&[usize]> = xs.iter().map(|x| &x.shape[1..]).collect();
        let out = self
            .output_shape(&shapes)
            .expect("checked when the node was added");
        let maps = self
            .maps(n, &shapes, &out)
            .expect("checked when the node was added");
        let mut y = Tensor::zeros(std::iter::once(n).chain(out).collect());
        for (x, m) in xs.iter().zip(&maps) {
            for (i, &v) in x.data.iter().enumerate() {
                y.data[m.at(i)] = v;
            }
        }
        y
    }

    fn reference_vjp(&self, v: &RefVjp) -> Vec<Tensor<f64>> {
        let n = v.g.shape[0];
        let shapes: Vec<&[usize]> = v.xs.iter().map(|x| &x.shape[1..]).collect();
        let maps = self
            .maps(n, &shapes, &v.g.shape[1..])
            .expect("checked when the node was added");
        v.xs.iter()
            .zip(&maps)
            .map(|(x, m)| Tensor {
                shape: x.shape.clone(),
                data: (0..m.count()).map(|i| v.g.data[m.at(i)]).collect(),
            })
            .collect()
    }

    fn record_forward(&self, p: &mut Program, io: &ForwardIo) -> Result<TensorId> {
        let y = p.tensor(io.name, io.batch * io.out_shape.iter().product::<usize>())?;
        // Each input writes its own part: together they overwrite the whole output.
        let dest = Dest {
            tensor: y,
            accumulate: false,
        };
        for (&x, m) in io
            .xs
            .iter()
            .zip(self.maps(io.batch, io.in_shapes, io.out_shape)?)
        {
            scatter(p, x, &m, dest, None)?;
        }
        Ok(y)
    }

    fn record_vjp(&self, p: &mut Program, io: &VjpIo) -> Result<()> {
        super::reject_factor(io, "Concat")?;
        let maps = self.maps(io.batch, io.in_shapes, io.out_shape)?;
        for (m, &dest) in maps.iter().zip(io.dests) {
            gather(p, io.g, m, dest)?;
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
}
