//! The adjoint (transpose) passes of linear layers, shared by every backward method: gradients
//! store the plain `Wᵀȳ`, LRP stores `coef · x' ⊙ Wᵀs`. Weights are uploaded once per plan in
//! the layouts the passes need.

use super::builder::{ConstId, Launch, PlanBuilder, Resource, TensorId};
use super::forward::{
    binds, conv_forward_pass, conv_params, dense_adjoint_pass, pack_conv_weight, upload_dense,
    DenseWeights, LinearPass,
};
use crate::error::Result;
use crate::layers::{Conv2d, Dense};
use crate::model::Tensor;

/// A convolution's or dense layer's weights as uploaded for forward and adjoint passes.
#[derive(Clone)]
pub(crate) enum LinearWeights {
    /// Packed for the forward kernel; the adjoint as flipped packed weights (stride 1) or in the
    /// plain layout for the gather kernel.
    Conv {
        forward: ConstId,
        bias: ConstId,
        adjoint: ConvAdjoint,
    },
    /// Row blocks that each fit a binding.
    Dense(DenseWeights),
}

/// How a convolution's adjoint runs.
#[derive(Clone, Copy)]
pub(crate) enum ConvAdjoint {
    /// Stride 1: as a convolution with flipped weights, on the fast forward kernels.
    Flipped(ConstId),
    /// Otherwise: the gather kernel, with weights in their plain layout.
    Gather(ConstId),
}

impl LinearWeights {
    /// Uploads a convolution's weights and bias.
    pub fn conv(b: &mut PlanBuilder, name: &str, c: &Conv2d) -> Result<Self> {
        let forward = b.constant(&format!("{name}.weight (packed)"), &pack_conv_weight(c))?;
        let adjoint = match adjoint_as_conv(c) {
            Some(t) => ConvAdjoint::Flipped(
                b.constant(&format!("{name}.weight (flipped)"), &pack_conv_weight(&t))?,
            ),
            None => ConvAdjoint::Gather(b.constant(&format!("{name}.weight"), &c.weight.data)?),
        };
        let bias = b.constant(&format!("{name}.bias"), c.bias.as_deref().unwrap_or(&[]))?;
        Ok(LinearWeights::Conv {
            forward,
            bias,
            adjoint,
        })
    }

    /// Uploads a dense layer's weights and bias.
    pub fn dense(b: &mut PlanBuilder, name: &str, d: &Dense) -> Result<Self> {
        Ok(LinearWeights::Dense(upload_dense(
            b,
            name,
            &d.weight,
            d.bias.as_deref(),
        )?))
    }
}

/// What an adjoint pass reads and writes: `out (+)= coef · factor(x) · Wᵀ ybar`.
pub(crate) struct AdjointIo<'a> {
    pub batch: usize,
    /// Per-item shapes of the layer's input and output.
    pub input: &'a [usize],
    pub output: &'a [usize],
    pub ybar: TensorId,
    pub x: TensorId,
    /// Per-channel constants for factor mode 4 (zᴮ bounds); any constant otherwise.
    pub channel_values: ConstId,
    /// Any constant: the flipped convolution has no bias, but its kernel binds one.
    pub zero: ConstId,
    pub out: TensorId,
    /// Input factor mode (see `shaders/prelude.wgsl`); 0 for the plain adjoint.
    pub mode: u32,
    pub accumulate: bool,
    pub coef: f32,
}

/// Records the adjoint of a convolution.
pub(crate) fn conv_adjoint(
    b: &mut PlanBuilder,
    name: &str,
    c: &Conv2d,
    w: &LinearWeights,
    io: &AdjointIo,
) -> Result<()> {
    let LinearWeights::Conv { adjoint, .. } = w else {
        unreachable!("convolution weights")
    };
    let in_numel = io.batch * io.input.iter().product::<usize>();
    match *adjoint {
        // The adjoint as a convolution into a temporary, then out (+)= coef · factor(x) ⊙ c.
        ConvAdjoint::Flipped(flipped) => {
            let t = adjoint_as_conv(c).expect("flipped weights exist only when it does");
            let ct = b.tensor(&format!("adjoint[{name}]"), in_numel)?;
            let lin = LinearPass {
                batch: io.batch,
                input: io.output,
                output: io.input,
                has_bias: false,
                input_mode: 0,
                accumulate: false,
            };
            conv_forward_pass(b, &t, &lin, flipped, io.zero, io.ybar, ct);
            let inner = io.input[1..].iter().product::<usize>();
            mac_pass(
                b,
                io.x,
                ct,
                io.channel_values,
                io.out,
                in_numel,
                io.input[0],
                inner,
                io.mode,
                io.accumulate,
                io.coef,
            );
        }
        ConvAdjoint::Gather(weight) => {
            let mut p = conv_params(c, io.batch, io.input, io.output);
            p.truncate(16);
            p.extend([io.mode, io.accumulate as u32, io.coef.to_bits(), 0]);
            let consts = [
                Resource::Const(weight),
                Resource::Tensor(io.x),
                Resource::Const(io.channel_values),
            ];
            let launch = Launch::Flat {
                count: in_numel as u64,
                size: 64,
            };
            b.pass(
                "layers/conv2d_transpose",
                "main",
                binds(p, &[io.ybar], &consts, io.out),
                &[io.out],
                launch,
            );
        }
    }
    Ok(())
}

