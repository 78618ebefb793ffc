//! Recording convolutions: the forward pass (and LRP's modified z passes, which share it) and
//! the adjoint, each in the variant the device's flavor wants, with the weight in the layout
//! that variant reads.

use super::winograd::{self, Correlation, Epilogue};
use super::Conv2d;
use crate::error::{Error, Result};
use crate::layers::{Factor, LinearIo, VjpIo};
use crate::plan::tiles::{
    DEPTHWISE_SHAPES, DEPTHWISE_TILE, SUBGROUP_CONV_PIXELS, SUBGROUP_VJP_PIXELS,
};
use crate::plan::{
    binds, KernelFamily, KernelFlavor, Launch, Param, Program, Resource, WeightKey, WgslEnum,
    SUBGROUP_LANES,
};

crate::params! {
    /// Geometry and modes of the forward kernels (`forward`, `forward_subgroup`, `depthwise`,
    /// and the transposed convolution's `conv_transpose/forward`).
    pub struct ConvForwardParams {
        pub n: u32, pub cin: u32, pub h: u32, pub w: u32,
        pub cout: u32, pub oh: u32, pub ow: u32, pub groups: u32,
        pub kh: u32, pub kw: u32, pub sy: u32, pub sx: u32,
        pub pt: u32, pub pl: u32, pub dy: u32, pub dx: u32,
        pub has_bias: u32, pub input: u32, pub accumulate: u32, pub pad0: u32,
    }
}

crate::params! {
    /// Geometry and epilogue of the adjoint kernels (`vjp`, `vjp_registers`, `vjp_subgroup`,
    /// `depthwise_vjp`, and the transposed convolution's `conv_transpose/vjp`):
    /// `out (+)= coef · factor(x) · Wᵀ ȳ`.
    pub struct ConvVjpParams {
        pub n: u32, pub cin: u32, pub h: u32, pub w: u32,
        pub cout: u32, pub oh: u32, pub ow: u32, pub groups: u32,
        pub kh: u32, pub kw: u32, pub sy: u32, pub sx: u32,
        pub pt: u32, pub pl: u32, pub dy: u32, pub dx: u32,
        pub factor: u32, pub accumulate: u32, pub coef: f32, pub pad0: u32,
    }
}

crate::kernel!(pub(crate) FORWARD: ConvForwardParams = "layers/conv2d/forward");
crate::kernel!(pub(crate) FORWARD_SUBGROUP: ConvForwardParams = "layers/conv2d/forward_subgroup");
crate::kernel!(pub(crate) DEPTHWISE: ConvForwardParams = "layers/conv2d/depthwise");
crate::kernel!(pub(crate) VJP: ConvVjpParams = "layers/conv2d/vjp");
crate::kernel!(pub(crate) VJP_REGISTERS: ConvVjpParams = "layers/conv2d/vjp_registers");
crate::kernel!(pub(crate) VJP_SUBGROUP: ConvVjpParams = "layers/conv2d/vjp_subgroup");
crate::kernel!(pub(crate) DEPTHWISE_VJP: ConvVjpParams = "layers/conv2d/depthwise_vjp");

/// The geometry words both parameter structs start with.
fn geometry(c: &Conv2d, batch: usize, input: &[usize], out: &[usize]) -> [u32; 16] {
    let w = &c.weight.shape;
    [
        batch,
        input[0],
        input[1],
        input[2],
        out[0],
        out[1],
        out[2],
        c.groups,
        w[2],
        w[3],
        c.stride[0],
        c.stride[1],
        c.pads[0],
        c.pads[1],
        c.dilation[0],
        c.dilation[1],
    ]
    .map(|v| v as u32)
}

/// Weights `[C_out, C_in/g, KH, KW]` packed as `[g][K][C_out/g rounded up to 4]`, zero padded.
pub(super) fn pack_forward(c: &Conv2d) -> Vec<f32> {
    let w = &c.weight.shape;
    let (cout, k) = (w[0], w[1] * w[2] * w[3]);
    let mg = cout / c.groups;
    let mg4 = mg.div_ceil(4) * 4;
    let mut packed = vec![0.0; c.groups * k * mg4];
    for g in 0..c.groups {
        for m in 0..mg {
            for kk in 0..k {
                packed[(g * k + kk) * mg4 + m] = c.weight.data[(g * mg + m) * k + kk];
            }
        }
    }
    packed
}

