//! Recording pooling: forward passes, and the VJPs of `shaders/layers/pool/vjp.wgsl`.

use super::Pool2d;
use crate::error::{Error, Result};
use crate::layers::{Factor, ForwardIo, GradMode, VjpIo};
use crate::plan::{binds, Launch, Out, Program, Resource, TensorId, WgslEnum};

crate::params! {
    /// Pooling geometry: planes (items × channels), input and output sizes, window, stride, pads.
    pub struct PoolParams {
        pub planes: u32, pub h: u32, pub w: u32, pub oh: u32,
        pub ow: u32, pub kh: u32, pub kw: u32, pub sy: u32,
        pub sx: u32, pub pt: u32, pub pl: u32, pub pb: u32,
        pub pr: u32, pub count_include_pad: u32, pub pad0: u32, pub pad1: u32,
    }
}

crate::params! {
    /// The geometry of [`PoolParams`] and the epilogue `out (+)= coef · factor(x) · …`.
    pub struct PoolVjpParams {
        pub planes: u32, pub h: u32, pub w: u32, pub oh: u32,
        pub ow: u32, pub kh: u32, pub kw: u32, pub sy: u32,
        pub sx: u32, pub pt: u32, pub pl: u32, pub pb: u32,
        pub pr: u32, pub count_include_pad: u32, pub factor: u32, pub accumulate: u32,
        pub coef: f32, pub pad0: u32, pub pad1: u32, pub pad2: u32,
    }
}

crate::params! {
    /// Planes and values per plane.
    pub struct GlobalPoolParams { pub planes: u32, pub hw: u32, pub pad0: u32, pub pad1: u32 }
}

crate::kernel!(pub(crate) FORWARD: PoolParams = "layers/pool/forward");
crate::kernel!(pub(crate) GLOBAL_FORWARD: GlobalPoolParams = "layers/pool/global_forward");
crate::kernel!(pub(crate) VJP: PoolVjpParams = "layers/pool/vjp");

fn geometry(pool: &Pool2d, batch: usize, input: &[usize], out: &[usize]) -> [u32; 14] {
    [
        batch * input[0],
        input[1],
        input[2],
        out[1],
        out[2],
        pool.kernel[0],
        pool.kernel[1],
        pool.stride[0],
        pool.stride[1],
        pool.pads[0],
        pool.pads[1],
        pool.pads[2],
        pool.pads[3],
        pool.count_include_pad as usize,
    ]
    .map(|v| v as u32)
}

/// Records max or average pooling (`entry` `max_pool` or `avg_pool`).
pub(super) fn forward(
    pool: &Pool2d,
    entry: &'static str,
    p: &mut Program,
    io: &ForwardIo,
) -> Result<TensorId> {
    let count = io.batch * io.out_shape.iter().product::<usize>();
    let y = p.tensor(io.name, count)?;
    let g = geometry(pool, io.batch, io.in_shapes[0], io.out_shape);
    let params = PoolParams {
        planes: g[0],
        h: g[1],
        w: g[2],
        oh: g[3],
        ow: g[4],
        kh: g[5],
        kw: g[6],
        sy: g[7],
        sx: g[8],
        pt: g[9],
        pl: g[10],
        pb: g[11],
        pr: g[12],
        count_include_pad: g[13],
        pad0: 0,
        pad1: 0,
    };
    let launch = Launch::Flat {
        count: count as u64,
        size: 256,
    };
    p.pass(
        &FORWARD,
        entry,
        &params,
        binds(&[io.xs[0]], &[], y),
        Out::Write(y),
        launch,
    )?;
    Ok(y)
}

