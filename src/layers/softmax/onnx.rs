//! `Softmax` over the features → [`Softmax`].

use super::Softmax;
use crate::error::Result;
use crate::model::Op;
use crate::onnx::import::attributes::attr_i;
use crate::onnx::import::{unsupported, Importer};
use crate::onnx::proto::NodeProto;
use crate::onnx::OnnxOp;

pub(crate) fn softmax<'m>(imp: &mut Importer<'m, '_>, n: &'m NodeProto, name: &str) -> Result<()> {
    let x = imp.act(n, name, 0)?;
    let rank = imp.shape(x).len() as i64 + 1;
    // Before opset 13 Softmax flattens from `axis` on (default 1); from 13 it is per axis (default -1).
    let legacy = imp.opset < 13;
    let axis = attr_i(n, name, "axis", if legacy { 1 } else { -1 })?;
    let norm = if axis < 0 { axis + rank } else { axis };
    let over_features = if legacy {
        norm == 1
    } else {
        norm == 1 && rank == 2
    };
    if !over_features {
        return Err(unsupported(
            n,
            name,
            format!(
                "only a softmax over all features of each item is supported ([N, F] with axis 1 or -1), got axis {axis} of a rank-{rank} input"
            ),
        ));
    }
    imp.push(n, name, Op::Softmax(Softmax), vec![x])
}

/// The ONNX operators imported as [`Softmax`].
pub(crate) const ONNX: &[OnnxOp] = &[OnnxOp {
    op_type: "Softmax",
    layer: "Softmax",
    notes: "last layer only; explanations start from the logits",
    import: softmax,
}];
