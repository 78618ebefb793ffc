//! Dense passes, forward and adjoint. A weight larger than one storage binding (VGG16's first
//! classifier layer holds 411 MB; lavapipe binds at most 128 MiB) is bound in row chunks of one
//! constant buffer, one pass per chunk, each writing (or, adjoint, accumulating) its share.

use std::ops::Range;

use super::Dense;
use crate::error::Result;
use crate::layers::{LinearIo, VjpIo};
use crate::plan::{
    binds, ConstId, KernelFlavor, Launch, Out, Param, Program, Resource, WeightKey, WgslEnum,
    SUBGROUP_LANES,
};

crate::params! {
    /// One forward pass over rows `out_offset..+outputs` of `out_stride` features.
    pub struct DenseForwardParams {
        pub n: u32, pub inputs: u32, pub outputs: u32, pub has_bias: u32,
        pub input: u32, pub accumulate: u32, pub out_offset: u32, pub out_stride: u32,
    }
}

crate::params! {
    /// One adjoint pass summing rows `out_offset..+outputs`: `out (+)= coef · factor(x) · Wᵀ ȳ`.
    pub struct DenseVjpParams {
        pub n: u32, pub inputs: u32, pub outputs: u32, pub factor: u32,
        pub accumulate: u32, pub coef: f32, pub out_offset: u32, pub out_stride: u32,
    }
}

crate::kernel!(pub(crate) FORWARD: DenseForwardParams = "layers/dense/forward");
crate::kernel!(pub(crate) FORWARD_SUBGROUP: DenseForwardParams = "layers/dense/forward_subgroup");
crate::kernel!(pub(crate) VJP: DenseVjpParams = "layers/dense/vjp");
crate::kernel!(pub(crate) VJP_SUBGROUP: DenseVjpParams = "layers/dense/vjp_subgroup");

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

/// The chunks of a dense weight on the program's device.
fn chunks_for(p: &Program, outputs: usize, inputs: usize) -> Vec<Range<usize>> {
    let prof = p.profile();
    dense_chunks(prof.max_binding, prof.offset_alignment, outputs, inputs)
}

/// Batch items per invocation of the `subgroup` dense kernels (the batch, at most 4), or `None`
/// when the device's dense flavor is another.
fn subgroup_items(p: &Program, batch: usize) -> Option<usize> {
    (p.profile().kernels.dense.flavor == KernelFlavor::Subgroup).then_some(batch.clamp(1, 4))
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

/// Records `out (+)= W'·factor(x) (+ b')`, one pass per weight chunk.
pub(super) fn forward(d: &Dense, p: &mut Program, io: &LinearIo) -> Result<()> {
    let (outputs, inputs) = (d.weight.shape[0], d.weight.shape[1]);
    let key = |param| WeightKey {
        node: io.node,
        param,
        modifier: io.weights,
    };
    let w = p.weight(
        key(Param::Weight),
        &format!("{}.weight", io.name),
        outputs * inputs,
    )?;
    let has_bias = io.bias && d.bias.is_some();
    let bias = if has_bias {
        p.weight(key(Param::Bias), &format!("{}.bias", io.name), outputs)?
    } else {
        p.zero()?
    };
    let chunks = chunks_for(p, outputs, inputs);
    let whole = chunks.len() == 1;
    let update = matches!(io.out, Out::Update(_));
    for rows in chunks {
        let params = DenseForwardParams {
            n: io.batch as u32,
            inputs: inputs as u32,
            outputs: rows.len() as u32,
            has_bias: has_bias as u32,
            input: io.input.code(),
            accumulate: update as u32,
            out_offset: rows.start as u32,
            out_stride: outputs as u32,
        };
        let consts = [
            rows_of(w, &rows, inputs, whole),
            rows_of(bias, &rows, 1, whole || !has_bias),
        ];
        let bindings = binds(&[io.x], &consts, io.out.tensor());
        // Each chunk writes its own rows: together they cover the output.
        match subgroup_items(p, io.batch) {
            Some(items) => {
                let groups = rows.len().div_ceil(8) * io.batch.div_ceil(items);
                let constants = [("ITEMS", items as f64)];
                p.pass_specialised(
                    &FORWARD_SUBGROUP,
                    "subgroup",
                    &constants,
                    &params,
                    bindings,
                    io.out,
                    subgroup_launch(groups),
                )?;
            }
            None => {
                let launch = Launch::Flat {
                    count: (rows.len() * io.batch.div_ceil(4)) as u64,
                    size: 64,
                };
                p.pass(&FORWARD, "main", &params, bindings, io.out, launch)?;
            }
        }
    }
    Ok(())
}

/// Records `dest (+)= coef · factor(x) · W'ᵀ g`, one pass per weight chunk, the chunks after the
/// first accumulating.
pub(super) fn vjp(d: &Dense, p: &mut Program, io: &VjpIo) -> Result<()> {
    let (outputs, inputs) = (d.weight.shape[0], d.weight.shape[1]);
    let key = WeightKey {
        node: io.node,
        param: Param::Weight,
        modifier: io.weights,
    };
    let w = p.weight(key, &format!("{}.weight", io.name), outputs * inputs)?;
    let cv = match io.channel_values {
        Some(c) => c,
        None => p.zero()?,
    };
    let chunks = chunks_for(p, outputs, inputs);
    let whole = chunks.len() == 1;
    let dest = io.dests[0];
    for (i, rows) in chunks.into_iter().enumerate() {
        let accumulate = dest.accumulate || i > 0;
        let params = DenseVjpParams {
            n: io.batch as u32,
            inputs: inputs as u32,
            outputs: rows.len() as u32,
            factor: io.factor.code(),
            accumulate: accumulate as u32,
            coef: io.coef,
            out_offset: rows.start as u32,
            out_stride: outputs as u32,
        };
        let consts = [
            rows_of(w, &rows, inputs, whole),
            Resource::Tensor(io.xs[0]),
            Resource::Const(cv),
        ];
        let bindings = binds(&[io.g], &consts, dest.tensor);
        let out = Out::to(dest.tensor, accumulate);
        match subgroup_items(p, io.batch) {
            Some(items) => {
                let groups = inputs.div_ceil(8) * io.batch.div_ceil(items);
                let constants = [("ITEMS", items as f64)];
                p.pass_specialised(
                    &VJP_SUBGROUP,
                    "subgroup",
                    &constants,
                    &params,
                    bindings,
                    out,
                    subgroup_launch(groups),
                )?;
            }
            None => {
                let launch = Launch::Flat {
                    count: (io.batch * inputs) as u64,
                    size: 64,
                };
                p.pass(&VJP, "main", &params, bindings, out, launch)?;
            }
        }
    }
    Ok(())
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
