//! One module per layer kind, each implementing [`Layer`]: its output shape, its f64 reference
//! forward pass and vector–Jacobian product, GPU forward and VJP recording, how LRP treats it (its
//! [`LayerClass`], and for convolutions and dense layers the [`LinearLayer`] primitives the LRP
//! linear-layer rules are built from), its parameters for the weight store, and its ONNX import
//! entry.
//!
//! Adding a layer kind touches, and only touches:
//! 1. a module `src/layers/<kind>/` with a type implementing [`Layer`] (every backward method is
//!    required: a kind that does not say how gradients cross it does not compile), its kernels
//!    (`Kernel` constants with their `params!` structs) and its `ONNX` entries;
//! 2. its WGSL under `shaders/layers/<kind>/`, and one line per kernel in the registry
//!    (`src/gpu/kernels.rs`);
//! 3. one variant of [`crate::model::Op`] and its arm in `Op::layer`;
//! 4. its `ONNX` list in [`ONNX_OPS`] (the README's operator table is generated from it:
//!    `glimpse ops` prints it, a test holds the README to it).
//!
//! A kind says which [`LayerClass`] it is; a new class (rare) is a variant there, and every
//! `match` on classes (what a composite accepts and gives it, where a CAM may be taken) is
//! exhaustive, so it does not compile until each says what the class means.
//!
//! An element-wise function is not a layer kind: it is one row of
//! `elementwise::table::FUNCTIONS` and two WGSL functions (see that module).

pub mod add;
pub mod batch_norm;
pub mod concat;
pub mod constant;
pub mod conv2d;
pub mod conv_transpose;
pub mod dense;
pub mod elementwise;
pub(crate) mod input;
mod io;
pub mod layer_norm;
pub mod matmul;
mod modes;
pub mod mul;
pub mod pad;
pub mod pool;
pub mod reshape;
pub(crate) mod scale;
pub mod slice;
pub mod softmax;
pub(crate) mod strided;
pub mod transpose;

pub use add::Add;
pub use batch_norm::BatchNorm;
pub use concat::Concat;
pub use constant::Constant;
pub use conv2d::Conv2d;
pub use conv_transpose::ConvTranspose2d;
pub use dense::{Dense, TokenDense};
pub use elementwise::{Elementwise, Func};
pub use io::{Dest, ForwardIo, LinearIo, RefVjp, VjpIo};
pub use layer_norm::{LayerNorm, NormKind};
pub use matmul::MatMul;
pub use modes::{Factor, GradMode};
pub use mul::Mul;
pub use pad::Pad;
pub use pool::{AvgPool2d, GlobalAvgPool, MaxPool2d, Pool2d};
pub use reshape::Reshape;
pub use slice::Slice;
pub use softmax::Softmax;
pub(crate) use transpose::permute;
pub use transpose::Transpose;

use crate::error::Result;
use crate::model::{Graph, Tensor};
use crate::onnx::OnnxOp;
use crate::plan::{Param, Program, TensorId, WeightMod};

/// What an LRP composite maps to a rule: the kinds of layer Zennit's `LayerMapComposite` tells
/// apart. [`LayerClass::accepts`] says which rules each takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LayerClass {
    /// The graph input.
    Input,
    /// Convolutions, transposed ones included: linear, every LRP linear-layer rule applies.
    Convolution,
    /// Dense (fully connected) layers: linear likewise.
    Dense,
    /// Sums of activations (residual additions).
    Sum,
    /// Products of two activations (squeeze-excitation gates, gated units, attention's
    /// matrix products).
    Product,
    /// Average pooling, global included.
    AvgPool,
    /// Max pooling.
    MaxPool,
    /// Element-wise activations.
    Activation,
    /// Per-channel affine maps (a BatchNorm that could not be folded).
    Normalisation,
    /// Layer normalisation (transformers, ConvNeXt).
    LayerNorm,
    /// Concatenation: what flows back is split, never ruled.
    Concat,
    /// Reshapes: what flows back keeps its values.
    Reshape,
    /// Transposes and slices: what flows back is moved back to where each value came from,
    /// never ruled.
    Select,
    /// Softmax: explanations start at the logits before a final one; inside a graph
    /// (attention) AttnLRP's rule, the ε-rule on the softmax's gradient, crosses it.
    Softmax,
    /// Constants (class tokens, position embeddings): what reaches them stays there.
    Constant,
}

