//! Dense passes, forward and adjoint. A weight larger than one storage binding (VGG16's first
//! classifier layer holds 411 MB; lavapipe binds at most 128 MiB) is bound in row chunks of one
//! constant buffer, one pass per chunk, each writing (or, adjoint, accumulating) its share.

use std::ops::Range;

use super::builder::{ConstId, Launch, PlanBuilder, Resource, TensorId};
use super::forward::{binds, LinearPass};
use crate::gpu::{KernelFlavor, SUBGROUP_LANES};
use crate::layers::Dense;

/// Output rows of a `[outputs, inputs]` weight, in chunks whose weight rows fit one binding and
/// start at offsets the device can bind (for the weight and the bias alike). One chunk when the
/// whole weight fits; also when not even the smallest aligned chunk would (the plan then fails
/// with a clear error when it binds it).
#[allow(clippy::single_range_in_vec_init)] // one chunk of all rows is meant
pub fn dense_chunks(
    max_binding: u64,
    offset_alignment: u64,
    outputs: usize,
    inputs: usize,
) -> Vec<Range<usize>> {
    let row_bytes = (inputs.max(1) * 4) as u64;
    if row_bytes * outputs as u64 <= max_binding {
        return vec![0..outputs];
    }
    let align = offset_alignment.max(4);
    let step_w = align / gcd(align, row_bytes);
    let step_b = align / gcd(align, 4);
    let step = step_w / gcd(step_w, step_b) * step_b;
    let rows = (max_binding / row_bytes) / step * step;
    if rows == 0 {
        return vec![0..outputs];
    }
    (0..outputs)
        .step_by(rows as usize)
        .map(|r| r..(r + rows as usize).min(outputs))
        .collect()
}

