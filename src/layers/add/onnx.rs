//! `Add` of two activations → [`Add`]; an `Add` of a constant is the bias of the MatMul before it.

use crate::error::{Error, Result};
use crate::layers::Add;
use crate::model::Op;
use crate::onnx::import::{unsupported, Importer, Val};
use crate::onnx::proto::NodeProto;
use crate::onnx::OnnxOp;

pub(crate) fn import_add<'m>(
    imp: &mut Importer<'m, '_>,
    n: &'m NodeProto,
    name: &str,
) -> Result<()> {
    if n.input.len() != 2 {
        return Err(Error::Onnx(format!(
            "node '{name}' (Add) needs two inputs, has {}",
            n.input.len()
        )));
    }
    match (imp.input(n, name, 0)?, imp.input(n, name, 1)?) {
        (Val::Node(a), Val::Node(b)) => {
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
            imp.push(n, name, Op::Add(Add), vec![a, b])
        }
        (Val::Node(x), Val::Const(c)) | (Val::Const(c), Val::Node(x)) => {
            crate::layers::dense::fold_bias(imp, n, name, x, &c)
        }
        (Val::Const(_), Val::Const(_)) => Err(unsupported(
            n,
            name,
            "both inputs are constants; constant folding is not supported".into(),
        )),
    }
}

/// The ONNX operators imported as [`Add`].
pub(crate) const ONNX: &[OnnxOp] = &[OnnxOp {
    op_type: "Add",
    layer: "Add",
    notes: "residual sum of activations (same shape); a constant added right after a MatMul becomes its bias",
    import: import_add,
}];
