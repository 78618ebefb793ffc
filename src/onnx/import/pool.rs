//! `MaxPool` and `AveragePool` → [`Pool2d`], and `ReduceMean` over the spatial axes →
//! global average pooling (`GlobalAveragePool` is a one-line arm of the dispatch).

use super::attributes::{attr_i, attr_ints, pads, pair, to_pair};
use super::{unsupported, Importer, Val};
use crate::error::{Error, Result};
use crate::layers::Pool2d;
use crate::model::Op;
use crate::onnx::proto::NodeProto;

impl<'m> Importer<'m, '_> {
    pub(super) fn pool(&mut self, n: &'m NodeProto, name: &str, max: bool) -> Result<()> {
        let x = self.act(n, name, 0)?;
        let input = self.shape(x).to_vec();
        if input.len() != 3 {
            return Err(Error::Shape(format!(
                "node '{name}' ({}) needs a [N, C, H, W] input, got per-item shape {input:?}",
                n.op_type
            )));
        }
        if max {
            self.no_extra_output(n, name, "the Indices output")?;
        }
        let kernel = match attr_ints(n, name, "kernel_shape")? {
            Some(k) => to_pair(name, "kernel_shape", &k)?,
            None => {
                return Err(Error::Onnx(format!(
                    "node '{name}' ({}) has no kernel_shape",
                    n.op_type
                )))
            }
        };
        let stride = pair(n, name, "strides", [1, 1])?;
        if let Some(d) = attr_ints(n, name, "dilations")? {
            if d.iter().any(|&v| v != 1) {
                return Err(unsupported(
                    n,
                    name,
                    format!("dilations {d:?} are not supported (only 1)"),
                ));
            }
        }
        let ceil_mode = attr_i(n, name, "ceil_mode", 0)? != 0;
        let count_include_pad = !max && attr_i(n, name, "count_include_pad", 0)? != 0;
        let pads = pads(n, name, [input[1], input[2]], kernel, stride, [1, 1])?;
        let p = Pool2d {
            kernel,
            stride,
            pads,
            count_include_pad,
            ceil_mode,
        };
        let op = if max {
            Op::MaxPool2d(p)
        } else {
            Op::AvgPool2d(p)
        };
        self.push(n, name, op, vec![x])
    }

    pub(super) fn reduce_mean(&mut self, n: &'m NodeProto, name: &str) -> Result<()> {
        let x = self.act(n, name, 0)?;
        let input = self.shape(x).to_vec();
        let axes = if self.opset >= 18 {
            self.opt_const_i64(n, name, 1)?
        } else {
            attr_ints(n, name, "axes")?
        };
        let keepdims = attr_i(n, name, "keepdims", 1)? != 0;
        let axes = axes.unwrap_or_default();
        if axes.is_empty() {
            if self.opset >= 18 && attr_i(n, name, "noop_with_empty_axes", 0)? != 0 {
                return self.set(n, Val::Node(x));
            }
            return Err(unsupported(
                n,
                name,
                "a mean over all axes (the batch included) is not supported; only axes [2, 3]"
                    .into(),
            ));
        }
        let rank = input.len() as i64 + 1;
        let mut norm: Vec<i64> = axes
            .iter()
            .map(|&a| if a < 0 { a + rank } else { a })
            .collect();
        norm.sort_unstable();
        norm.dedup();
        if rank != 4 || norm != [2, 3] {
            return Err(unsupported(
                n,
                name,
                format!(
                    "only the spatial mean over axes [2, 3] of a [N, C, H, W] input is supported, got axes {axes:?} of a rank-{rank} input"
                ),
            ));
        }
        if keepdims {
            return self.push(n, name, Op::GlobalAvgPool, vec![x]);
        }
        let g = self.push_node(name, Op::GlobalAvgPool, vec![x])?;
        let r = self.push_reshape(&format!("{name}_squeeze"), g, vec![input[0]])?;
        self.set(n, Val::Node(r))
    }
}
