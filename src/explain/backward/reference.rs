//! The f64 reference of the backward recorder, written as the rules read: the same per-node
//! [`NodeRule`]s, each node sending what flowed to it to its inputs through its layer's f64
//! VJP. The GPU program must reproduce this to f32 precision.

use super::linear::reference_linear_rule;
use super::NodeRule;
use crate::layers::{apply_factor, reference_forward, Factor, RefVjp};
use crate::model::{Graph, NodeId, Op, Tensor};
use crate::plan::WeightMod;

/// Zennit's stabiliser: `z + ε·sign(z)` with `sign(0) = +1`.
pub fn stabilize(z: f64, eps: f64) -> f64 {
    z + eps * if z >= 0.0 { 1.0 } else { -1.0 }
}

/// `r / stab(z)`, or 0 where the stabilised denominator is zero.
pub(super) fn divide_f64(r: f64, z: f64, eps: f64) -> f64 {
    let d = stabilize(z, eps);
    if d == 0.0 {
        0.0
    } else {
        r / d
    }
}

/// What flows back to every node for a batch `x`, starting from `seed` (`[N, F]`, what flows
/// into node `start`: `w ⊙ f(x)` for relevance, `w` for gradients) down to the input, each node
/// crossed by its rule. `reference` is DeepLIFT's reference batch (for [`crate::layers::GradMode::Rescale`]).
/// Returns one tensor per node (`None` where nothing arrived).
pub fn reference_backward(
    graph: &Graph,
    rules: &[NodeRule],
    x: &Tensor<f64>,
    start: NodeId,
    seed: &Tensor<f64>,
    reference: Option<&Tensor<f64>>,
) -> Vec<Option<Tensor<f64>>> {
    reference_backward_joined(graph, rules, x, &[(start, seed)], reference)
}

/// [`reference_backward`] from several seeds: each joins what flows back at its node before
/// the node is crossed (the GPU recorder's `joins`; rules that are not linear in what flows,
/// as the redirected rectifier, see the sum).
pub fn reference_backward_joined(
    graph: &Graph,
    rules: &[NodeRule],
    x: &Tensor<f64>,
    seeds: &[(NodeId, &Tensor<f64>)],
    reference: Option<&Tensor<f64>>,
) -> Vec<Option<Tensor<f64>>> {
    walk(graph, rules, x, seeds, reference, &[], false)
}

/// [`reference_backward`] under filtering's conditions: what reaches a node with a mask
/// (`[N × node values]`, 0/1) is multiplied by it before the node is crossed, and with
/// `exclude_parallel` what flowed to earlier nodes around it is dropped there (the GPU
/// recorder's `masks`).
pub fn reference_backward_masked(
    graph: &Graph,
    rules: &[NodeRule],
    x: &Tensor<f64>,
    start: NodeId,
    seed: &Tensor<f64>,
    masks: &[(NodeId, &[f64])],
    exclude_parallel: bool,
) -> Vec<Option<Tensor<f64>>> {
    walk(
        graph,
        rules,
        x,
        &[(start, seed)],
        None,
        masks,
        exclude_parallel,
    )
}

fn walk(
    graph: &Graph,
    rules: &[NodeRule],
    x: &Tensor<f64>,
    seeds: &[(NodeId, &Tensor<f64>)],
    reference: Option<&Tensor<f64>>,
    masks: &[(NodeId, &[f64])],
    exclude_parallel: bool,
) -> Vec<Option<Tensor<f64>>> {
    let values = reference_forward(graph, x);
    let ref_values = reference.map(|r| reference_forward(graph, r));
    let mut flow: Vec<Option<Tensor<f64>>> = vec![None; graph.nodes.len()];
    let start = seeds.iter().map(|&(n, _)| n).max().unwrap_or(0);
    for k in (1..=start).rev() {
        for &(_, seed) in seeds.iter().filter(|(n, _)| *n == k) {
            accumulate(&mut flow[k], &values[k].shape, &seed.data);
        }
        if let (Some(&(_, mask)), Some(g)) = (masks.iter().find(|(n, _)| *n == k), &mut flow[k]) {
            g.data.iter_mut().zip(mask).for_each(|(v, m)| *v *= m);
            if exclude_parallel {
                flow[..k].iter_mut().for_each(|f| *f = None);
            }
        }
        let Some(g) = flow[k].clone() else { continue };
        let node = &graph.nodes[k];
        let layer = node.op.layer();
        let xs: Vec<&Tensor<f64>> = node.inputs.iter().map(|&i| &values[i]).collect();
        let refs: Option<Vec<&Tensor<f64>>> = ref_values
            .as_ref()
            .map(|rv| node.inputs.iter().map(|&i| &rv[i]).collect());
        let vjp = |g: &Tensor<f64>, mode| {
            let v = RefVjp {
                xs: &xs,
                y: &values[k],
                g,
                mode,
                weights: WeightMod::Plain,
                reference: refs
                    .as_deref()
                    .zip(ref_values.as_ref())
                    .map(|(r, rv)| (r, &rv[k])),
            };
            layer.reference_vjp(&v)
        };
        let sent: Vec<Tensor<f64>> = match &rules[k] {
            NodeRule::Pass => xs
                .iter()
                .map(|x| Tensor {
                    shape: x.shape.clone(),
                    data: g.data.clone(),
                })
                .collect(),
            NodeRule::Vjp(mode) => vjp(&g, *mode),
            NodeRule::Proportional { epsilon, mode } => {
                let s = Tensor {
                    shape: g.shape.clone(),
                    data: g
                        .data
                        .iter()
                        .zip(&values[k].data)
                        .map(|(&r, &z)| divide_f64(r, z, *epsilon as f64))
                        .collect(),
                };
                let mut v = vjp(&s, *mode);
                for (vi, xi) in v.iter_mut().zip(&xs) {
                    apply_factor(vi, xi, Factor::X, None);
                }
                v
            }
            NodeRule::Product { gate, epsilon } => match &node.op {
                Op::Mul(mul) => mul.reference_shares(&xs, &g, *gate),
                Op::MatMul(mm) => {
                    let s = Tensor {
                        shape: g.shape.clone(),
                        data: g
                            .data
                            .iter()
                            .zip(&values[k].data)
                            .map(|(&r, &z)| divide_f64(r, z, *epsilon as f64))
                            .collect(),
                    };
                    mm.reference_shares(&xs, &s, *gate)
                }
                _ => unreachable!("checked when the rules were resolved"),
            },
            NodeRule::Refuse(why) => panic!("relevance reached '{}': {why}", node.name),
            NodeRule::Linear(rule) => {
                let linear = layer
                    .linear()
                    .expect("checked when the rules were resolved");
                vec![reference_linear_rule(
                    linear, layer, xs[0], &values[k], &g, rule,
                )]
            }
        };
        // Nothing flows to a gate held constant (not even zeros: its branch is never crossed).
        let gate = match rules[k] {
            NodeRule::Product { gate, .. } => gate,
            _ => None,
        };
        for (j, (&i, v)) in node.inputs.iter().zip(sent).enumerate() {
            if gate != Some(j) {
                accumulate(&mut flow[i], &values[i].shape, &v.data);
            }
        }
    }
    flow
}

/// Adds `data` to what flowed to a node so far (or starts it).
fn accumulate(slot: &mut Option<Tensor<f64>>, shape: &[usize], data: &[f64]) {
    match slot {
        Some(acc) => acc.data.iter_mut().zip(data).for_each(|(a, b)| *a += b),
        None => {
            *slot = Some(Tensor {
                shape: shape.to_vec(),
                data: data.to_vec(),
            })
        }
    }
}
