//! `Mul` of two activations → [`Mul`]; `Mul` or `Div` by a scalar or per-channel constant (a
//! layer scale) → a per-channel [`BatchNorm`] with no shift, which LRP passes relevance through
//! in proportion; by any other constant (broadcasting) → a [`Mul`] by a
//! [`crate::layers::Constant`] node; `Div` by an activation → a [`Mul`] by its reciprocal;
//! `Expand` of an activation → a [`Mul`] by ones.

use super::{broadcast_shape, Mul};
use crate::error::{Error, Result};
use crate::layers::constant::onnx::{broadcast_activation, constant_beside};
use crate::layers::BatchNorm;
use crate::model::{NodeId, Op};
use crate::onnx::import::{unsupported, Importer, Val};
use crate::onnx::proto::NodeProto;
use crate::onnx::OnnxOp;

fn two_inputs(n: &NodeProto, name: &str) -> Result<()> {
    if n.input.len() != 2 {
        return Err(Error::Onnx(format!(
            "node '{name}' ({}) needs two inputs, has {}",
            n.op_type,
            n.input.len()
        )));
    }
    Ok(())
}

pub(crate) fn import_mul<'m>(
    imp: &mut Importer<'m, '_>,
    n: &'m NodeProto,
    name: &str,
) -> Result<()> {
    two_inputs(n, name)?;
    match (imp.input(n, name, 0)?, imp.input(n, name, 1)?) {
        (Val::Node(a), Val::Node(b)) => {
            let (ids, whole) = imp.same_form(n, name, &[a, b])?;
            if let Err(e) = broadcast_shape(imp.shape(ids[0]), imp.shape(ids[1])) {
                return Err(unsupported(n, name, e.to_string()));
            }
            imp.push_form(n, name, Op::Mul(Mul), ids, whole)?;
            Ok(())
        }
        (Val::Node(x), Val::Const(_)) => scale_by_constant(imp, n, name, x, 1, false),
        (Val::Const(_), Val::Node(x)) => scale_by_constant(imp, n, name, x, 0, false),
        (Val::Const(_), Val::Const(_)) => Err(unsupported(
            n,
            name,
            "both inputs are constants; constant folding is not supported".into(),
        )),
    }
}

pub(crate) fn import_div<'m>(
    imp: &mut Importer<'m, '_>,
    n: &'m NodeProto,
    name: &str,
) -> Result<()> {
    two_inputs(n, name)?;
    match (imp.input(n, name, 0)?, imp.input(n, name, 1)?) {
        (Val::Node(x), Val::Const(_)) => scale_by_constant(imp, n, name, x, 1, true),
        // a / b = a · (1 / b): the reciprocal is the gate LRP holds constant (a normaliser).
        (Val::Node(a), Val::Node(b)) => {
            let (ids, whole) = imp.same_form(n, name, &[a, b])?;
            if let Err(e) = broadcast_shape(imp.shape(ids[0]), imp.shape(ids[1])) {
                return Err(unsupported(n, name, e.to_string()));
            }
            let r = reciprocal(imp, name, ids[1])?;
            imp.push_form(n, name, Op::Mul(Mul), vec![ids[0], r], whole)?;
            Ok(())
        }
        (Val::Const(_), Val::Node(x)) => {
            let r = reciprocal(imp, name, x)?;
            scale_by_constant(imp, n, name, r, 0, false)
        }
        (Val::Const(_), Val::Const(_)) => Err(unsupported(
            n,
            name,
            "both inputs are constants; constant folding is not supported".into(),
        )),
    }
}

/// `1 / x` as a node in `x`'s form.
fn reciprocal(imp: &mut Importer<'_, '_>, name: &str, x: NodeId) -> Result<NodeId> {
    let op = Op::Elementwise(crate::layers::Elementwise::new(
        crate::layers::Func::Reciprocal,
    ));
    let id = imp.push_node(&format!("{name}:reciprocal"), op, vec![x])?;
    if imp.is_whole(x) {
        imp.whole_form.insert(id);
    }
    Ok(id)
}

