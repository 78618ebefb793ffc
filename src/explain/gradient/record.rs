//! Records the backward pass of the gradient family after the forward pass, in the same plan:
//! every linear node sends its gradient back through the engine's adjoint kernels; the method
//! decides only how the non-linearities (ReLU, Clip, max pooling) treat what flows back.

use crate::error::{Error, Result};
use crate::layers::Pool2d;
use crate::model::{Graph, Op};
use crate::plan::adjoint::{conv_adjoint, dense_adjoint, AdjointIo, LinearWeights};
use crate::plan::flow::Flow;
use crate::plan::forward::{binds, pool_backward_pass, PoolIo};
use crate::plan::{ConstId, Launch, PlanBuilder, Resource, TensorId};

/// What flows back through the non-linearities.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backward {
    /// The true gradient (saliency, IG, SmoothGrad, Grad-CAM, Taylor).
    Gradient,
    /// Zeiler & Fergus' deconvnet: ReLUs pass the positive part of the gradient and ignore
    /// their forward mask.
    Deconvnet,
    /// Springenberg et al.'s guided backprop: ReLUs pass the positive part of the gradient
    /// where their input was positive.
    GuidedBackprop,
    /// DeepLIFT's rescale rule against a reference run whose items follow the explained ones
    /// in every forward tensor.
    DeepLift,
}

impl Backward {
    fn relu_mode(self) -> u32 {
        match self {
            Backward::Gradient => 0,
            Backward::Deconvnet => 1,
            Backward::GuidedBackprop => 2,
            Backward::DeepLift => 3,
        }
    }
}

/// What [`record_backward`] leaves in the plan.
pub(crate) struct BackwardTensors {
    /// Target modes and weights the host writes before each run (see `relevance/seed.wgsl`).
    pub target: TensorId,
    /// The gradient of the node the pass stopped at.
    pub gradient: TensorId,
}

