//! The one backward recorder. Every backward method — LRP's rules and the gradient family's
//! modes alike — is a policy: a [`NodeRule`] per node, saying how what flows back crosses it,
//! in Zennit's view that every rule is a modified gradient times a modified input. The GPU
//! recorder (`record.rs`) and the f64 reference (`reference.rs`) read the same rules.

mod floor;
mod flow;
mod kernels;
mod linear;
mod record;
mod reference;

pub use floor::lrp_floor;
pub(crate) use flow::Flow;
pub use kernels::{DivideParams, ItemSumsParams, Mask, SeedParams, ZConst};
pub(crate) use kernels::{DIVIDE, ITEM_SUMS, SEED};
pub use record::{record_backward, BackwardSpec, BackwardTensors};
pub use reference::{
    reference_backward, reference_backward_joined, reference_backward_masked, stabilize,
};

use super::rules::Rule;
pub use crate::layers::GradMode;
use crate::layers::LayerClass;
use crate::model::Graph;

/// How what flows back crosses one node: resolved per node from a method (a gradient mode, or
/// an LRP composite).
#[derive(Clone, Debug, PartialEq)]
pub enum NodeRule {
    /// The node's vector–Jacobian product in a mode (non-linear kinds honour it, linear ones
    /// ignore it): what the gradient family uses everywhere, and LRP where a layer's rule is
    /// its gradient (reshapes and concatenations, max pooling as Zennit leaves it).
    Vjp(GradMode),
    /// What arrives at the output leaves at every input unchanged (LRP's identity rule for
    /// activations and normalisation, Zennit's `Pass`).
    Pass,
    /// `x ⊙ VJP(R / stab(y))`: each input's share of the output (Zennit's `Norm` for sums and
    /// average pools with ε its stabiliser; the ε rule given on such a node).
    Proportional {
        /// The stabiliser ε of `stab(y) = y + ε·sign(y)`.
        epsilon: f32,
        /// The VJP's mode: the gradient, or with LayerNorm's σ held constant (its identity rule).
        mode: GradMode,
    },
    /// An LRP rule on a linear layer: its recipe of modified inputs and weights.
    Linear(LinearRule),
    /// A product of two activations: what arrives goes to every input but the gate (held
    /// constant, CP-LRP), or half to each with no gate (the uniform rule). An element-wise
    /// product splits it exactly, summed over the dimensions an input is broadcast along; a
    /// matrix product by the ε-rule, `x ⊙ VJP(R / stab(y))`.
    Product {
        /// The input held constant.
        gate: Option<usize>,
        /// The stabiliser of a matrix product's ε-rule.
        epsilon: f32,
    },
    /// Nothing may flow here: the message says why when something does (a gate rule on a
    /// product with no input it can hold constant, which only matters if relevance reaches it).
    Refuse(String),
}

/// An LRP linear-layer rule as one node applies it.
#[derive(Clone, Debug, PartialEq)]
pub struct LinearRule {
    /// The rule.
    pub rule: Rule,
    /// The stabiliser of the rules that use one only to avoid dividing by zero.
    pub stabilizer: f32,
    /// Drop the bias from every term (relevance is then conserved).
    pub ignore_bias: bool,
}

/// What the backward pass starts from at the explained node.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Seed {
    /// `w ⊙ f(x)`: relevance (LRP).
    Relevance,
    /// `w`: the gradient of `w · f(x)`.
    Gradient,
    /// A gradient at the start node that earlier passes computed (an objective's, in
    /// activation maximisation); no target tensor is read.
    Tensor(crate::plan::TensorId),
}

/// The gradient family's policy: every node's VJP in `mode`. DeepLIFT's rescale gives a max
/// pool that reads an activation the plain gradient, as Captum does (its hook on the activation
/// captures the pool's unmodified input gradient first).
pub fn gradient_rules(graph: &Graph, mode: GradMode) -> Vec<NodeRule> {
    graph
        .nodes
        .iter()
        .map(|n| {
            let class = n.op.layer().class();
            let after_activation = n
                .inputs
                .first()
                .is_some_and(|&i| graph.nodes[i].op.layer().class() == LayerClass::Activation);
            if mode == GradMode::Rescale && class == LayerClass::MaxPool && after_activation {
                NodeRule::Vjp(GradMode::Gradient)
            } else {
                NodeRule::Vjp(mode)
            }
        })
        .collect()
}
