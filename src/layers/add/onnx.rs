//! `Add` of two activations → [`Add`]; an `Add` (or `Sub`) of a constant is the bias of the
//! MatMul before it, or else an [`Add`] of a [`crate::layers::Constant`] (a position embedding).

use crate::error::{Error, Result};
use crate::layers::constant::onnx::constant_beside;
use crate::layers::Add;
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
    match (imp.input(n, name, 0)?, imp.input(n, name, 1)?) {
        (Val::Node(_), Val::Node(_)) if n.op_type == "Sub" => Err(unsupported(
            n,
            name,
            "a difference of two activations is not supported".into(),
        )),
        (Val::Node(a), Val::Node(b)) => {
            let (ids, whole) = imp.same_form(n, name, &[a, b])?;
            let (a, b) = (ids[0], ids[1]);
            if imp.shape(a) != imp.shape(b) {
                return Err(unsupported(
                    n,
                    name,
                    format!(
                        "its inputs have per-item shapes {:?} and {:?}; broadcasting is not supported",
                        imp.shape(a),
                        imp.shape(b)
                    ),
                ));
            }
            imp.push_form(n, name, Op::Add(Add), vec![a, b], whole)?;
            Ok(())
        }
        (Val::Node(x), Val::Const(c)) => add_constant(imp, n, name, x, &c, 1),
        (Val::Const(c), Val::Node(x)) if n.op_type != "Sub" => add_constant(imp, n, name, x, &c, 0),
        (Val::Const(_), Val::Node(_)) => Err(unsupported(
            n,
            name,
            "a constant minus an activation is not supported".into(),
        )),
        (Val::Const(_), Val::Const(_)) => Err(unsupported(
            n,
            name,
            "both inputs are constants; constant folding is not supported".into(),
        )),
    }
}

/// `x + c` (or `x − c`) with `c` input `ci`: the bias of the MatMul before, or a constant node.
fn add_constant<'m>(
    imp: &mut Importer<'m, '_>,
    n: &'m NodeProto,
    name: &str,
    x: NodeId,
    c: &TensorProto,
    ci: usize,
) -> Result<()> {
    let sub = n.op_type == "Sub";
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
        notes: "residual sum of activations (same shape); a constant added right after a MatMul becomes its bias, any other one (broadcasting) a Constant node",
        import: import_add,
    },
    OnnxOp {
        op_type: "Sub",
        layer: "Add",
        notes: "an activation minus a constant (broadcasting)",
        import: import_add,
    },
];
