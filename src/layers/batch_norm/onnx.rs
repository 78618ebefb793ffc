//! `BatchNormalization` (inference form) → [`BatchNorm`].

use crate::error::{Error, Result};
use crate::layers::BatchNorm;
use crate::model::Op;
use crate::onnx::import::attributes::{attr_f, attr_i};
use crate::onnx::import::{unsupported, Importer};
use crate::onnx::proto::NodeProto;
use crate::onnx::OnnxOp;

pub(crate) fn batch_norm<'m>(
    imp: &mut Importer<'m, '_>,
    n: &'m NodeProto,
    name: &str,
) -> Result<()> {
    if attr_i(n, name, "training_mode", 0)? != 0 {
        return Err(unsupported(
            n,
            name,
            "training_mode = 1 is not supported; export the model in eval mode".into(),
        ));
    }
    imp.no_extra_output(n, name, "the running-statistics output (training form)")?;
    let x = imp.act(n, name, 0)?;
    let mut p = Vec::with_capacity(4);
    for i in 1..=4 {
        let t = imp.const_f32(n, name, i)?;
        if t.shape.len() != 1 {
            return Err(Error::Shape(format!(
                "node '{name}' (BatchNormalization): input {i} must be 1-D, has shape {:?}",
                t.shape
            )));
        }
        p.push(t.data);
    }
    let eps = attr_f(n, name, "epsilon", 1e-5)?;
    let bn = BatchNorm::from_stats(&p[0], &p[1], &p[2], &p[3], eps)
        .map_err(|e| Error::Shape(format!("node '{name}' (BatchNormalization): {e}")))?;
    imp.push(n, name, Op::BatchNorm(bn), vec![x])
}

/// The ONNX operators imported as [`BatchNorm`].
pub(crate) const ONNX: &[OnnxOp] = &[OnnxOp {
    op_type: "BatchNormalization",
    layer: "folded into the conv/dense before it, else BatchNorm",
    notes: "inference form; the canonizer `fold_batch_norm`",
    import: batch_norm,
}];