/// Weights packed for the blocked adjoints: `[g][K = C_out/g·KH·KW][C_in/g rounded up to 4]`.
pub(super) fn pack_adjoint(c: &Conv2d) -> Vec<f32> {
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
                    packed[(g * kk + m * khw + r) * cg4 + ch] =
                        c.weight.data[((g * mg + m) * cin_g + ch) * khw + r];
                }
            }
        }
    }
    packed
}

/// One invocation per tile of each channel of each item of `shape` `[C, H, W]` (the output of
/// the depthwise forward kernel, the input of its adjoint).
fn depthwise_launch(batch: usize, shape: &[usize]) -> Launch {
    let tiles = shape[1].div_ceil(DEPTHWISE_TILE[0]) * shape[2].div_ceil(DEPTHWISE_TILE[1]);
    Launch::Flat {
        count: (batch * shape[0] * tiles) as u64,
        size: 64,
    }
}

/// The depthwise kernels' entry point for a depthwise convolution (one input and one output
/// channel per group) whose square kernel size and stride they were generated for, without
/// dilation; `None` for any other convolution (the blocked kernels serve those).
pub(crate) fn depthwise_entry(c: &Conv2d) -> Option<&'static str> {
    let w = &c.weight.shape;
    if w[1] != 1 || w[0] != c.groups || c.dilation != [1, 1] || w[2] != w[3] {
        return None;
    }
    DEPTHWISE_SHAPES
        .iter()
        .find(|&&(k, s, _)| k == w[2] && c.stride == [s, s])
        .map(|&(_, _, entry)| entry)
}

/// Channel quads per lane of the subgroup kernels for `channels` per group (two from 64
/// channels, one from 16), or `None` when so few channels would leave most lanes idle: the
/// `registers` kernels then serve, as fast there on lavapipe.
fn subgroup_quads(channels: usize) -> Option<usize> {
    match channels.div_ceil(4) {
        q if q >= 16 => Some(2),
        q if q >= 4 => Some(1),
        _ => None,
    }
}

/// Channel quads per invocation of the `registers` forward kernel: two unless the layer has only
/// one quad (two halve the input loads per multiply-add).
fn registers_quads(channels: usize) -> usize {
    if channels.div_ceil(4) >= 2 {
        2
    } else {
        1
    }
}

