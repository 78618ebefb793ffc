//! `Transpose` of an activation → [`Transpose`] of the per-item axes; one that moves the batch
//! axis (attention's `[tokens, N, features]` layouts) works on the tensor in whole form.

use super::Transpose;
use crate::error::Result;
use crate::model::{NodeId, Op};
use crate::onnx::import::attributes::attr_ints;
use crate::onnx::import::{unsupported, Importer, Val};
use crate::onnx::proto::NodeProto;
use crate::onnx::OnnxOp;

pub(crate) fn import_transpose<'m>(
    imp: &mut Importer<'m, '_>,
    n: &'m NodeProto,
    name: &str,
) -> Result<()> {
    let x = imp.act_any(n, name, 0)?;
    let rank = imp.onnx_shape(x).len();
    let perm: Vec<i64> = match attr_ints(n, name, "perm")? {
        Some(p) => p,
        None => (0..rank as i64).rev().collect(),
    };
    let mut sorted = perm.clone();
    sorted.sort_unstable();
    if sorted != (0..rank as i64).collect::<Vec<_>>() {
        return Err(unsupported(
            n,
            name,
            format!("perm {perm:?} is not a permutation of the {rank} axes of its input"),
        ));
    }
    let perm: Vec<usize> = perm.iter().map(|&a| a as usize).collect();
    let y = permute(imp, name, x, &perm).map_err(|why| unsupported(n, name, why))?;
    imp.set(n, Val::Node(y))
}

/// Node `x` with its ONNX axes permuted by `perm` (a permutation of them): itself for the
/// identity, else a new Transpose node named `name`. With the batch first where it stays first
/// (a whole tensor of leading 1 too: one axis fewer for the kernels); in whole form where the
/// batch moves.
pub(crate) fn permute(
    imp: &mut Importer,
    name: &str,
    x: NodeId,
    perm: &[usize],
) -> std::result::Result<NodeId, String> {
    let lead = (perm[0] == 0).then(|| imp.lead(x)).flatten();
    let (x, item, whole) = if let Some(l) = lead {
        (l, perm[1..].iter().map(|&a| a - 1).collect(), false)
    } else {
        (imp.whole(x)?, perm.to_vec(), true)
    };
    if item.iter().enumerate().all(|(k, &a)| k == a) {
        return Ok(x);
    }
    let id = imp
        .push_node(name, Op::Transpose(Transpose { perm: item }), vec![x])
        .map_err(|e| e.to_string())?;
    if whole {
        imp.whole_form.insert(id);
    }
    Ok(id)
}

/// The ONNX operators imported as [`Transpose`].
pub(crate) const ONNX: &[OnnxOp] = &[OnnxOp {
    op_type: "Transpose",
    layer: "Transpose",
    notes:
        "any permutation (channel shuffles, channels-last layouts, attention's heads and tokens)",
    import: import_transpose,
}];
