//! `Softmax` along any axis but the batch's → [`Softmax`] (before opset 13, the legacy form
//! over the flattened axes from `axis` on: one axis, or all features of an `[N, F]` input).

use super::Softmax;
use crate::error::Result;
use crate::model::Op;
use crate::onnx::import::attributes::attr_i;
use crate::onnx::import::{unsupported, Importer};
use crate::onnx::proto::NodeProto;
use crate::onnx::OnnxOp;

pub(crate) fn softmax<'m>(imp: &mut Importer<'m, '_>, n: &'m NodeProto, name: &str) -> Result<()> {
    let x = imp.act_any(n, name, 0)?;
    let whole = imp.is_whole(x);
    let onnx_rank = imp.onnx_shape(x).len() as i64;
    // Before opset 13 Softmax flattens from `axis` on (default 1); from 13 it is per axis (default -1).
    let legacy = imp.opset < 13;
    let axis = attr_i(n, name, "axis", if legacy { 1 } else { -1 })?;
    let norm = if axis < 0 { axis + onnx_rank } else { axis };
    // The per-item axis: ONNX's, less the batch in front unless the tensor is whole.
    let item = if whole { norm } else { norm - 1 };
    if !(0..onnx_rank).contains(&norm) || item < 0 {
        return Err(unsupported(
            n,
            name,
            format!("axis {axis} of a rank-{onnx_rank} input: glimpse never mixes items"),
        ));
    }
    let item = item as usize;
    let shape = imp.shape(x).to_vec();
    // The legacy form runs over the flattened axes from `axis` on: along the one of them
    // longer than 1 if there is one, else reshaped around a softmax.
    let long: Vec<usize> = (item..shape.len()).filter(|&a| shape[a] > 1).collect();
    if !legacy || long.len() <= 1 {
        let axis = if legacy {
            long.first().copied().unwrap_or(item)
        } else {
            item
        };
        imp.push_form(n, name, Op::Softmax(Softmax { axis }), vec![x], whole)?;
        return Ok(());
    }
    let mut flat = shape[..item].to_vec();
    flat.push(shape[item..].iter().product());
    let f = imp.push_reshape(&format!("{name}:flat"), x, flat)?;
    let s = imp.push_node(name, Op::Softmax(Softmax { axis: item }), vec![f])?;
    let y = imp.push_reshape(&format!("{name}:unflat"), s, shape)?;
    if whole {
        for id in [f, s, y] {
            imp.whole_form.insert(id);
        }
    }
    imp.set(n, crate::onnx::import::Val::Node(y))
}

/// The ONNX operators imported as [`Softmax`].
pub(crate) const ONNX: &[OnnxOp] = &[OnnxOp {
    op_type: "Softmax",
    layer: "Softmax",
    notes: "any axis but the batch's (legacy opsets: the last); a final one: explanations start from the logits before it",
    import: softmax,
}];