fn gcd(a: u64, b: u64) -> u64 {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

/// The chunks of a dense weight on the plan's device.
fn chunks_for(b: &PlanBuilder, outputs: usize, inputs: usize) -> Vec<Range<usize>> {
    let gpu = b.gpu();
    dense_chunks(
        gpu.max_binding(),
        gpu.limits().min_storage_buffer_offset_alignment as u64,
        outputs,
        inputs,
    )
}

/// Batch items per invocation of the `subgroup` dense kernels (the batch, at most 4), or `None`
/// when the device's flavor is another.
fn subgroup_items(b: &PlanBuilder, batch: usize) -> Option<usize> {
    (b.gpu().flavor() == KernelFlavor::Subgroup).then_some(batch.clamp(1, 4))
}

/// `groups` subgroups of 8 lanes, one workgroup each.
fn subgroup_launch(groups: usize) -> Launch {
    Launch::Flat {
        count: (groups * SUBGROUP_LANES as usize) as u64,
        size: SUBGROUP_LANES,
    }
}

/// Binds rows `rows` of a `[_, inputs]` constant, or all of it when `whole`.
fn rows_of(c: ConstId, rows: &Range<usize>, inputs: usize, whole: bool) -> Resource {
    if whole {
        Resource::Const(c)
    } else {
        Resource::ConstSlice {
            id: c,
            offset: (rows.start * inputs * 4) as u64,
            bytes: (rows.len() * inputs * 4) as u64,
        }
    }
}

/// One dense forward pass per weight chunk; `d` gives the shape only, the weight is the constant
/// `w` (`[out, in]`) and the bias `bias` (read only when `lin.has_bias`).
pub(crate) fn dense_forward_pass(
    b: &mut PlanBuilder,
    d: &Dense,
    lin: &LinearPass,
    w: ConstId,
    bias: ConstId,
    x: TensorId,
    y: TensorId,
) {
    let (outputs, inputs) = (d.weight.shape[0], d.weight.shape[1]);
    let chunks = chunks_for(b, outputs, inputs);
    let whole = chunks.len() == 1;
    for rows in chunks {
        let p = vec![
            lin.batch as u32,
            inputs as u32,
            rows.len() as u32,
            lin.has_bias as u32,
            lin.input_mode,
            lin.accumulate as u32,
            rows.start as u32,
            outputs as u32,
        ];
        let consts = [
            rows_of(w, &rows, inputs, whole),
            rows_of(bias, &rows, 1, whole || !lin.has_bias),
        ];
        let bindings = binds(p, &[x], &consts, y);
        match subgroup_items(b, lin.batch) {
            Some(items) => {
                let groups = rows.len().div_ceil(8) * lin.batch.div_ceil(items);
                b.pass_specialised(
                    "layers/dense_forward_subgroup",
                    "subgroup",
                    &[("ITEMS", items as f64)],
                    bindings,
                    &[y],
                    subgroup_launch(groups),
                );
            }
            None => {
                let launch = Launch::Flat {
                    count: (rows.len() * lin.batch.div_ceil(4)) as u64,
                    size: 64,
                };
                b.pass("layers/dense_forward", "main", bindings, &[y], launch);
            }
        }
    }
}

/// What one adjoint dense pass computes: `out (+)= coef · input_factor(x) · Wᵀ ȳ` (see
/// `shaders/layers/dense_transpose.wgsl`).
pub(crate) struct DenseAdjoint {
    /// Items per submission.
    pub batch: usize,
    /// Input factor mode (see the prelude's `input_factor`).
    pub input_mode: u32,
    /// Add to `out` instead of overwriting it.
    pub accumulate: bool,
    /// The factor every result is multiplied by.
    pub coef: f32,
}

/// One adjoint dense pass per weight chunk, the chunks after the first accumulating.
#[allow(clippy::too_many_arguments)]
pub(crate) fn dense_transpose_pass(
    b: &mut PlanBuilder,
    d: &Dense,
    adj: &DenseAdjoint,
    ybar: TensorId,
    w: ConstId,
    x: TensorId,
    channel_values: ConstId,
    out: TensorId,
) {
    let (outputs, inputs) = (d.weight.shape[0], d.weight.shape[1]);
    let chunks = chunks_for(b, outputs, inputs);
    let whole = chunks.len() == 1;
    for (i, rows) in chunks.into_iter().enumerate() {
        let p = vec![
            adj.batch as u32,
            inputs as u32,
            rows.len() as u32,
            adj.input_mode,
            (adj.accumulate || i > 0) as u32,
            adj.coef.to_bits(),
            rows.start as u32,
            outputs as u32,
        ];
        let consts = [
            rows_of(w, &rows, inputs, whole),
            Resource::Tensor(x),
            Resource::Const(channel_values),
        ];
        let bindings = binds(p, &[ybar], &consts, out);
        match subgroup_items(b, adj.batch) {
            Some(items) => {
                let groups = inputs.div_ceil(8) * adj.batch.div_ceil(items);
                b.pass_specialised(
                    "layers/dense_transpose_subgroup",
                    "subgroup",
                    &[("ITEMS", items as f64)],
                    bindings,
                    &[out],
                    subgroup_launch(groups),
                );
            }
            None => {
                let launch = Launch::Flat {
                    count: (adj.batch * inputs) as u64,
                    size: 64,
                };
                b.pass("layers/dense_transpose", "main", bindings, &[out], launch);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::dense_chunks;

    #[test]
    fn small_weights_are_one_chunk() {
        assert_eq!(dense_chunks(1 << 27, 256, 4096, 4096), vec![0..4096]);
    }

    #[test]
    fn vgg16_fc1_splits_into_aligned_chunks() {
        // 25088 inputs: 1337 rows fit 128 MiB; rows step by 64 for the bias offsets.
        let c = dense_chunks(1 << 27, 256, 4096, 25088);
        assert_eq!(c.first(), Some(&(0..1280)));
        assert_eq!(c.last().map(|r| r.end), Some(4096));
        for r in &c {
            assert!(r.len() as u64 * 25088 * 4 <= 1 << 27);
            assert_eq!((r.start * 25088 * 4) % 256, 0);
            assert_eq!((r.start * 4) % 256, 0);
        }
        assert!(c.windows(2).all(|w| w[0].end == w[1].start));
    }

    #[test]
    fn odd_row_sizes_step_to_aligned_offsets() {
        // 1001 inputs: rows must step by 64 for both the weight and the bias offsets.
        let c = dense_chunks(1001 * 4 * 100, 256, 1000, 1001);
        assert!(c
            .iter()
            .all(|r| (r.start * 1001 * 4) % 256 == 0 && r.len() <= 100));
        assert_eq!(c[0], 0..64);
    }
}
