//! Recording transposed convolutions: the forward pass (and LRP's modified z passes, which
//! share it) gathers per output value; the adjoint is a convolution per input value. Both read
//! the weight in its ONNX layout `[C_in, C_out/g, KH, KW]` from the weight store and share the
//! convolution's parameter structs (`cin, h, w` the layer's input, `cout, oh, ow` its output).

use super::ConvTranspose2d;
use crate::error::{Error, Result};
use crate::layers::conv2d::{ConvForwardParams, ConvVjpParams};
use crate::layers::{Factor, LinearIo, VjpIo};
use crate::plan::{binds, Launch, Param, Program, Resource, WeightKey, WgslEnum};

crate::kernel!(pub(crate) FORWARD: ConvForwardParams = "layers/conv_transpose/forward");
crate::kernel!(pub(crate) VJP: ConvVjpParams = "layers/conv_transpose/vjp");

/// The geometry words both parameter structs start with.
fn geometry(c: &ConvTranspose2d, batch: usize, input: &[usize], out: &[usize]) -> [u32; 16] {
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

/// The weight in the store's plain layout, modified as the pass asks.
fn weight(
    c: &ConvTranspose2d,
    p: &mut Program,
    node: usize,
    name: &str,
    m: crate::plan::WeightMod,
) -> Result<crate::plan::ConstId> {
    let key = WeightKey {
        node,
        param: Param::Weight,
        modifier: m,
    };
    p.weight(key, &format!("{name}.weight"), c.weight.data.len())
}

/// Records `out (+)= W'·factor(x) (+ b')`: the forward pass and LRP's z terms.
pub(super) fn forward(c: &ConvTranspose2d, p: &mut Program, io: &LinearIo) -> Result<()> {
    if !matches!(io.input, Factor::X | Factor::Positive | Factor::Negative) {
        return Err(Error::Invalid(format!(
            "transposed convolution '{}': the forward pass feeds x, max(x, 0) or min(x, 0), not {:?}",
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
    let w = weight(c, p, io.node, io.name, io.weights)?;
    let bias = if has_bias {
        let key = WeightKey {
            node: io.node,
            param: Param::Bias,
            modifier: io.weights,
        };
        p.weight(key, &format!("{}.bias", io.name), io.out_shape[0])?
    } else {
        p.zero()?
    };
    let bindings = binds(
        &[io.x],
        &[Resource::Const(w), Resource::Const(bias)],
        io.out.tensor(),
    );
    let launch = Launch::Flat {
        count: (io.batch * io.out_shape.iter().product::<usize>()) as u64,
        size: 64,
    };
    p.pass(&FORWARD, "main", &params, bindings, io.out, launch)
}

/// Records `dest (+)= coef · factor(x) · W'ᵀ g` (the mode does not matter: the layer is linear).
pub(super) fn vjp(c: &ConvTranspose2d, p: &mut Program, io: &VjpIo) -> Result<()> {
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
    let w = weight(c, p, io.node, io.name, io.weights)?;
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
    let launch = Launch::Flat {
        count: (io.batch * input.iter().product::<usize>()) as u64,
        size: 64,
    };
    p.pass(&VJP, "main", &params, bindings, dest.out(), launch)
}
