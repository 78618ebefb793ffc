//! A constant `Pad` that no convolution absorbs → [`Pad`] (the mapping is the importer's, which
//! first tries to fold zero padding into the convolutions reading it).

use super::Pad;
use crate::error::Result;
use crate::model::{NodeId, Op};
use crate::onnx::import::{unsupported, Importer, Val};
use crate::onnx::proto::NodeProto;

/// Pads `x` by `begin_end` (one pair per ONNX axis) with `value`.
pub(crate) fn import_pad<'m>(
    imp: &mut Importer<'m, '_>,
    n: &'m NodeProto,
    name: &str,
    x: NodeId,
    begin_end: &[(i64, i64)],
    value: f32,
) -> Result<()> {
    if begin_end.iter().all(|&p| p == (0, 0)) {
        return imp.set(n, Val::Node(x));
    }
    let whole = imp.is_whole(x);
    let per_item = if whole {
        begin_end
    } else if begin_end[0] == (0, 0) {
        &begin_end[1..]
    } else {
        return Err(unsupported(n, name, "it pads the batch axis".into()));
    };
    let pad = Pad {
        before: per_item.iter().map(|p| p.0 as usize).collect(),
        after: per_item.iter().map(|p| p.1 as usize).collect(),
        value,
    };
    imp.push_form(n, name, Op::Pad(pad), vec![x], whole)?;
    Ok(())
}
