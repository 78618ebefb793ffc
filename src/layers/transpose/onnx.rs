//! `Transpose` of an activation → [`Transpose`] (the batch axis must stay first).

use super::Transpose;
use crate::error::Result;
use crate::model::Op;
use crate::onnx::import::attributes::attr_ints;
use crate::onnx::import::{unsupported, Importer};
use crate::onnx::proto::NodeProto;
use crate::onnx::OnnxOp;

pub(crate) fn import_transpose<'m>(
    imp: &mut Importer<'m, '_>,
    n: &'m NodeProto,
    name: &str,
) -> Result<()> {
    let x = imp.act(n, name, 0)?;
    let rank = imp.shape(x).len() + 1;
    let perm: Vec<i64> = match attr_ints(n, name, "perm")? {
        Some(p) => p,
        None => (0..rank as i64).rev().collect(),
    };
    let valid = perm.len() == rank
        && perm.first() == Some(&0)
        && perm[1..].iter().all(|&a| (1..rank as i64).contains(&a));
    if !valid {
        return Err(unsupported(
            n,
            name,
            format!(
                "perm {perm:?} of a rank-{rank} input: glimpse keeps the batch axis first (perm[0] = 0)"
            ),
        ));
    }
    let item: Vec<usize> = perm[1..].iter().map(|&a| a as usize - 1).collect();
    if item.iter().enumerate().all(|(k, &a)| k == a) {
        // The identity: nothing to do.
        let v = imp.input(n, name, 0)?;
        return imp.set(n, v);
    }
    imp.push(n, name, Op::Transpose(Transpose { perm: item }), vec![x])
}

/// The ONNX operators imported as [`Transpose`].
pub(crate) const ONNX: &[OnnxOp] = &[OnnxOp {
    op_type: "Transpose",
    layer: "Transpose",
    notes:
        "any permutation that keeps the batch axis first (channel shuffles, channels-last layouts)",
    import: import_transpose,
}];