/// `x · c` (or `x / c`) with the constant input `ci` a scalar or one value per channel.
fn scale_by_constant<'m>(
    imp: &mut Importer<'m, '_>,
    n: &'m NodeProto,
    name: &str,
    x: NodeId,
    ci: usize,
    divide: bool,
) -> Result<()> {
    let c = imp.const_f32(n, name, ci)?;
    let shape = imp.shape(x).to_vec();
    if imp.is_whole(x) && c.data.len() != 1 {
        return times_constant(imp, n, name, x, ci, divide);
    }
    let channels = shape.first().copied().unwrap_or(1);
    // The constant's shape right-aligned against [N, ..shape]: all ones but the channel axis.
    let rank = shape.len() + 1;
    let per_channel = c.shape.len() <= rank && {
        let mut padded = vec![1; rank - c.shape.len()];
        padded.extend(&c.shape);
        padded[0] == 1 && padded[1] == channels && padded[2..].iter().all(|&d| d == 1)
    };
    let scale: Vec<f32> = match c.data.len() {
        1 => vec![c.data[0]; channels],
        _ if per_channel => c.data.clone(),
        _ => return times_constant(imp, n, name, x, ci, divide),
    };
    if divide && scale.contains(&0.0) {
        return Err(unsupported(
            n,
            name,
            "the constant divisor has a zero".into(),
        ));
    }
    let scale = if divide {
        scale.iter().map(|&v| 1.0 / v).collect()
    } else {
        scale
    };
    let bn = BatchNorm {
        shift: vec![0.0; channels],
        scale,
    };
    let whole = imp.is_whole(x);
    imp.push_form(n, name, Op::BatchNorm(bn), vec![x], whole)?;
    Ok(())
}

/// `x · c` (or `x / c`) by a constant node that the product broadcasts.
fn times_constant<'m>(
    imp: &mut Importer<'m, '_>,
    n: &'m NodeProto,
    name: &str,
    x: NodeId,
    ci: usize,
    divide: bool,
) -> Result<()> {
    let map: fn(f32) -> f32 = if divide { |v| 1.0 / v } else { |v| v };
    let k = constant_beside(imp, n, name, ci, x, false, map)?;
    let whole = imp.is_whole(x);
    let inputs = if ci == 0 { vec![k, x] } else { vec![x, k] };
    if let Err(e) = broadcast_shape(imp.shape(inputs[0]), imp.shape(inputs[1])) {
        return Err(unsupported(n, name, e.to_string()));
    }
    imp.push_form(n, name, Op::Mul(Mul), inputs, whole)?;
    Ok(())
}

/// `Expand` of an activation: ONNX's two-way broadcast against the shape input, by a product
/// with ones ([`broadcast_activation`]); never over the batch.
pub(crate) fn import_expand<'m>(
    imp: &mut Importer<'m, '_>,
    n: &'m NodeProto,
    name: &str,
) -> Result<()> {
    let x = imp.act_any(n, name, 0)?;
    let shape = imp
        .opt_const_i64(n, name, 1)?
        .ok_or_else(|| unsupported(n, name, "the shape input is missing".into()))?;
    let from = imp.onnx_shape(x);
    if shape.len() > from.len() {
        return Err(unsupported(
            n,
            name,
            format!(
                "expanding rank {} to {}: the batch would move",
                from.len(),
                shape.len()
            ),
        ));
    }
    let pad = from.len() - shape.len();
    let mut out = from.clone();
    for (k, &s) in shape.iter().enumerate() {
        let (have, s) = (from[pad + k], s.max(1) as usize);
        out[pad + k] = match (have, s) {
            (h, 1) => h,
            (1, s) => s,
            (h, s) if h == s => h,
            (h, s) => {
                return Err(unsupported(
                    n,
                    name,
                    format!("size {h} does not broadcast to {s} (axis {})", pad + k),
                ))
            }
        };
    }
    let whole = imp.is_whole(x);
    if !whole && out[0] != 1 {
        return Err(unsupported(
            n,
            name,
            "it expands over the batch; glimpse runs a graph per item".into(),
        ));
    }
    let per_item = if whole { out } else { out[1..].to_vec() };
    let id = broadcast_activation(imp, name, x, &per_item)?;
    imp.set(n, Val::Node(id))
}

/// The ONNX operators imported as [`Mul`] (and the scalings imported as [`BatchNorm`]).
pub(crate) const ONNX: &[OnnxOp] = &[
    OnnxOp {
        op_type: "Mul",
        layer: "Mul, or BatchNorm",
        notes: "two activations, broadcasting (squeeze-excitation gates; LRP: the gate held constant, or the uniform rule); an activation by a scalar or per-channel constant: a scale",
        import: import_mul,
    },
    OnnxOp {
        op_type: "Expand",
        layer: "Mul by ones",
        notes: "of an activation, broadcasting as ONNX defines it within each item (LRP: every copy's relevance back to its value)",
        import: import_expand,
    },
    OnnxOp {
        op_type: "Div",
        layer: "BatchNorm, or Reciprocal + Mul",
        notes: "an activation by a scalar or per-channel constant: a scale; by an activation (broadcasting) or a constant by an activation: times the reciprocal (LRP: the divisor held constant)",
        import: import_div,
    },
];
