//! Records the forward pass of a graph into a plan: one or two passes per node; reshapes alias.

use super::builder::{ConstId, Launch, PlanBuilder, Resource, TensorId};
pub(crate) use super::dense::dense_forward_pass;
use crate::error::Result;
use crate::gpu::{KernelFlavor, SUBGROUP_LANES};
use crate::layers::{Conv2d, Pool2d};
use crate::model::{Graph, Op};

/// Records the forward pass for `batch` items; returns the tensor holding each node's value.
pub fn record_forward(b: &mut PlanBuilder, graph: &Graph, batch: usize) -> Result<Vec<TensorId>> {
    let mut values: Vec<TensorId> = Vec::with_capacity(graph.nodes.len());
    for node in &graph.nodes {
        let numel = batch * node.shape.iter().product::<usize>();
        if matches!(node.op, Op::Reshape) {
            values.push(values[node.inputs[0]]);
            continue;
        }
        let y = b.tensor(&node.name, numel)?;
        let xs: Vec<TensorId> = node.inputs.iter().map(|&i| values[i]).collect();
        let in_shape = node
            .inputs
            .first()
            .map(|&i| graph.nodes[i].shape.as_slice());
        let count = numel as u64;
        let flat = |size| Launch::Flat { count, size };
        match &node.op {
            Op::Input | Op::Reshape => {}
            Op::Conv2d(c) => {
                let w = b.constant(&format!("{}.weight", node.name), &pack_conv_weight(c))?;
                let bias = b.constant(
                    &format!("{}.bias", node.name),
                    c.bias.as_deref().unwrap_or(&[]),
                )?;
                let lin = LinearPass {
                    batch,
                    input: in_shape.unwrap_or_default(),
                    output: &node.shape,
                    has_bias: c.bias.is_some(),
                    input_mode: 0,
                    accumulate: false,
                };
                conv_forward_pass(b, c, &lin, w, bias, xs[0], y);
            }
            Op::Dense(d) => {
                let w = b.constant(&format!("{}.weight", node.name), &d.weight.data)?;
                let bias = b.constant(
                    &format!("{}.bias", node.name),
                    d.bias.as_deref().unwrap_or(&[]),
                )?;
                let lin = LinearPass {
                    batch,
                    input: in_shape.unwrap_or_default(),
                    output: &node.shape,
                    has_bias: d.bias.is_some(),
                    input_mode: 0,
                    accumulate: false,
                };
                dense_forward_pass(b, d, &lin, w, bias, xs[0], y);
            }
            Op::BatchNorm(bn) => {
                let affine: Vec<f32> = bn.scale.iter().chain(&bn.shift).cloned().collect();
                let a = b.constant(&format!("{}.affine", node.name), &affine)?;
                let inner = node.shape[1..].iter().product::<usize>();
                let p = vec![numel as u32, bn.scale.len() as u32, inner as u32];
                b.pass(
                    "layers/batch_norm_forward",
                    "main",
                    binds(p, &[xs[0]], &[Resource::Const(a)], y),
                    &[y],
                    flat(256),
                );
            }
            Op::Relu => record_clip(b, 0.0, f32::INFINITY, xs[0], y, numel),
            Op::Clip { min, max } => record_clip(b, *min, *max, xs[0], y, numel),
            Op::MaxPool2d(pool) | Op::AvgPool2d(pool) => {
                let entry = if matches!(node.op, Op::MaxPool2d(_)) {
                    "max_pool"
                } else {
                    "avg_pool"
                };
                let p = pool_params(pool, batch, in_shape.unwrap_or_default(), &node.shape);
                b.pass(
                    "layers/pool_forward",
                    entry,
                    binds(p, &[xs[0]], &[], y),
                    &[y],
                    flat(256),
                );
            }
            Op::GlobalAvgPool => {
                let s = in_shape.unwrap_or_default();
                let p = vec![(batch * s[0]) as u32, (s[1] * s[2]) as u32];
                let launch = Launch::Flat {
                    count: (batch * s[0]) as u64,
                    size: 64,
                };
                b.pass(
                    "layers/global_avg_pool_forward",
                    "main",
                    binds(p, &[xs[0]], &[], y),
                    &[y],
                    launch,
                );
            }
            Op::Add => {
                let p = vec![numel as u32];
                b.pass(
                    "layers/add_forward",
                    "main",
                    binds(p.clone(), &xs[..2], &[], y),
                    &[y],
                    flat(256),
                );
                for &extra in &xs[2..] {
                    let bindings = vec![
                        (0, Resource::Uniform(p.clone())),
                        (1, Resource::Tensor(extra)),
                        (3, Resource::Tensor(y)),
                    ];
                    b.pass(
                        "layers/add_forward",
                        "accumulate",
                        bindings,
                        &[y],
                        flat(256),
                    );
                }
            }
            Op::Concat => {
                let item_out = node.shape.iter().product::<usize>();
                let mut offset = 0;
                for (&x, &i) in xs.iter().zip(&node.inputs) {
                    let item_in = graph.nodes[i].shape.iter().product::<usize>();
                    let p = vec![
                        (batch * item_in) as u32,
                        item_in as u32,
                        item_out as u32,
                        offset as u32,
                    ];
                    let launch = Launch::Flat {
                        count: (batch * item_in) as u64,
                        size: 256,
                    };
                    b.pass(
                        "layers/concat_forward",
                        "main",
                        binds(p, &[x], &[], y),
                        &[y],
                        launch,
                    );
                    offset += item_in;
                }
            }
            Op::Softmax => {
                let f = node.shape.iter().product::<usize>();
                let p = vec![batch as u32, f as u32];
                let launch = Launch::Flat {
                    count: batch as u64,
                    size: 64,
                };
                b.pass(
                    "layers/softmax_forward",
                    "main",
                    binds(p, &[xs[0]], &[], y),
                    &[y],
                    launch,
                );
            }
        }
        values.push(y);
    }
    Ok(values)
}

