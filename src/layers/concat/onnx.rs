//! `Concat` along any axis but the batch's → [`Concat`]; constant inputs (a class token) are
//! [`crate::layers::Constant`] nodes.

use crate::error::{Error, Result};
use crate::layers::constant::onnx::concat_constant;
use crate::layers::Concat;
use crate::model::{NodeId, Op};
use crate::onnx::import::attributes::{attr, attr_i};
use crate::onnx::import::{unsupported, Importer, Val};
use crate::onnx::proto::NodeProto;
use crate::onnx::OnnxOp;

pub(crate) fn concat<'m>(imp: &mut Importer<'m, '_>, n: &'m NodeProto, name: &str) -> Result<()> {
    if n.input.is_empty() {
        return Err(Error::Onnx(format!("node '{name}' (Concat) has no inputs")));
    }
    if attr(n, "axis").is_none() {
        return Err(Error::Onnx(format!(
            "node '{name}' (Concat) has no axis attribute"
        )));
    }
    // Activations in one form; constants (a class token) become constant nodes beside them.
    let mut acts = Vec::new();
    for i in 0..n.input.len() {
        if let Val::Node(id) = imp.input(n, name, i)? {
            acts.push((i, id));
        }
    }
    let ids: Vec<NodeId> = acts.iter().map(|&(_, id)| id).collect();
    let (ids, whole) = imp.same_form(n, name, &ids)?;
    let Some(&first) = ids.first() else {
        return Err(unsupported(n, name, "every input is a constant".into()));
    };
    let mut inputs = Vec::with_capacity(n.input.len());
    let mut next = ids.iter();
    for i in 0..n.input.len() {
        if acts.iter().any(|&(j, _)| j == i) {
            inputs.push(*next.next().expect("one per activation"));
        } else {
            inputs.push(concat_constant(imp, n, name, i, whole)?);
        }
    }
    let rank = imp.onnx_shape(first).len() as i64;
    let axis = attr_i(n, name, "axis", 1)?;
    let norm = if axis < 0 { axis + rank } else { axis };
    let lowest = if whole { 0 } else { 1 };
    if !(lowest..rank).contains(&norm) {
        return Err(unsupported(
            n,
            name,
            format!("axis {axis} of a rank-{rank} input: glimpse does not concatenate items"),
        ));
    }
    let concat = Concat {
        axis: (norm - lowest) as usize,
    };
    imp.push_form(n, name, Op::Concat(concat), inputs, whole)?;
    Ok(())
}

/// The ONNX operators imported as [`Concat`].
pub(crate) const ONNX: &[OnnxOp] = &[OnnxOp {
    op_type: "Concat",
    layer: "Concat",
    notes: "any axis but the batch's; constant inputs (class tokens)",
    import: concat,
}];
