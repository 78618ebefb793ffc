//! `Concat` along any axis but the batch's → [`Concat`].

use crate::error::{Error, Result};
use crate::layers::Concat;
use crate::model::Op;
use crate::onnx::import::attributes::{attr, attr_i};
use crate::onnx::import::{unsupported, Importer};
use crate::onnx::proto::NodeProto;
use crate::onnx::OnnxOp;

pub(crate) fn concat<'m>(imp: &mut Importer<'m, '_>, n: &'m NodeProto, name: &str) -> Result<()> {
    let mut inputs = Vec::with_capacity(n.input.len());
    for i in 0..n.input.len() {
        inputs.push(imp.act(n, name, i)?);
    }
    let Some(&first) = inputs.first() else {
        return Err(Error::Onnx(format!("node '{name}' (Concat) has no inputs")));
    };
    let rank = imp.shape(first).len() as i64 + 1;
    if attr(n, "axis").is_none() {
        return Err(Error::Onnx(format!(
            "node '{name}' (Concat) has no axis attribute"
        )));
    }
    let axis = attr_i(n, name, "axis", 1)?;
    let norm = if axis < 0 { axis + rank } else { axis };
    if !(1..rank).contains(&norm) {
        return Err(unsupported(
            n,
            name,
            format!("axis {axis} of a rank-{rank} input: glimpse does not concatenate along the batch axis"),
        ));
    }
    let concat = Concat {
        axis: norm as usize - 1,
    };
    imp.push(n, name, Op::Concat(concat), inputs)
}

/// The ONNX operators imported as [`Concat`].
pub(crate) const ONNX: &[OnnxOp] = &[OnnxOp {
    op_type: "Concat",
    layer: "Concat",
    notes: "any axis but the batch's",
    import: concat,
}];