/// Records the adjoint of a dense layer.
pub(crate) fn dense_adjoint(b: &mut PlanBuilder, d: &Dense, w: &LinearWeights, io: &AdjointIo) {
    let LinearWeights::Dense(dw) = w else {
        unreachable!("dense weights")
    };
    dense_adjoint_pass(
        b,
        d,
        io.batch,
        dw,
        io.ybar,
        io.x,
        io.channel_values,
        io.out,
        io.mode,
        io.accumulate,
        io.coef,
    );
}

/// `out (+)= coef · factor(x) · s` element-wise (`relevance/multiply_accumulate.wgsl`).
#[allow(clippy::too_many_arguments)]
pub(crate) fn mac_pass(
    b: &mut PlanBuilder,
    x: TensorId,
    s: TensorId,
    channel_values: ConstId,
    out: TensorId,
    count: usize,
    channels: usize,
    inner: usize,
    mode: u32,
    accumulate: bool,
    coef: f32,
) {
    let p = vec![
        count as u32,
        channels as u32,
        inner as u32,
        mode,
        accumulate as u32,
        coef.to_bits(),
    ];
    let launch = Launch::Flat {
        count: count as u64,
        size: 256,
    };
    b.pass(
        "relevance/multiply_accumulate",
        "main",
        binds(p, &[x, s], &[Resource::Const(channel_values)], out),
        &[out],
        launch,
    );
}

/// The adjoint of a stride-1 convolution as a convolution: channels swapped within each group,
/// kernel flipped, padding `d·(k−1) − p`. `None` when the stride is not 1 or the padding
/// exceeds `d·(k−1)`.
pub(crate) fn adjoint_as_conv(c: &Conv2d) -> Option<Conv2d> {
    let w = &c.weight.shape;
    let (cout, cin_g, kh, kw) = (w[0], w[1], w[2], w[3]);
    if c.stride != [1, 1] {
        return None;
    }
    let span = [c.dilation[0] * (kh - 1), c.dilation[1] * (kw - 1)];
    let pads = [
        span[0].checked_sub(c.pads[0])?,
        span[1].checked_sub(c.pads[1])?,
        span[0].checked_sub(c.pads[2])?,
        span[1].checked_sub(c.pads[3])?,
    ];
    let mg = cout / c.groups;
    let mut data = vec![0.0; w.iter().product()];
    for g in 0..c.groups {
        for ci in 0..cin_g {
            for m in 0..mg {
                for u in 0..kh {
                    for v in 0..kw {
                        let from =
                            (((g * mg + m) * cin_g + ci) * kh + (kh - 1 - u)) * kw + (kw - 1 - v);
                        data[(((g * cin_g + ci) * mg + m) * kh + u) * kw + v] = c.weight.data[from];
                    }
                }
            }
        }
    }
    Some(Conv2d {
        weight: Tensor {
            shape: vec![cin_g * c.groups, mg, kh, kw],
            data,
        },
        bias: None,
        stride: [1, 1],
        pads,
        dilation: c.dilation,
        groups: c.groups,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// ⟨W x, y⟩ = ⟨x, Wᵀ y⟩ with Wᵀ run as the flipped convolution, in f64.
    #[test]
    fn the_flipped_convolution_is_the_adjoint() {
        let mut v = 0.37f32;
        let mut next = || {
            v = (v * 7.13 + 0.29).fract();
            v - 0.5
        };
        let c = Conv2d {
            weight: Tensor {
                shape: vec![6, 2, 3, 2],
                data: (0..72).map(|_| next()).collect(),
            },
            bias: None,
            stride: [1, 1],
            pads: [2, 1, 0, 1],
            dilation: [2, 1],
            groups: 2,
        };
        let input = [4, 7, 6];
        let out = c.output_shape(&input).unwrap();
        let x = Tensor {
            shape: vec![1, 4, 7, 6],
            data: (0..168).map(|_| next() as f64).collect(),
        };
        let n_out: usize = out.iter().product();
        let y = Tensor {
            shape: vec![1, out[0], out[1], out[2]],
            data: (0..n_out).map(|_| next() as f64).collect(),
        };
        let t = adjoint_as_conv(&c).unwrap();
        let xt = t.reference(&y);
        assert_eq!(xt.shape, x.shape);
        let want = c.reference_transpose(&y, &input);
        for (a, b) in xt.data.iter().zip(&want.data) {
            assert!((a - b).abs() < 1e-12, "{a} vs {b}");
        }
        let strided = Conv2d {
            stride: [2, 1],
            ..c
        };
        assert!(adjoint_as_conv(&strided).is_none());
    }
}
