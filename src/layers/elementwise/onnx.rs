//! The ONNX operators of the element-wise functions (the fused patterns are in
//! `src/onnx/import/fuse.rs`).

use super::{Elementwise, Func};
use crate::error::{Error, Result};
use crate::model::Op;
use crate::onnx::import::attributes::{attr_f, attr_s};
use crate::onnx::import::{unsupported, Importer};
use crate::onnx::proto::NodeProto;
use crate::onnx::OnnxOp;

pub(crate) fn clip<'m>(imp: &mut Importer<'m, '_>, n: &'m NodeProto, name: &str) -> Result<()> {
    let x = imp.act_any(n, name, 0)?;
    let whole = imp.is_whole(x);
    let (min, max) = if imp.opset < 11 {
        (
            attr_f(n, name, "min", f32::NEG_INFINITY)?,
            attr_f(n, name, "max", f32::INFINITY)?,
        )
    } else {
        let bound = |i: usize, default: f32| -> Result<f32> {
            match imp.opt_const_f32(n, name, i)? {
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
    imp.push_form(n, name, Op::clip(min, max), vec![x], whole)?;
    Ok(())
}

/// A function without parameters or attributes.
fn plain<'m>(imp: &mut Importer<'m, '_>, n: &'m NodeProto, name: &str, func: Func) -> Result<()> {
    let x = imp.act_any(n, name, 0)?;
    let whole = imp.is_whole(x);
    imp.push_form(
        n,
        name,
        Op::Elementwise(Elementwise::new(func)),
        vec![x],
        whole,
    )?;
    Ok(())
}

fn relu<'m>(imp: &mut Importer<'m, '_>, n: &'m NodeProto, name: &str) -> Result<()> {
    plain(imp, n, name, Func::Relu)
}

fn sigmoid<'m>(imp: &mut Importer<'m, '_>, n: &'m NodeProto, name: &str) -> Result<()> {
    plain(imp, n, name, Func::Sigmoid)
}

fn tanh<'m>(imp: &mut Importer<'m, '_>, n: &'m NodeProto, name: &str) -> Result<()> {
    plain(imp, n, name, Func::Tanh)
}

fn reciprocal<'m>(imp: &mut Importer<'m, '_>, n: &'m NodeProto, name: &str) -> Result<()> {
    plain(imp, n, name, Func::Reciprocal)
}

fn hard_sigmoid<'m>(imp: &mut Importer<'m, '_>, n: &'m NodeProto, name: &str) -> Result<()> {
    let x = imp.act_any(n, name, 0)?;
    let whole = imp.is_whole(x);
    let alpha = attr_f(n, name, "alpha", 0.2)?;
    let beta = attr_f(n, name, "beta", 0.5)?;
    let op = Op::Elementwise(Elementwise::hard_sigmoid(alpha, beta));
    imp.push_form(n, name, op, vec![x], whole)?;
    Ok(())
}

fn hard_swish<'m>(imp: &mut Importer<'m, '_>, n: &'m NodeProto, name: &str) -> Result<()> {
    let x = imp.act_any(n, name, 0)?;
    let whole = imp.is_whole(x);
    let op = Op::Elementwise(Elementwise::hard_swish(1.0 / 6.0, 0.5));
    imp.push_form(n, name, op, vec![x], whole)?;
    Ok(())
}

fn gelu<'m>(imp: &mut Importer<'m, '_>, n: &'m NodeProto, name: &str) -> Result<()> {
    let x = imp.act_any(n, name, 0)?;
    let whole = imp.is_whole(x);
    let func = match attr_s(n, name, "approximate")?.as_deref() {
        None | Some("none") => Func::Gelu,
        Some("tanh") => Func::GeluTanh,
        Some(other) => {
            return Err(unsupported(
                n,
                name,
                format!("approximate = '{other}': only 'none' and 'tanh' exist"),
            ))
        }
    };
    imp.push_form(
        n,
        name,
        Op::Elementwise(Elementwise::new(func)),
        vec![x],
        whole,
    )?;
    Ok(())
}

/// The ONNX operators imported as element-wise functions.
pub(crate) const ONNX: &[OnnxOp] = &[
    OnnxOp {
        op_type: "Relu",
        layer: "Relu",
        notes: "",
        import: relu,
    },
    OnnxOp {
        op_type: "Clip",
        layer: "Clip",
        notes: "ReLU6 and any bounds, as inputs (opset ≥ 11)",
        import: clip,
    },
    OnnxOp {
        op_type: "Sigmoid",
        layer: "Sigmoid",
        notes: "",
        import: sigmoid,
    },
    OnnxOp {
        op_type: "Tanh",
        layer: "Tanh",
        notes: "",
        import: tanh,
    },
    OnnxOp {
        op_type: "Reciprocal",
        layer: "Reciprocal",
        notes: "of an activation",
        import: reciprocal,
    },
    OnnxOp {
        op_type: "HardSigmoid",
        layer: "HardSigmoid",
        notes: "alpha, beta",
        import: hard_sigmoid,
    },
    OnnxOp {
        op_type: "HardSwish",
        layer: "HardSwish",
        notes: "",
        import: hard_swish,
    },
    OnnxOp {
        op_type: "Gelu",
        layer: "Gelu, GeluTanh",
        notes: "opset 20; `approximate` none or tanh",
        import: gelu,
    },
];
