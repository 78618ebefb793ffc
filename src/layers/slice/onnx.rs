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

/// The per-item axis of ONNX axis `axis` of a rank-`rank` tensor (batch included); `None` for
/// the batch axis.
fn item_axis(axis: i64, rank: usize) -> Option<usize> {
    let a = if axis < 0 { axis + rank as i64 } else { axis };
    (1..rank as i64).contains(&a).then(|| a as usize - 1)
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
    let shape = imp.shape(x).to_vec();
    let rank = shape.len() + 1;
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
        let Some(a) = item_axis(axes[k], rank) else {
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
    imp.push(n, name, Op::Slice(Slice { ranges }), vec![x])
}

pub(crate) fn import_split<'m>(
    imp: &mut Importer<'m, '_>,
    n: &'m NodeProto,
    name: &str,
) -> Result<()> {
    let x: NodeId = imp.act(n, name, 0)?;
    let shape = imp.shape(x).to_vec();
    let rank = shape.len() + 1;
    let axis_attr = attr_i(n, name, "axis", 0)?;
    let axis = item_axis(axis_attr, rank).ok_or_else(|| {
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