/// One kind of layer.
pub trait Layer: std::fmt::Debug + Send + Sync {
    /// A short name for messages and plans ("Conv2d").
    fn kind(&self) -> &'static str;

    /// Which rule of a composite it takes.
    fn class(&self) -> LayerClass;

    /// Per-item output shape for inputs of the given per-item shapes.
    fn output_shape(&self, inputs: &[&[usize]]) -> Result<Vec<usize>>;

    /// f64 reference of the forward pass over a batch (batch dimension first).
    fn reference(&self, xs: &[&Tensor<f64>]) -> Tensor<f64>;

    /// f64 reference of the vector–Jacobian product in `v.mode` (with `v.weights` on linear
    /// layers): one tensor per input, shaped like it, before any input factor.
    fn reference_vjp(&self, v: &RefVjp) -> Vec<Tensor<f64>>;

    /// Records the forward pass; returns the tensor holding the output (a reshape returns its
    /// input's).
    fn record_forward(&self, p: &mut Program, io: &ForwardIo) -> Result<TensorId>;

    /// Records the vector–Jacobian product: `dest_i (+)= coef · factor(x_i) · VJP_i(g)` in
    /// `io.mode`. A factor the layer cannot apply is an error.
    fn record_vjp(&self, p: &mut Program, io: &VjpIo) -> Result<()>;

    /// The primitives of the LRP linear-layer rules, for convolutions and dense layers.
    fn linear(&self) -> Option<&dyn LinearLayer>;

    /// Whether every output value is ≥ 0 whatever the input, given which inputs are (LRP skips
    /// the terms of min(x, 0) after a ReLU: they are exactly zero).
    fn nonnegative(&self, inputs: &[bool]) -> bool;

    /// One of its parameter tensors in a layout and modification, for the weight store.
    fn parameter(&self, param: Param, modifier: WeightMod) -> Option<Vec<f32>>;

    /// Multiply-adds of one item's forward pass (for benchmarks).
    fn macs(&self, out_shape: &[usize]) -> u64;

    /// Whether its VJP hands what flows back to every input unchanged (sums, reshapes): a
    /// backward pass may then let an input with no other reader share the tensor.
    fn passes_gradient(&self) -> bool {
        false
    }
}

/// A convolution or dense layer as the LRP linear-layer rules use it: `z = W'·x' + b'` with
/// modified weights and inputs; the adjoint with modified weights is its [`Layer::record_vjp`].
pub trait LinearLayer {
    /// Whether the layer has a bias.
    fn has_bias(&self) -> bool;

    /// Records `out (+)= W'·factor(x) (+ b')` with `W' = io.weights(W)` (and `b'` alike).
    fn record_linear(&self, p: &mut Program, io: &LinearIo) -> Result<()>;

    /// f64 `W'·x (+ b')` over a batch, `W'` and `b'` modified by `weights`.
    fn reference_linear(&self, x: &Tensor<f64>, weights: WeightMod, bias: bool) -> Tensor<f64>;
}

impl LayerClass {
    /// Whether the rules of LRP's linear layers apply.
    pub fn is_linear(self) -> bool {
        matches!(self, LayerClass::Convolution | LayerClass::Dense)
    }
}

/// The ONNX operators each layer kind imports (the README's table is generated from these).
pub const ONNX_OPS: &[&[OnnxOp]] = &[
    conv2d::ONNX,
    conv_transpose::ONNX,
    dense::ONNX,
    matmul::ONNX,
    elementwise::ONNX,
    pool::ONNX,
    reshape::ONNX,
    transpose::ONNX,
    slice::ONNX,
    batch_norm::ONNX,
    layer_norm::ONNX,
    add::ONNX,
    mul::ONNX,
    concat::ONNX,
    softmax::ONNX,
];

/// f64 reference of one node given its inputs' values, shaped `[N, ...shape]`.
pub fn reference_node(graph: &Graph, id: usize, xs: &[&Tensor<f64>]) -> Tensor<f64> {
    let node = &graph.nodes[id];
    let n = xs.first().map_or(0, |x| x.shape[0]);
    let mut y = node.op.layer().reference(xs);
    y.shape = std::iter::once(n)
        .chain(node.shape.iter().cloned())
        .collect();
    y
}