/// Records the backward pass of `batch` items from node `start` (seeded with the target
/// weighting) down to node `stop < start`, whose gradient it returns. `values` hold the forward
/// pass; for [`Backward::DeepLift`] they hold `2 · batch` items, the references last.
pub(crate) fn record_backward(
    b: &mut PlanBuilder,
    graph: &Graph,
    values: &[TensorId],
    batch: usize,
    start: usize,
    stop: usize,
    mode: Backward,
) -> Result<BackwardTensors> {
    let consumers = graph.consumers();
    let mut grads = Flow::new(graph, "grad");
    let features: usize = graph.nodes[start].shape.iter().product();
    let target = b.tensor("target", batch * (features + 1))?;
    let (seed, _) = grads.dest(b, graph, batch, start)?;
    b.pass(
        "relevance/seed",
        "gradient",
        binds(
            vec![batch as u32, features as u32],
            &[values[start], target],
            &[],
            seed,
        ),
        &[seed],
        Launch::Flat {
            count: batch as u64,
            size: 64,
        },
    );
    let unit = b.constant("one", &[1.0])?;
    for k in (stop + 1..=start).rev() {
        let Some(g) = grads.get(k) else { continue };
        let node = &graph.nodes[k];
        let numel = batch * node.shape.iter().product::<usize>();
        let input = node.inputs.first().copied().unwrap_or(0);
        let in_shape = &graph.nodes[input].shape;
        let flat = |count: usize, size: u32| Launch::Flat {
            count: count as u64,
            size,
        };
        match &node.op {
            Op::Conv2d(_) | Op::Dense(_) => {
                let (dest, acc) = grads.dest(b, graph, batch, input)?;
                let io = AdjointIo {
                    batch,
                    input: in_shape,
                    output: &node.shape,
                    ybar: g,
                    x: values[input],
                    channel_values: unit,
                    out: dest,
                    mode: 0,
                    accumulate: acc,
                    coef: 1.0,
                };
                match &node.op {
                    Op::Conv2d(c) => {
                        let w = LinearWeights::conv(b, &node.name, c)?;
                        conv_adjoint(b, c, &w, &io);
                    }
                    Op::Dense(d) => {
                        let w = LinearWeights::dense(b, &node.name, d)?;
                        dense_adjoint(b, d, &w, &io);
                    }
                    _ => unreachable!("matched above"),
                }
            }
            Op::BatchNorm(bn) => {
                let scale = b.constant(&format!("{}.scale", node.name), &bn.scale)?;
                let (dest, acc) = grads.dest(b, graph, batch, input)?;
                let inner = node.shape[1..].iter().product::<usize>();
                scale_pass(b, g, scale, dest, numel, bn.scale.len(), inner, acc);
            }
            Op::Relu | Op::Clip { .. } => {
                let (lo, hi) = match node.op {
                    Op::Clip { min, max } => (min, max),
                    _ => (0.0, f32::INFINITY),
                };
                let (dest, acc) = grads.dest(b, graph, batch, input)?;
                let p = vec![
                    numel as u32,
                    lo.to_bits(),
                    hi.to_bits(),
                    mode.relu_mode(),
                    acc as u32,
                ];
                b.pass(
                    "layers/relu_backward",
                    "main",
                    binds(p, &[g, values[input]], &[], dest),
                    &[dest],
                    flat(numel, 256),
                );
            }
            Op::MaxPool2d(pool) => {
                let (dest, acc) = grads.dest(b, graph, batch, input)?;
                // Captum's DeepLIFT gives a max pool that reads a ReLU's output the plain
                // gradient: its ReLU hook captures the pool's unmodified input gradient first.
                let after_relu = matches!(graph.nodes[input].op, Op::Relu | Op::Clip { .. });
                let deeplift = mode == Backward::DeepLift && !after_relu;
                let (entry, y) = if deeplift {
                    ("max_pool_deeplift", Some(values[k]))
                } else {
                    ("max_pool_gradient", None)
                };
                let io = PoolIo {
                    s: g,
                    x: values[input],
                    y,
                    out: dest,
                };
                pool_backward_pass(b, entry, pool, batch, in_shape, &node.shape, io, 0, acc);
            }
            Op::AvgPool2d(_) | Op::GlobalAvgPool => {
                let pool = match &node.op {
                    Op::AvgPool2d(pool) => pool.clone(),
                    _ => Pool2d::global(in_shape),
                };
                let (dest, acc) = grads.dest(b, graph, batch, input)?;
                let io = PoolIo {
                    s: g,
                    x: values[input],
                    y: None,
                    out: dest,
                };
                pool_backward_pass(
                    b,
                    "avg_pool",
                    &pool,
                    batch,
                    in_shape,
                    &node.shape,
                    io,
                    0,
                    acc,
                );
            }
            Op::Concat => grads.split_concat(b, graph, batch, k, g)?,
            Op::Add | Op::Reshape => {
                // The gradient passes unchanged to every input; a sole reader shares the tensor.
                for &i in &node.inputs {
                    if !(consumers[i].len() == 1 && grads.share(i, g)) {
                        let (dest, acc) = grads.dest(b, graph, batch, i)?;
                        scale_pass(b, g, unit, dest, numel, 1, 1, acc);
                    }
                }
            }
            Op::Softmax => {
                return Err(Error::Invalid(format!(
                    "node '{}': gradients start at the logits, before a final Softmax",
                    node.name
                )))
            }
            // No wildcard: a new layer kind must say how gradients cross it.
            Op::Input => {}
        }
    }
    let gradient = grads.get(stop).ok_or_else(|| {
        Error::Graph(format!(
            "no gradient reaches node '{}' from '{}'",
            graph.nodes[stop].name, graph.nodes[start].name
        ))
    })?;
    Ok(BackwardTensors { target, gradient })
}

/// `out (+)= scale[channel] · g` element-wise (BatchNorm's adjoint; a copy with one channel).
#[allow(clippy::too_many_arguments)]
fn scale_pass(
    b: &mut PlanBuilder,
    g: TensorId,
    scale: ConstId,
    out: TensorId,
    count: usize,
    channels: usize,
    inner: usize,
    accumulate: bool,
) {
    // multiply_accumulate's factor mode 4 multiplies by the per-channel constant.
    let p = vec![
        count as u32,
        channels as u32,
        inner as u32,
        4,
        accumulate as u32,
        1f32.to_bits(),
    ];
    b.pass(
        "relevance/multiply_accumulate",
        "main",
        binds(p, &[g, g], &[Resource::Const(scale)], out),
        &[out],
        Launch::Flat {
            count: count as u64,
            size: 256,
        },
    );
}