/// Bindings in the kernels' common order: params, inputs, constants, output.
pub(crate) fn binds(
    params: Vec<u32>,
    inputs: &[TensorId],
    consts: &[Resource],
    out: TensorId,
) -> Vec<(u32, Resource)> {
    let mut v = vec![Resource::Uniform(params)];
    v.extend(inputs.iter().map(|&t| Resource::Tensor(t)));
    v.extend(consts.iter().cloned());
    v.push(Resource::Tensor(out));
    v.into_iter()
        .enumerate()
        .map(|(i, r)| (i as u32, r))
        .collect()
}

fn record_clip(b: &mut PlanBuilder, lo: f32, hi: f32, x: TensorId, y: TensorId, numel: usize) {
    let p = vec![numel as u32, lo.to_bits(), hi.to_bits()];
    b.pass(
        "layers/clip_forward",
        "main",
        binds(p, &[x], &[], y),
        &[y],
        Launch::Flat {
            count: numel as u64,
            size: 256,
        },
    );
}

/// The pooling kernel's parameter words.
pub(crate) fn pool_params(pool: &Pool2d, batch: usize, input: &[usize], out: &[usize]) -> Vec<u32> {
    let v = [
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
    ];
    v.iter().map(|&x| x as u32).collect()
}

/// The convolution kernels' parameter words (forward and transpose share the first 16).
pub(crate) fn conv_params(c: &Conv2d, batch: usize, input: &[usize], out: &[usize]) -> Vec<u32> {
    let w = &c.weight.shape;
    let v = [
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
        c.bias.is_some() as usize,
    ];
    v.iter().map(|&x| x as u32).collect()
}

/// Weights `[C_out, C_in/g, KH, KW]` packed as `[g][K][C_out/g rounded up to 4]`, zero padded.
pub(crate) fn pack_conv_weight(c: &Conv2d) -> Vec<f32> {
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

/// Geometry and modes of one forward pass of a linear layer (dense or conv).
pub(crate) struct LinearPass<'a> {
    pub batch: usize,
    pub input: &'a [usize],
    pub output: &'a [usize],
    pub has_bias: bool,
    /// 0: x, 1: max(x, 0), 2: min(x, 0).
    pub input_mode: u32,
    /// Add to the output instead of overwriting it.
    pub accumulate: bool,
}

/// One convolution pass with an already packed weight (see [`pack_conv_weight`]).
pub(crate) fn conv_forward_pass(
    b: &mut PlanBuilder,
    c: &Conv2d,
    lin: &LinearPass,
    w: ConstId,
    bias: ConstId,
    x: TensorId,
    y: TensorId,
) {
    let mut p = conv_params(c, lin.batch, lin.input, lin.output);
    p[16] = lin.has_bias as u32;
    p.extend([lin.input_mode, lin.accumulate as u32]);
    let mg = lin.output[0] / c.groups;
    let npix = lin.output[1] * lin.output[2];
    let bindings = binds(p, &[x], &[Resource::Const(w), Resource::Const(bias)], y);
    if let Some(entry) = depthwise_entry(c) {
        let launch = depthwise_launch(lin.batch, lin.output);
        b.pass("layers/conv2d_depthwise", entry, bindings, &[y], launch);
        return;
    }
    let quads = subgroup_quads(mg);
    let flavor = match b.gpu().flavor() {
        KernelFlavor::Subgroup if quads.is_none() => KernelFlavor::Registers,
        f => f,
    };
    match flavor {
        KernelFlavor::Registers => {
            let count = lin.batch * c.groups * mg.div_ceil(4) * npix.div_ceil(4);
            let launch = Launch::Flat {
                count: count as u64,
                size: 64,
            };
            b.pass("layers/conv2d_forward", "registers", bindings, &[y], launch);
        }
        KernelFlavor::Tiled => {
            let launch = Launch::Grid([
                npix.div_ceil(64) as u32,
                mg.div_ceil(64) as u32,
                (lin.batch * c.groups) as u32,
            ]);
            b.pass("layers/conv2d_forward", "tiled", bindings, &[y], launch);
        }
        KernelFlavor::Subgroup => {
            let quads = quads.unwrap_or(1);
            let mblocks = mg.div_ceil(4).div_ceil(8 * quads);
            let count = lin.batch * c.groups * mblocks * npix.div_ceil(SUBGROUP_CONV_PIXELS);
            let launch = Launch::Flat {
                count: (count * SUBGROUP_LANES as usize) as u64,
                size: SUBGROUP_LANES,
            };
            b.pass_specialised(
                "layers/conv2d_forward_subgroup",
                "subgroup",
                &[("QUADS", quads as f64)],
                bindings,
                &[y],
                launch,
            );
        }
    }
}