/// f64 reference of the whole graph: the value of every node for a batch `[N, ...input]`.
pub fn reference_forward(graph: &Graph, input: &Tensor<f64>) -> Vec<Tensor<f64>> {
    let mut values: Vec<Tensor<f64>> = Vec::with_capacity(graph.nodes.len());
    for (id, node) in graph.nodes.iter().enumerate() {
        let v = if id == 0 {
            input.clone()
        } else {
            let xs: Vec<&Tensor<f64>> = node.inputs.iter().map(|&i| &values[i]).collect();
            reference_node(graph, id, &xs)
        };
        values.push(v);
    }
    values
}

/// Applies a factor to a VJP result in f64: `v ⊙ factor(x)` (`channel_values` per channel of
/// dimension 1, or per feature for 2-D tensors).
pub fn apply_factor(
    v: &mut Tensor<f64>,
    x: &Tensor<f64>,
    factor: Factor,
    channel_values: Option<&[f32]>,
) {
    let c = if x.shape.len() > 2 {
        x.shape[1]
    } else {
        x.shape.get(1).copied().unwrap_or(1)
    };
    let inner: usize = if x.shape.len() > 2 {
        x.shape[2..].iter().product()
    } else {
        1
    };
    let cv = |i: usize| -> f64 {
        channel_values.map_or(0.0, |vals| vals[((i / inner) % c) % vals.len()] as f64)
    };
    for (i, (o, &xv)) in v.data.iter_mut().zip(&x.data).enumerate() {
        *o *= match factor {
            Factor::One => 1.0,
            Factor::X => xv,
            Factor::Positive => xv.max(0.0),
            Factor::Negative => xv.min(0.0),
            Factor::Channel => cv(i),
            Factor::XTimesChannel => xv * cv(i),
        };
    }
}

/// The forward pass of a linear layer: `y = W·x + b` through its [`LinearLayer::record_linear`].
pub(crate) fn record_linear_forward(
    layer: &dyn LinearLayer,
    p: &mut Program,
    io: &ForwardIo,
) -> Result<TensorId> {
    let y = p.tensor(io.name, io.batch * io.out_shape.iter().product::<usize>())?;
    let lin = LinearIo {
        node: io.node,
        name: io.name,
        batch: io.batch,
        x: io.xs[0],
        in_shape: io.in_shapes[0],
        out_shape: io.out_shape,
        out: crate::plan::Out::Write(y),
        input: Factor::X,
        weights: WeightMod::Plain,
        bias: true,
    };
    layer.record_linear(p, &lin)?;
    Ok(y)
}

/// A weight and bias with a rule's modification applied to both (the bias dropped unless
/// `keep_bias`).
pub(crate) fn modify_parameters(
    weight: &Tensor,
    bias: &Option<Vec<f32>>,
    m: WeightMod,
    keep_bias: bool,
) -> (Tensor, Option<Vec<f32>>) {
    let w = Tensor {
        shape: weight.shape.clone(),
        data: weight.data.iter().map(|&v| m.apply(v)).collect(),
    };
    let b = bias
        .as_ref()
        .filter(|_| keep_bias)
        .map(|b| b.iter().map(|&v| m.apply(v)).collect());
    (w, b)
}

/// Fails unless `io` asks for the plain VJP (factor 1, multiplier 1): what layers that only move
/// values back apply.
pub(crate) fn reject_factor(io: &VjpIo, kind: &str) -> Result<()> {
    if io.factor != Factor::One || io.coef != 1.0 {
        return Err(crate::Error::Invalid(format!(
            "{kind} '{}' only moves what flows back: it takes no factor or multiplier",
            io.name
        )));
    }
    Ok(())
}

/// The one input shape of a single-input layer.
pub(crate) fn one_input<'a>(inputs: &[&'a [usize]]) -> Result<&'a [usize]> {
    match inputs {
        [s] => Ok(s),
        _ => Err(crate::Error::Shape(format!(
            "expects one input, got {}",
            inputs.len()
        ))),
    }
}
