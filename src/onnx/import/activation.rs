//! `Clip` and `Softmax` (`Relu` is a one-line arm of the dispatch).

use super::attributes::{attr_f, attr_i};
use super::{unsupported, Importer};
use crate::error::{Error, Result};
use crate::model::Op;
use crate::onnx::proto::NodeProto;

impl<'m> Importer<'m, '_> {
    pub(super) fn clip(&mut self, n: &'m NodeProto, name: &str) -> Result<()> {
        let x = self.act(n, name, 0)?;
        let (min, max) = if self.opset < 11 {
            (
                attr_f(n, name, "min", f32::NEG_INFINITY)?,
                attr_f(n, name, "max", f32::INFINITY)?,
            )
        } else {
            let bound = |i: usize, default: f32| -> Result<f32> {
                match self.opt_const_f32(n, name, i)? {
                    None => Ok(default),
                    Some(t) if t.data.len() == 1 => Ok(t.data[0]),
                    Some(t) => Err(Error::Shape(format!(
                        "node '{name}' (Clip): bound {i} must be a scalar, has shape {:?}",
                        t.shape
                    ))),
                }
            };
            (bound(1, f32::NEG_INFINITY)?, bound(2, f32::INFINITY)?)
        };
        if min.is_nan() || max.is_nan() {
            return Err(Error::Onnx(format!("node '{name}' (Clip): a bound is NaN")));
        }
        self.push(n, name, Op::Clip { min, max }, vec![x])
    }

    pub(super) fn softmax(&mut self, n: &'m NodeProto, name: &str) -> Result<()> {
        let x = self.act(n, name, 0)?;
        let rank = self.shape(x).len() as i64 + 1;
        // Before opset 13 Softmax flattens from `axis` on (default 1); from 13 it is per axis (default -1).
        let legacy = self.opset < 13;
        let axis = attr_i(n, name, "axis", if legacy { 1 } else { -1 })?;
        let norm = if axis < 0 { axis + rank } else { axis };
        let over_features = if legacy {
            norm == 1
        } else {
            norm == 1 && rank == 2
        };
        if !over_features {
            return Err(unsupported(
                n,
                name,
                format!(
                    "only a softmax over all features of each item is supported ([N, F] with axis 1 or -1), got axis {axis} of a rank-{rank} input"
                ),
            ));
        }
        self.push(n, name, Op::Softmax, vec![x])
    }
}