/// Records `out (+)= W'·factor(x) (+ b')`: the forward pass and LRP's z terms.
pub(super) fn forward(c: &Conv2d, p: &mut Program, io: &LinearIo) -> Result<()> {
    if !matches!(io.input, Factor::X | Factor::Positive | Factor::Negative) {
        return Err(Error::Invalid(format!(
            "convolution '{}': the forward pass feeds x, max(x, 0) or min(x, 0), not {:?}",
            io.name, io.input
        )));
    }
    let g = geometry(c, io.batch, io.in_shape, io.out_shape);
    let has_bias = io.bias && c.bias.is_some();
    let params = ConvForwardParams {
        n: g[0],
        cin: g[1],
        h: g[2],
        w: g[3],
        cout: g[4],
        oh: g[5],
        ow: g[6],
        groups: g[7],
        kh: g[8],
        kw: g[9],
        sy: g[10],
        sx: g[11],
        pt: g[12],
        pl: g[13],
        dy: g[14],
        dx: g[15],
        has_bias: has_bias as u32,
        input: io.input.code(),
        accumulate: matches!(io.out, crate::plan::Out::Update(_)) as u32,
        pad0: 0,
    };
    let key = |param| WeightKey {
        node: io.node,
        param,
        modifier: io.weights,
    };
    let bias = if has_bias {
        p.weight(
            key(Param::Bias),
            &format!("{}.bias", io.name),
            c.weight.shape[0],
        )?
    } else {
        p.zero()?
    };
    if winograd::applies(c, p.profile(), KernelFamily::ConvForward) {
        let weight = p.weight(
            key(Param::ConvWinograd),
            &format!("{}.weight (Winograd)", io.name),
            winograd::packed_len(c, false),
        )?;
        let bias = if has_bias { Some(bias) } else { None };
        return winograd::record(
            p,
            &Correlation {
                name: io.name,
                batch: io.batch,
                input: [io.in_shape[0], io.in_shape[1], io.in_shape[2]],
                output: [io.out_shape[0], io.out_shape[1], io.out_shape[2]],
                pads: [c.pads[0], c.pads[1]],
                x: io.x,
                mode: io.input,
                weight,
                epilogue: Epilogue::Forward { bias },
                out: io.out,
                accumulate: params.accumulate != 0,
            },
        );
    }
    let numel = c.groups
        * c.weight.shape[1]
        * c.weight.shape[2]
        * c.weight.shape[3]
        * (c.weight.shape[0] / c.groups).div_ceil(4)
        * 4;
    let w = p.weight(
        key(Param::ConvPacked),
        &format!("{}.weight (packed)", io.name),
        numel,
    )?;
    let bindings = binds(
        &[io.x],
        &[Resource::Const(w), Resource::Const(bias)],
        io.out.tensor(),
    );
    let mg = io.out_shape[0] / c.groups;
    let npix = io.out_shape[1] * io.out_shape[2];
    if let Some(entry) = depthwise_entry(c) {
        let launch = depthwise_launch(io.batch, io.out_shape);
        return p.pass(&DEPTHWISE, entry, &params, bindings, io.out, launch);
    }
    let quads = subgroup_quads(mg);
    match (p.profile().kernels.conv_forward.flavor, quads) {
        (KernelFlavor::Tiled, _) => {
            let launch = Launch::Grid([
                npix.div_ceil(64) as u32,
                mg.div_ceil(64) as u32,
                (io.batch * c.groups) as u32,
            ]);
            p.pass(&FORWARD, "tiled", &params, bindings, io.out, launch)
        }
        (KernelFlavor::Subgroup, Some(quads)) => {
            let mblocks = mg.div_ceil(4).div_ceil(8 * quads);
            let groups = io.batch * c.groups * mblocks * npix.div_ceil(SUBGROUP_CONV_PIXELS);
            let launch = Launch::Flat {
                count: (groups * SUBGROUP_LANES as usize) as u64,
                size: SUBGROUP_LANES,
            };
            let constants = [("QUADS", quads as f64)];
            p.pass_specialised(
                &FORWARD_SUBGROUP,
                "subgroup",
                &constants,
                &params,
                bindings,
                io.out,
                launch,
            )
        }
        (KernelFlavor::Registers | KernelFlavor::Subgroup, _) => {
            let quads = registers_quads(mg);
            let blocks = io.out_shape[1] * io.out_shape[2].div_ceil(4);
            let launch = Launch::Grid([
                blocks.div_ceil(64) as u32,
                mg.div_ceil(4).div_ceil(quads) as u32,
                (io.batch * c.groups) as u32,
            ]);
            let constants = [("QUADS", quads as f64)];
            p.pass_specialised(
                &FORWARD,
                "registers",
                &constants,
                &params,
                bindings,
                io.out,
                launch,
            )
        }
    }
}

/// Which adjoint kernel serves a convolution on a device.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Variant {
    /// One input value per invocation, plain weight layout: real GPUs (`tiled` flavor).
    Plain,
    /// 4 pixels × 4 input channels per invocation: CPU adapters, and `subgroup` ones when a
    /// layer has fewer than 16 input channels per group.
    Registers,
    /// 32 pixels × 32·quads input channels per 8-lane subgroup.
    Subgroup { quads: usize },
    /// A tile of one channel of a depthwise convolution per invocation (every flavor).
    Depthwise { entry: &'static str },
}

fn variant(flavor: KernelFlavor, c: &Conv2d) -> Variant {
    if let Some(entry) = depthwise_entry(c) {
        return Variant::Depthwise { entry };
    }
    match (flavor, subgroup_quads(c.weight.shape[1])) {
        (KernelFlavor::Tiled, _) => Variant::Plain,
        (KernelFlavor::Subgroup, Some(quads)) => Variant::Subgroup { quads },
        (KernelFlavor::Subgroup | KernelFlavor::Registers, _) => Variant::Registers,
    }
}

