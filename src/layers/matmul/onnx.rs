//! `MatMul` → [`MatMul`] when both operands are activations (attention), else a dense layer
//! (see `dense::onnx`).

use super::MatMul;
use crate::error::Result;
use crate::model::Op;
use crate::onnx::import::{unsupported, Importer, Val};
use crate::onnx::proto::NodeProto;
use crate::onnx::OnnxOp;

pub(crate) fn import_matmul<'m>(
    imp: &mut Importer<'m, '_>,
    n: &'m NodeProto,
    name: &str,
) -> Result<()> {
    let (Val::Node(a), Val::Node(b)) = (imp.input(n, name, 0)?, imp.input(n, name, 1)?) else {
        return crate::layers::dense::import_matmul_weight(imp, n, name);
    };
    // Matrices are the last two axes in either form; leading ones broadcast.
    let (ids, whole) = imp.same_form(n, name, &[a, b])?;
    let (sa, sb) = (imp.shape(ids[0]).to_vec(), imp.shape(ids[1]).to_vec());
    let inner = *sa.last().unwrap_or(&0);
    let op = MatMul { inner };
    if let Err(e) = crate::layers::Layer::output_shape(&op, &[&sa, &sb]) {
        return Err(unsupported(n, name, e.to_string()));
    }
    imp.push_form(n, name, Op::MatMul(op), ids, whole)?;
    Ok(())
}

/// The ONNX operators imported as [`MatMul`] (or a dense layer).
pub(crate) const ONNX: &[OnnxOp] = &[
    OnnxOp {
        op_type: "MatMul",
        layer: "MatMul, Dense, TokenDense",
        notes: "two activations: batched matrices, broadcasting (attention; LRP: the softmax's weights held constant, or the uniform rule); a constant right operand: a dense layer (on [N, .., rows, in] one per row), a following constant Add its bias",
        import: import_matmul,
    },
    OnnxOp {
        op_type: "Einsum",
        layer: "Transpose + MatMul",
        notes: "two activations, batched matrix products (shared letters, one row, one column and one summed letter: MaxViT's attention)",
        import: super::einsum::import_einsum,
    },
];
