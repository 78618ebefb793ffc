//! What a layer's recording and reference functions are given.

use super::{Factor, GradMode};
use crate::model::{NodeId, Tensor};
use crate::plan::{ConstId, Out, TensorId, WeightMod};

/// A node's forward pass as recorded.
#[derive(Clone, Copy, Debug)]
pub struct ForwardIo<'a> {
    /// The node.
    pub node: NodeId,
    /// Its name (tensor names derive from it).
    pub name: &'a str,
    /// Items per submission.
    pub batch: usize,
    /// The tensors of its inputs.
    pub xs: &'a [TensorId],
    /// Per-item shapes of its inputs.
    pub in_shapes: &'a [&'a [usize]],
    /// Its per-item output shape.
    pub out_shape: &'a [usize],
}

/// Where a backward pass stores one input's share, and whether it adds to what is there.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Dest {
    /// The tensor receiving what flows back to the input.
    pub tensor: TensorId,
    /// Add to it (a later writer) instead of overwriting it (its first).
    pub accumulate: bool,
}

impl Dest {
    /// The pass output this destination means.
    pub fn out(self) -> Out {
        Out::to(self.tensor, self.accumulate)
    }
}

/// A node's vector–Jacobian product as recorded: `dests[i] (+)= coef · factor(x_i) · VJP_i(g)`.
#[derive(Clone, Copy, Debug)]
pub struct VjpIo<'a> {
    /// The node.
    pub node: NodeId,
    /// Its name.
    pub name: &'a str,
    /// Items whose gradients flow (the forward tensors hold twice as many for
    /// [`GradMode::Rescale`]: the references follow).
    pub batch: usize,
    /// The forward values of its inputs.
    pub xs: &'a [TensorId],
    /// Its forward value.
    pub y: TensorId,
    /// Per-item shapes of its inputs.
    pub in_shapes: &'a [&'a [usize]],
    /// Its per-item output shape.
    pub out_shape: &'a [usize],
    /// What flows back to its output.
    pub g: TensorId,
    /// One destination per input.
    pub dests: &'a [Dest],
    /// How non-linearities treat `g`.
    pub mode: GradMode,
    /// The weights a linear layer's adjoint uses (`Plain` for the gradient).
    pub weights: WeightMod,
    /// The factor of the result.
    pub factor: Factor,
    /// The per-channel constants of [`Factor::Channel`] and [`Factor::XTimesChannel`].
    pub channel_values: Option<ConstId>,
    /// The multiplier of the result.
    pub coef: f32,
}

/// A linear layer's modified forward pass as recorded: `out (+)= W'·factor(x) (+ b')`.
#[derive(Clone, Copy, Debug)]
pub struct LinearIo<'a> {
    /// The node.
    pub node: NodeId,
    /// Its name.
    pub name: &'a str,
    /// Items per submission.
    pub batch: usize,
    /// Its input's tensor.
    pub x: TensorId,
    /// Per-item input shape.
    pub in_shape: &'a [usize],
    /// Per-item output shape.
    pub out_shape: &'a [usize],
    /// The output, overwritten or added to.
    pub out: Out,
    /// `X`, `Positive` or `Negative`.
    pub input: Factor,
    /// The weight (and bias) modification.
    pub weights: WeightMod,
    /// Whether the (modified) bias is added.
    pub bias: bool,
}

/// A node's vector–Jacobian product in f64.
#[derive(Clone, Copy, Debug)]
pub struct RefVjp<'a> {
    /// Its inputs' values.
    pub xs: &'a [&'a Tensor<f64>],
    /// Its value.
    pub y: &'a Tensor<f64>,
    /// What flows back to its output.
    pub g: &'a Tensor<f64>,
    /// How non-linearities treat `g`.
    pub mode: GradMode,
    /// The weights a linear layer's adjoint uses.
    pub weights: WeightMod,
    /// For [`GradMode::Rescale`]: the inputs' and the node's values at the reference.
    pub reference: Option<(&'a [&'a Tensor<f64>], &'a Tensor<f64>)>,
}