/// Records `dest (+)= coef · factor(x) · W'ᵀ g` (the mode does not matter: the layer is linear).
pub(super) fn vjp(c: &Conv2d, p: &mut Program, io: &VjpIo) -> Result<()> {
    let (input, output) = (io.in_shapes[0], io.out_shape);
    let g = geometry(c, io.batch, input, output);
    let dest = io.dests[0];
    let params = ConvVjpParams {
        n: g[0],
        cin: g[1],
        h: g[2],
        w: g[3],
        cout: g[4],
        oh: g[5],
        ow: g[6],
        groups: g[7],
        kh: g[8],
        kw: g[9],
        sy: g[10],
        sx: g[11],
        pt: g[12],
        pl: g[13],
        dy: g[14],
        dx: g[15],
        factor: io.factor.code(),
        accumulate: dest.accumulate as u32,
        coef: io.coef,
        pad0: 0,
    };
    if winograd::applies(c, p.profile(), KernelFamily::ConvAdjoint) {
        let key = WeightKey {
            node: io.node,
            param: Param::ConvAdjointWinograd,
            modifier: io.weights,
        };
        let weight = p.weight(
            key,
            &format!("{}.weight (adjoint Winograd)", io.name),
            winograd::packed_len(c, true),
        )?;
        return winograd::record(
            p,
            &Correlation {
                name: io.name,
                batch: io.batch,
                input: [output[0], output[1], output[2]],
                output: [input[0], input[1], input[2]],
                pads: [2 - c.pads[0], 2 - c.pads[1]],
                x: io.g,
                mode: crate::layers::Factor::X,
                weight,
                epilogue: Epilogue::Adjoint {
                    x: io.xs[0],
                    factor: io.factor,
                    channel_values: io.channel_values,
                    coef: io.coef,
                },
                out: dest.out(),
                accumulate: dest.accumulate,
            },
        );
    }
    let v = variant(p.profile().kernels.conv_adjoint.flavor, c);
    let ws = &c.weight.shape;
    let (param, numel) = match v {
        Variant::Plain => (Param::Weight, c.weight.data.len()),
        _ => (
            Param::ConvAdjointPacked,
            c.groups * (ws[0] / c.groups) * ws[2] * ws[3] * ws[1].div_ceil(4) * 4,
        ),
    };
    let key = WeightKey {
        node: io.node,
        param,
        modifier: io.weights,
    };
    let w = p.weight(key, &format!("{}.weight ({param:?})", io.name), numel)?;
    let cv = match io.channel_values {
        Some(c) => c,
        None => p.zero()?,
    };
    let bindings = binds(
        &[io.g],
        &[
            Resource::Const(w),
            Resource::Tensor(io.xs[0]),
            Resource::Const(cv),
        ],
        dest.tensor,
    );
    let npix = input[1] * input[2];
    let cg4 = ws[1].div_ceil(4);
    match v {
        Variant::Subgroup { quads } => {
            let cblocks = cg4.div_ceil(8 * quads);
            let groups = io.batch * c.groups * cblocks * npix.div_ceil(SUBGROUP_VJP_PIXELS);
            let launch = Launch::Flat {
                count: (groups * SUBGROUP_LANES as usize) as u64,
                size: SUBGROUP_LANES,
            };
            let constants = [
                ("QUADS", quads as f64),
                ("UNIT_STRIDE", (c.stride == [1, 1]) as u8 as f64),
            ];
            p.pass_specialised(
                &VJP_SUBGROUP,
                "subgroup",
                &constants,
                &params,
                bindings,
                dest.out(),
                launch,
            )
        }
        Variant::Registers => {
            let launch = Launch::Flat {
                count: (io.batch * c.groups * cg4 * npix.div_ceil(4)) as u64,
                size: 64,
            };
            p.pass(
                &VJP_REGISTERS,
                "registers",
                &params,
                bindings,
                dest.out(),
                launch,
            )
        }
        Variant::Depthwise { entry } => {
            let launch = depthwise_launch(io.batch, input);
            p.pass(&DEPTHWISE_VJP, entry, &params, bindings, dest.out(), launch)
        }
        Variant::Plain => {
            let launch = Launch::Flat {
                count: (io.batch * input[0] * npix) as u64,
                size: 64,
            };
            p.pass(&VJP, "main", &params, bindings, dest.out(), launch)
        }
    }
}
