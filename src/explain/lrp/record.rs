//! Records LRP's backward pass into a plan, after the forward pass: each node sends its
//! relevance to its inputs with the rule the composite gave it. Modified weights are uploaded
//! here, once per plan.

use std::collections::HashMap;

use super::linear::Linear;
use super::reference::pool_of;
use super::terms::{
    divide_pass, record_group, LinearCtx, FACTOR_ONE, FACTOR_X, FACTOR_X_TIMES_CHANNEL,
};
use crate::error::Result;
use crate::explain::rules::{OutputMask, Rule};
use crate::model::{Graph, Op};
use crate::plan::adjoint::mac_pass;
use crate::plan::flow::Flow;
use crate::plan::forward::{binds, pool_backward_pass, PoolIo};
use crate::plan::{Launch, PlanBuilder, TensorId};

/// What [`record_lrp`] leaves in the plan.
pub struct LrpTensors {
    /// Target modes and weights the host writes before each run (see `relevance/seed.wgsl`).
    pub target: TensorId,
    /// Relevance at the input.
    pub input_relevance: TensorId,
    /// Per-node relevance sums `[nodes × batch]`, when asked for.
    pub sums: Option<TensorId>,
}

/// Options of the backward pass.
pub struct LrpSettings<'a> {
    /// Rule of every node.
    pub rules: &'a [Rule],
    /// Stabiliser of the proportional rules.
    pub stabilizer: f32,
    /// Drop biases from every rule.
    pub ignore_bias: bool,
    /// Record per-node relevance sums.
    pub conservation: bool,
}

