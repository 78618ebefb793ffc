//! `LayerNormalization` (opset 17) → [`LayerNorm`] over the axes from `axis` to the last.

use super::{LayerNorm, NormKind};
use crate::error::{Error, Result};
use crate::model::Op;
use crate::onnx::import::attributes::{attr_f, attr_i};
use crate::onnx::import::{unsupported, Importer};
use crate::onnx::proto::NodeProto;
use crate::onnx::OnnxOp;

pub(crate) fn import_layer_norm<'m>(
    imp: &mut Importer<'m, '_>,
    n: &'m NodeProto,
    name: &str,
) -> Result<()> {
    imp.no_extra_output(n, name, "the mean and inverse standard deviation outputs")?;
    let x = imp.act_any(n, name, 0)?;
    let whole = imp.is_whole(x);
    let shape = imp.shape(x).to_vec();
    let rank = imp.onnx_shape(x).len() as i64;
    let axis = attr_i(n, name, "axis", -1)?;
    let a = if axis < 0 { axis + rank } else { axis };
    // The per-item axis: ONNX's, less the batch in front unless the tensor is whole.
    let first = if whole { 0 } else { 1 };
    if !(first..rank).contains(&a) {
        return Err(unsupported(
            n,
            name,
            format!("axis {axis} of a rank-{rank} input: glimpse normalises within each item"),
        ));
    }
    let axis = (a - first) as usize;
    let d: usize = shape[axis..].iter().product();
    let per_value = |t: crate::model::Tensor, what: &str| -> Result<Vec<f32>> {
        match t.data.len() {
            1 => Ok(vec![t.data[0]; d]),
            len if len == d => Ok(t.data),
            len => Err(Error::Shape(format!(
                "node '{name}' (LayerNormalization): {what} has {len} values for {d} normalised ones"
            ))),
        }
    };
    let scale = per_value(imp.const_f32(n, name, 1)?, "the scale")?;
    let bias = match imp.opt_const_f32(n, name, 2)? {
        Some(b) => per_value(b, "the bias")?,
        None => vec![0.0; d],
    };
    let eps = attr_f(n, name, "epsilon", 1e-5)?;
    let ln = LayerNorm {
        kind: NormKind::Standard,
        axis,
        scale,
        bias,
        eps,
    };
    imp.push_form(n, name, Op::LayerNorm(ln), vec![x], whole)?;
    Ok(())
}

/// The ONNX operators imported as [`LayerNorm`].
pub(crate) const ONNX: &[OnnxOp] = &[OnnxOp {
    op_type: "LayerNormalization",
    layer: "LayerNorm",
    notes:
        "over the axes from `axis` (within each item) to the last; LRP passes relevance through it",
    import: import_layer_norm,
}];
