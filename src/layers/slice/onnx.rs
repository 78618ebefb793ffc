//! `Slice` and `Split` of an activation → [`Slice`] nodes (one per output of a Split). Slices
//! of constants (shape arithmetic) are folded at import (`onnx::import::fold`).

use super::{AxisRange, Slice};
use crate::error::{Error, Result};
use crate::model::{NodeId, Op};
use crate::onnx::import::attributes::{attr_i, attr_ints};
use crate::onnx::import::{unsupported, Importer, Val};
use crate::onnx::proto::NodeProto;
use crate::onnx::OnnxOp;

/// ONNX Slice's range on one axis of size `dim`: start, end and step as given (negative
/// indices count from the end, out-of-range ones are clamped).
pub(crate) fn onnx_range(start: i64, end: i64, step: i64, dim: usize) -> Option<AxisRange> {
    let d = dim as i64;
    let norm = |v: i64| if v < 0 { v + d } else { v };
    let (start, end) = (norm(start), norm(end));
    let (start, len) = if step > 0 {
        let (s, e) = (start.clamp(0, d), end.clamp(0, d));
        (s, (e - s + step - 1).div_euclid(step))
    } else if step < 0 {
        let (s, e) = (start.clamp(0, d - 1), end.clamp(-1, d - 1));
        (s, (s - e - step - 1).div_euclid(-step))
    } else {
        return None;
    };
    (len > 0).then_some(AxisRange {
        start: start as usize,
        len: len as usize,
        step,
    })
}

/// The per-item axis of ONNX axis `axis` of a rank-`rank` tensor; `None` for the batch axis of
/// a tensor held with the batch first (`whole`: the per-item axes are the tensor's).
fn item_axis(axis: i64, rank: usize, whole: bool) -> Option<usize> {
    let a = if axis < 0 { axis + rank as i64 } else { axis };
    let first = if whole { 0 } else { 1 };
    (first..rank as i64)
        .contains(&a)
        .then(|| (a - first) as usize)
}

fn full(shape: &[usize]) -> Vec<AxisRange> {
    shape
        .iter()
        .map(|&d| AxisRange {
            start: 0,
            len: d,
            step: 1,
        })
        .collect()
}

pub(crate) fn import_slice<'m>(
    imp: &mut Importer<'m, '_>,
    n: &'m NodeProto,
    name: &str,
) -> Result<()> {
    let x = match imp.input(n, name, 0)? {
        Val::Node(x) => x,
        Val::Const(_) => return crate::onnx::import::fold::fold_node(imp, n, name),
    };
    let whole = imp.is_whole(x);
    let shape = imp.shape(x).to_vec();
    let rank = imp.onnx_shape(x).len();
    let need = |i: usize, what: &str| -> Result<Vec<i64>> {
        imp.opt_const_i64(n, name, i)?.ok_or_else(|| {
            Error::Onnx(format!(
                "node '{name}' (Slice) needs constant {what} (opset 10 and later take them as inputs)"
            ))
        })
    };
    let (starts, ends) = (need(1, "starts")?, need(2, "ends")?);
    let axes = match imp.opt_const_i64(n, name, 3)? {
        Some(a) => a,
        None => (0..starts.len() as i64).collect(),
    };
    let steps = imp
        .opt_const_i64(n, name, 4)?
        .unwrap_or_else(|| vec![1; starts.len()]);
    if ends.len() != starts.len() || axes.len() != starts.len() || steps.len() != starts.len() {
        return Err(Error::Onnx(format!(
            "node '{name}' (Slice): starts, ends, axes and steps differ in length"
        )));
    }
    let mut ranges = full(&shape);
    for k in 0..starts.len() {
        let bad = |why: &str| unsupported(n, name, format!("axis {}: {why}", axes[k]));
        let Some(a) = item_axis(axes[k], rank, whole) else {
            let whole = starts[k] == 0 && steps[k] == 1 && ends[k] >= imp.batch.unwrap_or(i64::MAX);
            if whole {
                continue;
            }
            return Err(bad("glimpse does not slice the batch axis"));
        };
        ranges[a] = onnx_range(starts[k], ends[k], steps[k], shape[a])
            .ok_or_else(|| bad("the slice is empty or its step is 0"))?;
    }
    if ranges == full(&shape) {
        return imp.set(n, Val::Node(x));
    }
    imp.push_form(n, name, Op::Slice(Slice { ranges }), vec![x], whole)?;
    Ok(())
}

