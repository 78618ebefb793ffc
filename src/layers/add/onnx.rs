//! `Add` / `Sub` of two activations → [`Add`] (broadcast first, the subtrahend scaled by −1);
//! an `Add` (or `Sub`) of a constant is the bias of the MatMul before it, or else an [`Add`] of
//! a [`crate::layers::Constant`] (a position embedding).

use crate::error::{Error, Result};
use crate::layers::constant::onnx::{broadcast_activation, constant_beside};
use crate::layers::{Add, BatchNorm};
use crate::model::{NodeId, Op};
use crate::onnx::import::{unsupported, Importer, Val};
use crate::onnx::proto::{NodeProto, TensorProto};
use crate::onnx::OnnxOp;

pub(crate) fn import_add<'m>(
    imp: &mut Importer<'m, '_>,
    n: &'m NodeProto,
    name: &str,
) -> Result<()> {
    if n.input.len() != 2 {
        return Err(Error::Onnx(format!(
            "node '{name}' ({}) needs two inputs, has {}",
            n.op_type,
            n.input.len()
        )));
    }
    let sub = n.op_type == "Sub";
    match (imp.input(n, name, 0)?, imp.input(n, name, 1)?) {
        (Val::Node(a), Val::Node(b)) => {
            let (ids, whole) = imp.same_form(n, name, &[a, b])?;
            let out = crate::layers::mul::broadcast_shape(imp.shape(ids[0]), imp.shape(ids[1]))
                .map_err(|e| unsupported(n, name, e.to_string()))?;
            let a = broadcast_activation(imp, &format!("{name}:a"), ids[0], &out)?;
            let mut b = broadcast_activation(imp, &format!("{name}:b"), ids[1], &out)?;
            if sub {
                b = negated(imp, name, b)?;
            }
            imp.push_form(n, name, Op::Add(Add), vec![a, b], whole)?;
            Ok(())
        }
        (Val::Node(x), Val::Const(c)) => add_constant(imp, n, name, x, &c, 1, sub),
        (Val::Const(c), Val::Node(x)) => {
            // c − x = (−x) + c.
            let x = if sub { negated(imp, name, x)? } else { x };
            add_constant(imp, n, name, x, &c, 0, false)
        }
        (Val::Const(_), Val::Const(_)) => Err(unsupported(
            n,
            name,
            "both inputs are constants; constant folding is not supported".into(),
        )),
    }
}

/// `−x`, a scale by −1 (which LRP passes relevance through).
fn negated(imp: &mut Importer<'_, '_>, name: &str, x: NodeId) -> Result<NodeId> {
    let channels = imp.shape(x).first().copied().unwrap_or(1);
    let minus = BatchNorm {
        scale: vec![-1.0; channels],
        shift: vec![0.0; channels],
    };
    let id = imp.push_node(&format!("{name}:negated"), Op::BatchNorm(minus), vec![x])?;
    if imp.is_whole(x) {
        imp.whole_form.insert(id);
    }
    Ok(id)
}

/// `x + c` (or `x − c` when `sub`) with `c` input `ci`: the bias of the MatMul before, or a constant node.
fn add_constant<'m>(
    imp: &mut Importer<'m, '_>,
    n: &'m NodeProto,
    name: &str,
    x: NodeId,
    c: &TensorProto,
    ci: usize,
    sub: bool,
) -> Result<()> {
    if !sub && crate::layers::dense::fold_bias(imp, n, x, c)? {
        return Ok(());
    }
    let negate: fn(f32) -> f32 = if sub { |v| -v } else { |v| v };
    let k = constant_beside(imp, n, name, ci, x, true, negate)?;
    let whole = imp.is_whole(x);
    imp.push_form(n, name, Op::Add(Add), vec![x, k], whole)?;
    Ok(())
}

/// The ONNX operators imported as [`Add`].
pub(crate) const ONNX: &[OnnxOp] = &[
    OnnxOp {
        op_type: "Add",
        layer: "Add",
        notes: "sum of two activations (residuals; broadcasting as ONNX defines it, by a product with ones); a constant added right after a MatMul becomes its bias, any other one (broadcasting) a Constant node",
        import: import_add,
    },
    OnnxOp {
        op_type: "Sub",
        layer: "Add",
        notes: "of two activations (the second scaled by −1), of an activation and a constant either way (broadcasting)",
        import: import_add,
    },
];
