//! `ReduceMean` and `ReduceSum` over any per-item axes, built from layers glimpse has: the
//! reduced axes moved last (a Transpose), flattened to `[kept, reduced, 1]` (a Reshape), a
//! [`GlobalAvgPool`] (its mean over the last two axes), for a sum a constant scale by the
//! count (a [`BatchNorm`] with no shift), and the ONNX output shape (a Reshape). The spatial
//! mean of `[N, C, H, W]` is the plain global pool. LRP crosses the pool by its rule (Norm,
//! each value's share of the sum) and the scale unchanged.

use super::GlobalAvgPool;
use crate::error::Result;
use crate::layers::{BatchNorm, Transpose};
use crate::model::{NodeId, Op};
use crate::onnx::import::attributes::{attr_i, attr_ints};
use crate::onnx::import::{unsupported, Importer, Val};
use crate::onnx::proto::NodeProto;

/// A reduction's per-item axes (sorted, deduplicated), keepdims; `None` for "no axes" as a no-op.
fn axes_of(
    imp: &mut Importer<'_, '_>,
    n: &NodeProto,
    name: &str,
    rank: usize,
) -> Result<Option<(Vec<usize>, bool)>> {
    // ReduceSum takes its axes as an input from opset 13, the others from opset 18.
    let from = if n.op_type == "ReduceSum" { 13 } else { 18 };
    let axes = if imp.opset >= from {
        imp.opt_const_i64(n, name, 1)?
    } else {
        attr_ints(n, name, "axes")?
    };
    let keepdims = attr_i(n, name, "keepdims", 1)? != 0;
    let axes = axes.unwrap_or_default();
    if axes.is_empty() {
        if imp.opset >= from && attr_i(n, name, "noop_with_empty_axes", 0)? != 0 {
            return Ok(None);
        }
        return Err(unsupported(
            n,
            name,
            "a reduction over all axes takes in the batch; glimpse reduces within each item".into(),
        ));
    }
    let onnx_rank = rank as i64 + 1;
    let mut per_item = Vec::with_capacity(axes.len());
    for &a in &axes {
        let a = if a < 0 { a + onnx_rank } else { a };
        if !(1..onnx_rank).contains(&a) {
            return Err(unsupported(
                n,
                name,
                format!(
                    "axis {a} of a rank-{onnx_rank} input: glimpse reduces within each item, \
                     not over the batch"
                ),
            ));
        }
        per_item.push(a as usize - 1);
    }
    per_item.sort_unstable();
    per_item.dedup();
    Ok(Some((per_item, keepdims)))
}

/// ReduceMean (`mean`) or ReduceSum of activation input 0 over any per-item axes.
pub(super) fn reduce<'m>(
    imp: &mut Importer<'m, '_>,
    n: &'m NodeProto,
    name: &str,
    mean: bool,
) -> Result<()> {
    let x = imp.act(n, name, 0)?;
    let input = imp.shape(x).to_vec();
    let Some((axes, keepdims)) = axes_of(imp, n, name, input.len())? else {
        return imp.set(n, Val::Node(x));
    };
    if mean && input.len() == 3 && axes == [1, 2] {
        if keepdims {
            return imp.push(n, name, Op::GlobalAvgPool(GlobalAvgPool), vec![x]);
        }
        let g = imp.push_node(name, Op::GlobalAvgPool(GlobalAvgPool), vec![x])?;
        let r = imp.push_reshape(&format!("{name}_squeeze"), g, vec![input[0]])?;
        return imp.set(n, Val::Node(r));
    }
    let kept: Vec<usize> = (0..input.len()).filter(|a| !axes.contains(a)).collect();
    let perm: Vec<usize> = kept.iter().chain(&axes).copied().collect();
    let mut at: NodeId = x;
    if perm.iter().enumerate().any(|(i, &p)| i != p) {
        let t = Op::Transpose(Transpose { perm });
        at = imp.push_node(&format!("{name}:reduced_last"), t, vec![at])?;
    }
    let outer: usize = kept.iter().map(|&a| input[a]).product();
    let count: usize = axes.iter().map(|&a| input[a]).product();
    at = imp.push_reshape(&format!("{name}:rows"), at, vec![outer, count, 1])?;
    at = imp.push_node(name, Op::GlobalAvgPool(GlobalAvgPool), vec![at])?;
    if !mean {
        let scale = BatchNorm {
            scale: vec![count as f32; outer],
            shift: vec![0.0; outer],
        };
        at = imp.push_node(&format!("{name}:sum"), Op::BatchNorm(scale), vec![at])?;
    }
    let shape: Vec<usize> = if keepdims {
        (0..input.len())
            .map(|a| if axes.contains(&a) { 1 } else { input[a] })
            .collect()
    } else if kept.is_empty() {
        vec![1]
    } else {
        kept.iter().map(|&a| input[a]).collect()
    };
    at = imp.push_reshape(&format!("{name}:shape"), at, shape)?;
    imp.set(n, Val::Node(at))
}