/// `Gather` of an activation at constant indices along one axis: one index (the axis is
/// dropped: a class token `x[:, 0]`, one of attention's q, k, v) or an evenly spaced run (a
/// strided slice, shaped as the indices are: the dynamo exporter's `as_strided`). Gathers of
/// constants are folded at import.
pub(crate) fn import_gather<'m>(
    imp: &mut Importer<'m, '_>,
    n: &'m NodeProto,
    name: &str,
) -> Result<()> {
    let mut x = imp.act_any(n, name, 0)?;
    let indices = imp
        .opt_const_i64(n, name, 1)?
        .ok_or_else(|| Error::Onnx(format!("node '{name}' (Gather) lacks its indices")))?;
    let index_dims: Vec<usize> = match imp.input(n, name, 1)? {
        Val::Const(t) => t.dims.iter().map(|&d| d as usize).collect(),
        Val::Node(_) => unreachable!("read as a constant above"),
    };
    let rank = imp.onnx_shape(x).len();
    let axis_attr = attr_i(n, name, "axis", 0)?;
    let mut whole = imp.is_whole(x);
    let axis = match item_axis(axis_attr, rank, whole) {
        Some(a) => a,
        None => {
            // Gathering along the batch axis: at batch 1, in whole form.
            x = imp.act_whole(n, name, 0)?;
            whole = true;
            item_axis(axis_attr, rank, true).ok_or_else(|| {
                unsupported(n, name, format!("axis {axis_attr} of a rank-{rank} input"))
            })?
        }
    };
    let shape = imp.shape(x).to_vec();
    let dim = shape[axis] as i64;
    let norm: Vec<i64> = indices
        .iter()
        .map(|&i| if i < 0 { i + dim } else { i })
        .collect();
    if let Some(bad) = norm.iter().find(|&&i| !(0..dim).contains(&i)) {
        return Err(unsupported(
            n,
            name,
            format!("index {bad} is out of range for axis {axis_attr} of size {dim}"),
        ));
    }
    let step = if norm.len() > 1 { norm[1] - norm[0] } else { 1 };
    let evenly = step != 0 && norm.windows(2).all(|w| w[1] - w[0] == step);
    if !evenly || norm.is_empty() {
        return Err(unsupported(
            n,
            name,
            format!(
                "indices {indices:?}: glimpse gathers an activation at one index or an evenly \
                 spaced run of them"
            ),
        ));
    }
    let mut ranges = full(&shape);
    ranges[axis] = AxisRange {
        start: norm[0] as usize,
        len: norm.len(),
        step,
    };
    let sliced = if ranges == full(&shape) {
        x
    } else {
        let id = imp.push_node(name, Op::Slice(Slice { ranges }), vec![x])?;
        if whole {
            imp.whole_form.insert(id);
        }
        id
    };
    if index_dims.len() == 1 {
        return imp.set(n, Val::Node(sliced));
    }
    // The axis becomes the indices' axes: none for one index (a class token), or several.
    let mut out = shape[..axis].to_vec();
    out.extend(&index_dims);
    out.extend(&shape[axis + 1..]);
    if out.is_empty() {
        return Err(unsupported(
            n,
            name,
            "gathering one value of each item leaves no axis per item".into(),
        ));
    }
    if out == imp.shape(sliced) {
        return imp.set(n, Val::Node(sliced));
    }
    let id = imp.push_reshape(&format!("{name}:shape"), sliced, out)?;
    if whole {
        imp.whole_form.insert(id);
    }
    imp.set(n, Val::Node(id))
}

