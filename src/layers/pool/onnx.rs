//! `MaxPool` and `AveragePool` → [`Pool2d`] windows, `GlobalAveragePool` and `ReduceMean` over
//! the spatial axes → [`GlobalAvgPool`].

use super::{GlobalAvgPool, Pool2d};
use crate::error::{Error, Result};
use crate::layers::Transpose;
use crate::model::{NodeId, Op};
use crate::onnx::import::attributes::{attr_i, attr_ints, pads, pair, to_pair};
use crate::onnx::import::{unsupported, Importer, Val};
use crate::onnx::proto::NodeProto;
use crate::onnx::OnnxOp;

fn pool<'m>(imp: &mut Importer<'m, '_>, n: &'m NodeProto, name: &str, max: bool) -> Result<()> {
    let x = imp.act(n, name, 0)?;
    let input = imp.shape(x).to_vec();
    if input.len() != 3 {
        return Err(Error::Shape(format!(
            "node '{name}' ({}) needs a [N, C, H, W] input, got per-item shape {input:?}",
            n.op_type
        )));
    }
    if max {
        imp.no_extra_output(n, name, "the Indices output")?;
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
        Op::max_pool(p)
    } else {
        Op::avg_pool(p)
    };
    imp.push(n, name, op, vec![x])
}

fn reduce_mean<'m>(imp: &mut Importer<'m, '_>, n: &'m NodeProto, name: &str) -> Result<()> {
    let x = imp.act(n, name, 0)?;
    let input = imp.shape(x).to_vec();
    let axes = if imp.opset >= 18 {
        imp.opt_const_i64(n, name, 1)?
    } else {
        attr_ints(n, name, "axes")?
    };
    let keepdims = attr_i(n, name, "keepdims", 1)? != 0;
    let axes = axes.unwrap_or_default();
    if axes.is_empty() {
        if imp.opset >= 18 && attr_i(n, name, "noop_with_empty_axes", 0)? != 0 {
            return imp.set(n, Val::Node(x));
        }
        return Err(unsupported(
            n,
            name,
            "a mean over all axes (the batch included) is not supported; only axes [2, 3]".into(),
        ));
    }
    let rank = input.len() as i64 + 1;
    let mut norm: Vec<i64> = axes
        .iter()
        .map(|&a| if a < 0 { a + rank } else { a })
        .collect();
    norm.sort_unstable();
    norm.dedup();
    if rank == 4 && norm == [1, 2] {
        return channels_last_mean(imp, n, name, x, keepdims);
    }
    if rank != 4 || norm != [2, 3] {
        return Err(unsupported(
            n,
            name,
            format!(
                "only the spatial mean over axes [2, 3] of a [N, C, H, W] input (or [1, 2] of [N, H, W, C]) is supported, got axes {axes:?} of a rank-{rank} input"
            ),
        ));
    }
    if keepdims {
        return imp.push(n, name, Op::GlobalAvgPool(GlobalAvgPool), vec![x]);
    }
    let g = imp.push_node(name, Op::GlobalAvgPool(GlobalAvgPool), vec![x])?;
    let r = imp.push_reshape(&format!("{name}_squeeze"), g, vec![input[0]])?;
    imp.set(n, Val::Node(r))
}

/// The spatial mean of a channels-last `[H, W, C]` item (TensorFlow's squeeze-excitation):
/// channels first, a global average pool, and back to `[1, 1, C]` (or `[C]`).
fn channels_last_mean<'m>(
    imp: &mut Importer<'m, '_>,
    n: &'m NodeProto,
    name: &str,
    x: NodeId,
    keepdims: bool,
) -> Result<()> {
    let c = imp.shape(x)[2];
    let first = Op::Transpose(Transpose {
        perm: vec![2, 0, 1],
    });
    let t = imp.push_node(&format!("{name}:channels_first"), first, vec![x])?;
    let g = imp.push_node(name, Op::GlobalAvgPool(GlobalAvgPool), vec![t])?;
    let shape = if keepdims { vec![1, 1, c] } else { vec![c] };
    let r = imp.push_reshape(&format!("{name}:channels_last"), g, shape)?;
    imp.set(n, Val::Node(r))
}

fn max_pool<'m>(imp: &mut Importer<'m, '_>, n: &'m NodeProto, name: &str) -> Result<()> {
    pool(imp, n, name, true)
}

fn average_pool<'m>(imp: &mut Importer<'m, '_>, n: &'m NodeProto, name: &str) -> Result<()> {
    pool(imp, n, name, false)
}

fn global_average_pool<'m>(imp: &mut Importer<'m, '_>, n: &'m NodeProto, name: &str) -> Result<()> {
    let x = imp.act(n, name, 0)?;
    imp.push(n, name, Op::GlobalAvgPool(GlobalAvgPool), vec![x])
}

/// The ONNX operators imported as pooling layers.
pub(crate) const ONNX: &[OnnxOp] = &[
    OnnxOp {
        op_type: "MaxPool",
        layer: "MaxPool2d",
        notes: "overlapping windows, pads, ceil_mode",
        import: max_pool,
    },
    OnnxOp {
        op_type: "AveragePool",
        layer: "AvgPool2d",
        notes: "count_include_pad, pads, ceil_mode",
        import: average_pool,
    },
    OnnxOp {
        op_type: "GlobalAveragePool",
        layer: "GlobalAvgPool",
        notes: "",
        import: global_average_pool,
    },
    OnnxOp {
        op_type: "ReduceMean",
        layer: "GlobalAvgPool",
        notes: "over H, W (channels first or last); keepdims 0 or 1, axes as attribute or input",
        import: reduce_mean,
    },
];