/// Output rows × columns per invocation of the depthwise kernels (scripts/gen_depthwise_kernels.py).
const DEPTHWISE_TILE: [usize; 2] = [4, 4];

/// One invocation per tile of each channel of each item of `shape` `[C, H, W]` (the output of the
/// forward kernel, the input of the adjoint).
pub(crate) fn depthwise_launch(batch: usize, shape: &[usize]) -> Launch {
    let tiles = shape[1].div_ceil(DEPTHWISE_TILE[0]) * shape[2].div_ceil(DEPTHWISE_TILE[1]);
    Launch::Flat {
        count: (batch * shape[0] * tiles) as u64,
        size: 64,
    }
}

/// The entry point of `conv2d_depthwise*.wgsl` for a depthwise convolution (one input and one
/// output channel per group) with a square 3×3 or 5×5 kernel, stride 1 or 2 both ways and no
/// dilation; `None` for any other convolution (the blocked kernels serve those).
pub(crate) fn depthwise_entry(c: &Conv2d) -> Option<&'static str> {
    let w = &c.weight.shape;
    if w[1] != 1 || w[0] != c.groups || c.dilation != [1, 1] || w[2] != w[3] {
        return None;
    }
    match (w[2], c.stride) {
        (3, [1, 1]) => Some("k3s1"),
        (3, [2, 2]) => Some("k3s2"),
        (5, [1, 1]) => Some("k5s1"),
        (5, [2, 2]) => Some("k5s2"),
        _ => None,
    }
}

/// Output pixels per subgroup of the `subgroup` convolution (see scripts/gen_subgroup_kernels.py).
const SUBGROUP_CONV_PIXELS: usize = 32;

/// Channel quads per lane of the `subgroup` convolution for `mg` output channels per group (two
/// from 64 channels, one from 16), or `None` when so few channels would leave most lanes idle:
/// the `registers` kernel then serves, as fast there on lavapipe.
fn subgroup_quads(mg: usize) -> Option<usize> {
    match mg.div_ceil(4) {
        q if q >= 16 => Some(2),
        q if q >= 4 => Some(1),
        _ => None,
    }
}

/// The tensors of a pooling backward pass: what flows back (`s`), the pool's input (`x`), its
/// output (`y`, for the entries that compare with it) and the destination.
pub(crate) struct PoolIo {
    pub s: TensorId,
    pub x: TensorId,
    pub y: Option<TensorId>,
    pub out: TensorId,
}

/// One pass of `shaders/layers/pool_transpose.wgsl`'s `entry` (avg_pool, max_pool,
/// max_pool_gradient, max_pool_deeplift), storing `out (+)= factor(x) · adjoint`; max_pool
/// runs as max_pool_tiling where the windows tile the input.
#[allow(clippy::too_many_arguments)]
pub(crate) fn pool_backward_pass(
    b: &mut PlanBuilder,
    entry: &'static str,
    pool: &Pool2d,
    batch: usize,
    input: &[usize],
    output: &[usize],
    io: PoolIo,
    input_mode: u32,
    accumulate: bool,
) {
    let mut p = pool_params(pool, batch, input, output);
    p.extend([input_mode, accumulate as u32, 1f32.to_bits()]);
    let mut bindings = vec![
        (0, Resource::Uniform(p)),
        (1, Resource::Tensor(io.s)),
        (2, Resource::Tensor(io.x)),
        (4, Resource::Tensor(io.out)),
    ];
    if let Some(y) = io.y {
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
            batch * output.iter().product::<usize>(),
            64,
        )
    } else {
        (entry, batch * input.iter().product::<usize>(), 256)
    };
    let launch = Launch::Flat {
        count: count as u64,
        size,
    };
    b.pass("layers/pool_transpose", entry, bindings, &[io.out], launch);
}