pub(crate) fn import_split<'m>(
    imp: &mut Importer<'m, '_>,
    n: &'m NodeProto,
    name: &str,
) -> Result<()> {
    let x: NodeId = imp.act_any(n, name, 0)?;
    let whole = imp.is_whole(x);
    let shape = imp.shape(x).to_vec();
    let rank = imp.onnx_shape(x).len();
    let axis_attr = attr_i(n, name, "axis", 0)?;
    let axis = item_axis(axis_attr, rank, whole).ok_or_else(|| {
        unsupported(
            n,
            name,
            format!("axis {axis_attr}: glimpse does not split the batch axis"),
        )
    })?;
    let dim = shape[axis];
    let outputs = n.output.len();
    let sizes: Vec<i64> = if imp.opset >= 13 {
        match imp.opt_const_i64(n, name, 1)? {
            Some(s) => s,
            None => {
                let parts = attr_i(n, name, "num_outputs", outputs as i64)?.max(1) as usize;
                let chunk = dim.div_ceil(parts);
                (0..parts)
                    .map(|k| chunk.min(dim.saturating_sub(k * chunk)) as i64)
                    .collect()
            }
        }
    } else {
        match attr_ints(n, name, "split")? {
            Some(s) => s,
            None => vec![(dim / outputs.max(1)) as i64; outputs],
        }
    };
    if sizes.len() != outputs
        || sizes.iter().any(|&s| s <= 0)
        || sizes.iter().sum::<i64>() != dim as i64
    {
        return Err(unsupported(
            n,
            name,
            format!(
                "splits {sizes:?} into {outputs} outputs do not cover axis {axis_attr} of size {dim} \
                 with non-empty parts"
            ),
        ));
    }
    let mut start = 0;
    for (k, &len) in sizes.iter().enumerate() {
        let mut ranges = full(&shape);
        ranges[axis] = AxisRange {
            start,
            len: len as usize,
            step: 1,
        };
        start += len as usize;
        let id = imp.push_node(&format!("{name}:{k}"), Op::Slice(Slice { ranges }), vec![x])?;
        if whole {
            imp.whole_form.insert(id);
        }
        imp.set_output(n, k, Val::Node(id));
    }
    Ok(())
}

/// The ONNX operators imported as [`Slice`].
pub(crate) const ONNX: &[OnnxOp] = &[
    OnnxOp {
        op_type: "Slice",
        layer: "Slice",
        notes: "constant starts, ends, axes, steps (negative too) on any axis but the batch's",
        import: import_slice,
    },
    OnnxOp {
        op_type: "Gather",
        layer: "Slice",
        notes:
            "of an activation at constant indices: one (the axis dropped) or an evenly spaced run",
        import: import_gather,
    },
    OnnxOp {
        op_type: "Split",
        layer: "Slice (one per output)",
        notes: "any axis but the batch's; `split` as input or attribute, or `num_outputs`",
        import: import_split,
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_follow_onnx_slice() {
        let r = |s, e, st, d| onnx_range(s, e, st, d).map(|r| (r.start, r.len, r.step));
        assert_eq!(r(0, 2, 1, 5), Some((0, 2, 1)));
        assert_eq!(r(-2, i64::MAX, 1, 5), Some((3, 2, 1)));
        assert_eq!(r(1, 5, 2, 5), Some((1, 2, 2)));
        assert_eq!(r(-1, i64::MIN, -1, 4), Some((3, 4, -1)));
        assert_eq!(r(3, 0, -2, 5), Some((3, 2, -2)));
        assert_eq!(r(2, 2, 1, 5), None);
        assert_eq!(r(0, 2, 0, 5), None);
    }
}
