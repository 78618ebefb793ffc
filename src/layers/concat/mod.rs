//! Concat: activations joined along the channel axis; what flows back is split into the inputs'
//! channel slabs.

mod onnx;

pub(crate) use onnx::ONNX;

use super::{Factor, ForwardIo, Layer, LayerClass, LinearLayer, RefVjp, VjpIo};
use crate::error::{Error, Result};
use crate::model::Tensor;
use crate::plan::{binds, Launch, Out, Param, Program, TensorId, WeightMod};

crate::params! {
    /// One input of `item_in` values per item copied to `offset` of `item_out`.
    pub struct ConcatParams { pub count: u32, pub item_in: u32, pub item_out: u32, pub offset: u32 }
}

crate::params! {
    /// One input's slab (`item_part` values at `offset` of `item_cat`) taken back.
    pub struct SliceParams {
        pub count: u32, pub item_cat: u32, pub item_part: u32, pub offset: u32,
        pub accumulate: u32, pub pad0: u32, pub pad1: u32, pub pad2: u32,
    }
}

crate::kernel!(pub(crate) FORWARD: ConcatParams = "layers/concat/forward");
crate::kernel!(pub(crate) VJP: SliceParams = "layers/concat/vjp");

/// Concatenation along channels.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Concat;

impl Layer for Concat {
    fn kind(&self) -> &'static str {
        "Concat"
    }

    fn class(&self) -> LayerClass {
        LayerClass::Concat
    }

    fn output_shape(&self, inputs: &[&[usize]]) -> Result<Vec<usize>> {
        if inputs.is_empty()
            || inputs
                .iter()
                .any(|s| s.is_empty() || s[1..] != inputs[0][1..])
        {
            return Err(Error::Shape(format!(
                "Concat needs inputs that differ only in channels, got {inputs:?}"
            )));
        }
        let mut out = inputs[0].to_vec();
        out[0] = inputs.iter().map(|s| s[0]).sum();
        Ok(out)
    }

    fn reference(&self, xs: &[&Tensor<f64>]) -> Tensor<f64> {
        let n = xs[0].shape[0];
        let mut shape = xs[0].shape.clone();
        shape[1] = xs.iter().map(|x| x.shape[1]).sum();
        let mut data = Vec::with_capacity(shape.iter().product());
        for b in 0..n {
            for x in xs {
                let item = x.data.len() / n;
                data.extend_from_slice(&x.data[b * item..(b + 1) * item]);
            }
        }
        Tensor { shape, data }
    }

    fn reference_vjp(&self, v: &RefVjp) -> Vec<Tensor<f64>> {
        let n = v.g.shape[0];
        let item_cat = v.g.data.len() / n.max(1);
        let mut offset = 0;
        v.xs.iter()
            .map(|x| {
                let item = x.data.len() / n.max(1);
                let mut data = Vec::with_capacity(n * item);
                for b in 0..n {
                    let at = b * item_cat + offset;
                    data.extend_from_slice(&v.g.data[at..at + item]);
                }
                offset += item;
                Tensor {
                    shape: x.shape.clone(),
                    data,
                }
            })
            .collect()
    }

    fn record_forward(&self, p: &mut Program, io: &ForwardIo) -> Result<TensorId> {
        let item_out = io.out_shape.iter().product::<usize>();
        let y = p.tensor(io.name, io.batch * item_out)?;
        let mut offset = 0;
        for (&x, s) in io.xs.iter().zip(io.in_shapes) {
            let item_in = s.iter().product::<usize>();
            let params = ConcatParams {
                count: (io.batch * item_in) as u32,
                item_in: item_in as u32,
                item_out: item_out as u32,
                offset: offset as u32,
            };
            let launch = Launch::Flat {
                count: (io.batch * item_in) as u64,
                size: 256,
            };
            // Each input writes its own slab: together they overwrite the whole output.
            p.pass(
                &FORWARD,
                "main",
                &params,
                binds(&[x], &[], y),
                Out::Write(y),
                launch,
            )?;
            offset += item_in;
        }
        Ok(y)
    }

    fn record_vjp(&self, p: &mut Program, io: &VjpIo) -> Result<()> {
        if io.factor != Factor::One || io.coef != 1.0 {
            return Err(Error::Invalid(format!(
                "concatenation '{}' splits what flows back; it takes no factor",
                io.name
            )));
        }
        let item_cat = io.out_shape.iter().product::<usize>();
        let mut offset = 0;
        for (s, &dest) in io.in_shapes.iter().zip(io.dests) {
            let item = s.iter().product::<usize>();
            let params = SliceParams {
                count: (io.batch * item) as u32,
                item_cat: item_cat as u32,
                item_part: item as u32,
                offset: offset as u32,
                accumulate: dest.accumulate as u32,
                ..SliceParams::default()
            };
            let launch = Launch::Flat {
                count: (io.batch * item) as u64,
                size: 256,
            };
            p.pass(
                &VJP,
                "main",
                &params,
                binds(&[io.g], &[], dest.tensor),
                dest.out(),
                launch,
            )?;
            offset += item;
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
