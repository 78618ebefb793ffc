//! Constant: a tensor that is the same for every item — a class token, a position embedding,
//! the constant operand of an element-wise op (`x + c`, `x · c`) that no other layer absorbs.
//!
//! The graph is a DAG rooted at its input, so a constant hangs from one node (the graph input)
//! that it ignores: its gradient is zero. What reaches it in LRP stays there, absorbed as a
//! bias absorbs it; conservation reports show it at this node.

pub(crate) mod onnx;

use super::{ForwardIo, Layer, LayerClass, LinearLayer, RefVjp, VjpIo};
use crate::error::{Error, Result};
use crate::model::Tensor;
use crate::plan::{Launch, Out, Param, Program, Resource, TensorId, WeightKey, WeightMod};

crate::params! {
    /// Values written and values per item.
    pub struct ConstantParams { pub count: u32, pub item: u32, pub pad0: u32, pub pad1: u32 }
}

crate::kernel!(pub(crate) KERNEL: ConstantParams = "layers/constant/constant");

/// A constant per-item tensor.
#[derive(Clone, Debug)]
pub struct Constant {
    /// The per-item values, `[..shape]` row-major.
    pub value: Tensor,
}

impl Constant {
    /// A constant of per-item shape `shape`.
    pub fn new(shape: Vec<usize>, data: Vec<f32>) -> Result<Self> {
        if shape.is_empty() || data.is_empty() {
            return Err(Error::Shape(
                "a constant needs a per-item shape of at least one axis and one value".into(),
            ));
        }
        if let Some(bad) = data.iter().find(|v| !v.is_finite()) {
            return Err(Error::Invalid(format!("a constant holds {bad}")));
        }
        Ok(Constant {
            value: Tensor::new(shape, data)?,
        })
    }

    fn fill(
        p: &mut Program,
        entry: &'static str,
        data: Option<Resource>,
        count: usize,
        item: usize,
        out: Out,
    ) -> Result<()> {
        let t = match out {
            Out::Write(t) | Out::Update(t) => t,
        };
        let params = ConstantParams {
            count: count as u32,
            item: item.max(1) as u32,
            ..ConstantParams::default()
        };
        let launch = Launch::Flat {
            count: count as u64,
            size: 256,
        };
        // The zero entry reads no data: its layout has no binding 1.
        let mut bindings = vec![(2, Resource::Tensor(t))];
        if let Some(d) = data {
            bindings.insert(0, (1, d));
        }
        p.pass(&KERNEL, entry, &params, bindings, out, launch)
    }
}

impl Layer for Constant {
    fn kind(&self) -> &'static str {
        "Constant"
    }

    fn class(&self) -> LayerClass {
        LayerClass::Constant
    }

    fn output_shape(&self, _inputs: &[&[usize]]) -> Result<Vec<usize>> {
        Ok(self.value.shape.clone())
    }

    fn reference(&self, xs: &[&Tensor<f64>]) -> Tensor<f64> {
        let n = xs[0].shape[0];
        let item: Vec<f64> = self.value.data.iter().map(|&v| v as f64).collect();
        Tensor {
            shape: std::iter::once(n)
                .chain(self.value.shape.iter().cloned())
                .collect(),
            data: item.iter().cycle().take(n * item.len()).cloned().collect(),
        }
    }

    fn reference_vjp(&self, v: &RefVjp) -> Vec<Tensor<f64>> {
        v.xs.iter()
            .map(|x| Tensor::zeros(x.shape.clone()))
            .collect()
    }

    fn record_forward(&self, p: &mut Program, io: &ForwardIo) -> Result<TensorId> {
        let item = self.value.data.len();
        let count = io.batch * item;
        let y = p.tensor(io.name, count)?;
        let key = WeightKey {
            node: io.node,
            param: Param::Weight,
            modifier: WeightMod::Plain,
        };
        let data = p.weight(key, &format!("{}.value", io.name), item)?;
        Constant::fill(
            p,
            "forward",
            Some(Resource::Const(data)),
            count,
            item,
            Out::Write(y),
        )?;
        Ok(y)
    }

    /// Nothing reaches the input: zeros when this is the first pass writing its gradient.
    fn record_vjp(&self, p: &mut Program, io: &VjpIo) -> Result<()> {
        for (dest, shape) in io.dests.iter().zip(io.in_shapes) {
            if !dest.accumulate {
                let count = io.batch * shape.iter().product::<usize>();
                Constant::fill(p, "zero", None, count, 1, dest.out())?;
            }
        }
        Ok(())
    }

    fn linear(&self) -> Option<&dyn LinearLayer> {
        None
    }

    fn nonnegative(&self, _inputs: &[bool]) -> bool {
        self.value.data.iter().all(|&v| v >= 0.0)
    }

    fn parameter(&self, param: Param, modifier: WeightMod) -> Option<Vec<f32>> {
        (param == Param::Weight && modifier == WeightMod::Plain).then(|| self.value.data.clone())
    }

    fn macs(&self, _out_shape: &[usize]) -> u64 {
        0
    }
}
