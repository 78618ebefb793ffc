//! The adjoint (transpose) passes of linear layers, shared by every backward method: gradients
//! store the plain `Wᵀȳ`, LRP stores `coef · x' ⊙ Wᵀs`. Weights are uploaded once per plan in
//! the layouts the passes need.

use super::builder::{ConstId, Launch, PlanBuilder, Resource, TensorId};
use super::conv_transpose::{conv_adjoint_weight, conv_transpose_pass, ConvAdjoint};
use super::dense::{dense_transpose_pass, DenseAdjoint};
use super::forward::{binds, pack_conv_weight};
use crate::error::Result;
use crate::layers::{Conv2d, Dense};

/// A convolution's or dense layer's weights as uploaded for its forward and adjoint passes.
#[derive(Clone, Copy)]
pub(crate) enum LinearWeights {
    /// Packed for the forward kernel, and in the layout the device's adjoint kernel reads.
    Conv {
        forward: ConstId,
        adjoint: ConstId,
        bias: ConstId,
    },
    /// `[out, in]`, bound in row chunks where larger than one binding.
    Dense { weight: ConstId, bias: ConstId },
}

impl LinearWeights {
    /// Uploads a convolution's weights and bias.
    pub fn conv(b: &mut PlanBuilder, name: &str, c: &Conv2d) -> Result<Self> {
        let forward = b.constant(&format!("{name}.weight (packed)"), &pack_conv_weight(c))?;
        let adjoint = b.constant(
            &format!("{name}.weight (adjoint)"),
            &conv_adjoint_weight(b.gpu(), c),
        )?;
        let bias = b.constant(&format!("{name}.bias"), c.bias.as_deref().unwrap_or(&[]))?;
        Ok(LinearWeights::Conv {
            forward,
            adjoint,
            bias,
        })
    }

    /// Uploads a dense layer's weights and bias.
    pub fn dense(b: &mut PlanBuilder, name: &str, d: &Dense) -> Result<Self> {
        let weight = b.constant(&format!("{name}.weight"), &d.weight.data)?;
        let bias = b.constant(&format!("{name}.bias"), d.bias.as_deref().unwrap_or(&[]))?;
        Ok(LinearWeights::Dense { weight, bias })
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
    pub out: TensorId,
    /// Input factor mode (see `shaders/prelude.wgsl`); 0 for the plain adjoint.
    pub mode: u32,
    pub accumulate: bool,
    pub coef: f32,
}

/// Records the adjoint of a convolution, in the variant the device's flavor wants.
pub(crate) fn conv_adjoint(b: &mut PlanBuilder, c: &Conv2d, w: &LinearWeights, io: &AdjointIo) {
    let LinearWeights::Conv { adjoint, .. } = w else {
        unreachable!("convolution weights")
    };
    let adj = ConvAdjoint {
        batch: io.batch,
        input: io.input,
        output: io.output,
        input_mode: io.mode,
        accumulate: io.accumulate,
        coef: io.coef,
    };
    conv_transpose_pass(
        b,
        c,
        &adj,
        io.ybar,
        *adjoint,
        io.x,
        io.channel_values,
        io.out,
    );
}

/// Records the adjoint of a dense layer (one pass per weight chunk).
pub(crate) fn dense_adjoint(b: &mut PlanBuilder, d: &Dense, w: &LinearWeights, io: &AdjointIo) {
    let LinearWeights::Dense { weight, .. } = w else {
        unreachable!("dense weights")
    };
    let adj = DenseAdjoint {
        batch: io.batch,
        input_mode: io.mode,
        accumulate: io.accumulate,
        coef: io.coef,
    };
    dense_transpose_pass(
        b,
        d,
        &adj,
        io.ybar,
        *weight,
        io.x,
        io.channel_values,
        io.out,
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
