//! `MaxPool` and `AveragePool` → [`Pool2d`] windows, `GlobalAveragePool` → [`GlobalAvgPool`],
//! `ReduceMean` and `ReduceSum` over any per-item axes (`reduce`).

use super::{GlobalAvgPool, Pool2d};
use crate::error::{Error, Result};
use crate::model::Op;
use crate::onnx::import::attributes::{attr_i, attr_ints, pads, pair, to_pair};
use crate::onnx::import::{unsupported, Importer};
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
    super::reduce::reduce(imp, n, name, true)
}

fn reduce_sum<'m>(imp: &mut Importer<'m, '_>, n: &'m NodeProto, name: &str) -> Result<()> {
    super::reduce::reduce(imp, n, name, false)
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
        notes: "over any axes within each item (axes moved last, flattened, pooled); keepdims 0 or 1, axes as attribute or input",
        import: reduce_mean,
    },
    OnnxOp {
        op_type: "ReduceSum",
        layer: "GlobalAvgPool + BatchNorm",
        notes: "as ReduceMean, then scaled by the count (LRP passes the scale)",
        import: reduce_sum,
    },
];
