//! The adjoint convolution pass `out (+)= coef · input_factor(x) · Wᵀ ȳ` (gradients and LRP),
//! in the variant the device's flavor wants, with the weight in the layout that variant reads.

use super::builder::{ConstId, Launch, PlanBuilder, Resource, TensorId};
use super::forward::{binds, conv_params, depthwise_entry, depthwise_launch};
use crate::gpu::{Gpu, KernelFlavor, SUBGROUP_LANES};
use crate::layers::Conv2d;

/// Input pixels per subgroup of the `subgroup` adjoint (see scripts/gen_subgroup_kernels.py).
const SUBGROUP_PIXELS: usize = 32;

/// What one adjoint convolution pass computes besides `Wᵀ ȳ`.
pub(crate) struct ConvAdjoint<'a> {
    /// Items per submission.
    pub batch: usize,
    /// Per-item input shape `[C, H, W]` (the shape of `out`).
    pub input: &'a [usize],
    /// Per-item output shape `[C_out, OH, OW]` (the shape of `ȳ`).
    pub output: &'a [usize],
    /// Input factor mode (see the prelude's `input_factor`).
    pub input_mode: u32,
    /// Add to `out` instead of overwriting it.
    pub accumulate: bool,
    /// The factor every result is multiplied by.
    pub coef: f32,
}

/// Which adjoint kernel serves a convolution on a device.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Variant {
    /// One output value per invocation, plain weight layout: real GPUs (`tiled` flavor).
    Plain,
    /// 4 pixels × 4 input channels per invocation: CPU adapters, and `subgroup` ones when a
    /// layer has fewer than 16 input channels per group (most lanes would idle).
    Registers,
    /// 32 pixels × 32·quads input channels per 8-lane subgroup.
    Subgroup { quads: usize },
    /// A tile of one channel of a depthwise convolution per invocation (every flavor).
    Depthwise { entry: &'static str },
}

fn variant(gpu: &Gpu, c: &Conv2d) -> Variant {
    if let Some(entry) = depthwise_entry(c) {
        return Variant::Depthwise { entry };
    }
    match (gpu.flavor(), c.weight.shape[1].div_ceil(4)) {
        (KernelFlavor::Tiled, _) => Variant::Plain,
        (KernelFlavor::Subgroup, q) if q >= 16 => Variant::Subgroup { quads: 2 },
        (KernelFlavor::Subgroup, q) if q >= 4 => Variant::Subgroup { quads: 1 },
        _ => Variant::Registers,
    }
}

/// The adjoint's weight as its kernel reads it: `[C_out, C_in/g, KH, KW]` as given for the plain
/// kernel; for the others (depthwise included) `[g][K = C_out/g·KH·KW][C_in/g rounded up to 4]`,
/// zero padded.
pub(crate) fn conv_adjoint_weight(gpu: &Gpu, c: &Conv2d) -> Vec<f32> {
    if variant(gpu, c) == Variant::Plain {
        return c.weight.data.clone();
    }
    let w = &c.weight.shape;
    let (cout, cin_g, khw) = (w[0], w[1], w[2] * w[3]);
    let mg = cout / c.groups;
    let cg4 = cin_g.div_ceil(4) * 4;
    let kk = mg * khw;
    let mut packed = vec![0.0; c.groups * kk * cg4];
    for g in 0..c.groups {
        for m in 0..mg {
            for ch in 0..cin_g {
                for r in 0..khw {
                    let k = m * khw + r;
                    packed[(g * kk + k) * cg4 + ch] =
                        c.weight.data[((g * mg + m) * cin_g + ch) * khw + r];
                }
            }
        }
    }
    packed
}

/// One adjoint convolution pass; `w` holds [`conv_adjoint_weight`] of `c` on this device,
/// `channel_values` the per-input-channel constants of input mode 4.
#[allow(clippy::too_many_arguments)]
pub(crate) fn conv_transpose_pass(
    b: &mut PlanBuilder,
    c: &Conv2d,
    adj: &ConvAdjoint,
    ybar: TensorId,
    w: ConstId,
    x: TensorId,
    channel_values: ConstId,
    out: TensorId,
) {
    let mut p = conv_params(c, adj.batch, adj.input, adj.output);
    p.truncate(16);
    p.extend([adj.input_mode, adj.accumulate as u32, adj.coef.to_bits(), 0]);
    let bindings = binds(
        p,
        &[ybar],
        &[
            Resource::Const(w),
            Resource::Tensor(x),
            Resource::Const(channel_values),
        ],
        out,
    );
    let npix = adj.input[1] * adj.input[2];
    let cg4 = c.weight.shape[1].div_ceil(4);
    match variant(b.gpu(), c) {
        Variant::Subgroup { quads } => {
            let cblocks = cg4.div_ceil(8 * quads);
            let groups = adj.batch * c.groups * cblocks * npix.div_ceil(SUBGROUP_PIXELS);
            let launch = Launch::Flat {
                count: (groups * SUBGROUP_LANES as usize) as u64,
                size: SUBGROUP_LANES,
            };
            b.pass_specialised(
                "layers/conv2d_transpose_subgroup",
                "subgroup",
                &[
                    ("QUADS", quads as f64),
                    ("UNIT_STRIDE", (c.stride == [1, 1]) as u8 as f64),
                ],
                bindings,
                &[out],
                launch,
            );
        }
        Variant::Registers => {
            let launch = Launch::Flat {
                count: (adj.batch * c.groups * cg4 * npix.div_ceil(4)) as u64,
                size: 64,
            };
            b.pass(
                "layers/conv2d_transpose_registers",
                "registers",
                bindings,
                &[out],
                launch,
            );
        }
        Variant::Depthwise { entry } => {
            let launch = depthwise_launch(adj.batch, adj.input);
            b.pass(
                "layers/conv2d_depthwise_transpose",
                entry,
                bindings,
                &[out],
                launch,
            );
        }
        Variant::Plain => {
            let launch = Launch::Flat {
                count: (adj.batch * adj.input[0] * npix) as u64,
                size: 64,
            };
            b.pass("layers/conv2d_transpose", "main", bindings, &[out], launch);
        }
    }
}