/// Records global average pooling: one invocation per plane.
pub(super) fn global_forward(p: &mut Program, io: &ForwardIo) -> Result<TensorId> {
    let s = io.in_shapes[0];
    let y = p.tensor(io.name, io.batch * s[0])?;
    let params = GlobalPoolParams {
        planes: (io.batch * s[0]) as u32,
        hw: (s[1] * s[2]) as u32,
        ..GlobalPoolParams::default()
    };
    let launch = Launch::Flat {
        count: (io.batch * s[0]) as u64,
        size: 64,
    };
    p.pass(
        &GLOBAL_FORWARD,
        "main",
        &params,
        binds(&[io.xs[0]], &[], y),
        Out::Write(y),
        launch,
    )?;
    Ok(y)
}

/// One pass of the VJP kernel's `entry`; `y` is bound for the entries that compare with the
/// pooled values.
fn vjp_pass(
    pool: &Pool2d,
    p: &mut Program,
    io: &VjpIo,
    entry: &'static str,
    y: Option<TensorId>,
) -> Result<()> {
    let (input, output) = (io.in_shapes[0], io.out_shape);
    let g = geometry(pool, io.batch, input, output);
    let dest = io.dests[0];
    let params = PoolVjpParams {
        planes: g[0],
        h: g[1],
        w: g[2],
        oh: g[3],
        ow: g[4],
        kh: g[5],
        kw: g[6],
        sy: g[7],
        sx: g[8],
        pt: g[9],
        pl: g[10],
        pb: g[11],
        pr: g[12],
        count_include_pad: g[13],
        factor: io.factor.code(),
        accumulate: dest.accumulate as u32,
        coef: io.coef,
        pad0: 0,
        pad1: 0,
        pad2: 0,
    };
    let mut bindings = vec![
        (1, Resource::Tensor(io.g)),
        (2, Resource::Tensor(io.xs[0])),
        (4, Resource::Tensor(dest.tensor)),
    ];
    if let Some(y) = y {
        bindings.push((3, Resource::Tensor(y)));
    }
    // Max-pool windows that tile the input exactly: one invocation per window, which loads
    // the window once instead of once per input (a third of the loads).
    let tiles = entry == "max_pool"
        && pool.stride == pool.kernel
        && pool.pads == [0; 4]
        && input[1] == output[1] * pool.kernel[0]
        && input[2] == output[2] * pool.kernel[1];
    let (entry, count, size) = if tiles {
        (
            "max_pool_tiling",
            io.batch * output.iter().product::<usize>(),
            64,
        )
    } else {
        (entry, io.batch * input.iter().product::<usize>(), 256)
    };
    let launch = Launch::Flat {
        count: count as u64,
        size,
    };
    p.pass(&VJP, entry, &params, bindings, dest.out(), launch)
}

/// The VJP of average pooling (any mode: the layer is linear).
pub(super) fn avg_vjp(pool: &Pool2d, p: &mut Program, io: &VjpIo) -> Result<()> {
    if matches!(io.factor, Factor::Channel | Factor::XTimesChannel) {
        return Err(Error::Invalid(format!(
            "average pool '{}' takes no per-channel factor",
            io.name
        )));
    }
    vjp_pass(pool, p, io, "avg_pool", None)
}

/// The VJP of max pooling: the first maximum (gradient), ties split (winner-take-all), or
/// Captum's DeepLIFT multiplier (rescale).
pub(super) fn max_vjp(pool: &Pool2d, p: &mut Program, io: &VjpIo) -> Result<()> {
    if io.factor != Factor::One {
        return Err(Error::Invalid(format!(
            "max pool '{}' routes what flows back to its maxima; it takes no factor",
            io.name
        )));
    }
    match io.mode {
        GradMode::SplitTies => vjp_pass(pool, p, io, "max_pool", Some(io.y)),
        GradMode::Rescale => vjp_pass(pool, p, io, "max_pool_deeplift", Some(io.y)),
        GradMode::Gradient
        | GradMode::Deconvnet
        | GradMode::GuidedBackprop
        | GradMode::Redirected
        | GradMode::ConstantStatistics => vjp_pass(pool, p, io, "max_pool_gradient", None),
    }
}