/// Records the backward pass from node `start` (the logits) to the input.
pub fn record_lrp(
    b: &mut PlanBuilder,
    graph: &Graph,
    values: &[TensorId],
    batch: usize,
    start: usize,
    set: &LrpSettings,
) -> Result<LrpTensors> {
    let consumers = graph.consumers();
    let mut rel = Flow::new(graph, "R");
    let features: usize = graph.nodes[start].shape.iter().product();
    let target = b.tensor("target", batch * (features + 1))?;
    let (r0, _) = rel.dest(b, graph, batch, start)?;
    let p = vec![batch as u32, features as u32];
    b.pass(
        "relevance/seed",
        "main",
        binds(p, &[values[start], target], &[], r0),
        &[r0],
        Launch::Flat {
            count: batch as u64,
            size: 64,
        },
    );
    let sums = if set.conservation {
        Some(b.tensor("relevance sums", graph.nodes.len() * batch)?)
    } else {
        None
    };
    let zero = b.constant("zero", &[0.0])?;
    for k in (1..=start).rev() {
        let Some(r) = rel.get(k) else { continue };
        if let Some(sums) = sums {
            let item = graph.nodes[k].shape.iter().product::<usize>();
            let p = vec![batch as u32, item as u32, k as u32];
            b.pass(
                "relevance/item_sums",
                "main",
                binds(p, &[r], &[], sums),
                &[sums],
                Launch::Flat {
                    count: batch as u64,
                    size: 64,
                },
            );
        }
        let node = &graph.nodes[k];
        let ins = &node.inputs;
        let rule = &set.rules[k];
        let numel = batch * node.shape.iter().product::<usize>();
        match &node.op {
            Op::Conv2d(_) | Op::Dense(_) => {
                let layer = Linear::of(&node.op).expect("linear");
                let (groups, eps) = rule
                    .recipe(set.stabilizer)
                    .expect("checked by the composite");
                let ctx = LinearCtx {
                    graph,
                    values,
                    batch,
                    k,
                    r,
                    rule,
                    ignore_bias: set.ignore_bias,
                    zero,
                };
                let mut uploads = HashMap::new();
                for g in &groups {
                    record_group(b, &ctx, &layer, g, eps, &mut rel, &mut uploads)?;
                }
            }
            Op::Add | Op::AvgPool2d(_) | Op::GlobalAvgPool if !matches!(rule, Rule::Pass) => {
                let s =
                    proportional_share(b, &node.name, rule, set.stabilizer, r, values[k], numel)?;
                if matches!(node.op, Op::Add) {
                    for &i in ins {
                        let (dest, acc) = rel.dest(b, graph, batch, i)?;
                        mac_pass(b, values[i], s, zero, dest, numel, 1, 1, FACTOR_X, acc, 1.0);
                    }
                } else {
                    let in_shape = &graph.nodes[ins[0]].shape;
                    let pool = pool_of(&node.op, in_shape);
                    let (dest, acc) = rel.dest(b, graph, batch, ins[0])?;
                    let io = PoolIo {
                        s,
                        x: values[ins[0]],
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
                        FACTOR_X,
                        acc,
                    );
                }
            }
            Op::MaxPool2d(pool) if matches!(rule, Rule::WinnerTakeAll | Rule::ArgMax) => {
                let in_shape = &graph.nodes[ins[0]].shape;
                let (dest, acc) = rel.dest(b, graph, batch, ins[0])?;
                // Winner-take-all compares with the pooled values; ArgMax (the gradient) finds
                // the first maximum itself.
                let (entry, y) = match rule {
                    Rule::ArgMax => ("max_pool_gradient", None),
                    _ => ("max_pool", Some(values[k])),
                };
                let io = PoolIo {
                    s: r,
                    x: values[ins[0]],
                    y,
                    out: dest,
                };
                pool_backward_pass(b, entry, pool, batch, in_shape, &node.shape, io, 0, acc);
            }
            // The proportional rule through the affine map: R_in = x·scale / stab(y) · R.
            Op::BatchNorm(bn) if !matches!(rule, Rule::Pass) => {
                let s =
                    proportional_share(b, &node.name, rule, set.stabilizer, r, values[k], numel)?;
                let scale = b.constant(&format!("{}.scale", node.name), &bn.scale)?;
                let (dest, acc) = rel.dest(b, graph, batch, ins[0])?;
                let inner = node.shape[1..].iter().product::<usize>();
                mac_pass(
                    b,
                    values[ins[0]],
                    s,
                    scale,
                    dest,
                    numel,
                    bn.scale.len(),
                    inner,
                    FACTOR_X_TIMES_CHANNEL,
                    acc,
                    1.0,
                );
            }
            Op::Concat => rel.split_concat(b, graph, batch, k, r)?,
            // Pass: the input's relevance is this node's. With a single reader, share the tensor.
            _ => {
                for &i in ins {
                    if !(consumers[i].len() == 1 && rel.share(i, r)) {
                        let (dest, acc) = rel.dest(b, graph, batch, i)?;
                        mac_pass(b, r, r, zero, dest, numel, 1, 1, FACTOR_ONE, acc, 1.0);
                    }
                }
            }
        }
    }
    let (input_relevance, _) = rel.dest(b, graph, batch, 0)?;
    if let Some(sums) = sums {
        let p = vec![
            batch as u32,
            graph.nodes[0].shape.iter().product::<usize>() as u32,
            0,
        ];
        b.pass(
            "relevance/item_sums",
            "main",
            binds(p, &[input_relevance], &[], sums),
            &[sums],
            Launch::Flat {
                count: batch as u64,
                size: 64,
            },
        );
    }
    Ok(LrpTensors {
        target,
        input_relevance,
        sums,
    })
}

/// `R / stab(y)` for the proportional rules (Norm, or ε given on the node): each input then
/// receives its value times this share.
fn proportional_share(
    b: &mut PlanBuilder,
    name: &str,
    rule: &Rule,
    stabilizer: f32,
    r: TensorId,
    y: TensorId,
    numel: usize,
) -> Result<TensorId> {
    let eps = match rule {
        Rule::Epsilon { epsilon } => *epsilon,
        _ => stabilizer,
    };
    let s = b.tensor(&format!("s[{name}]"), numel)?;
    divide_pass(b, r, y, y, None, s, numel, 1, eps, OutputMask::All);
    Ok(s)
}
