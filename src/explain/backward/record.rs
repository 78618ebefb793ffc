//! Records a backward pass after the forward pass, in the same program: from the explained node
//! down to a stop node, each node sends what flows back to its inputs as its [`NodeRule`] says.

use super::kernels::{
    DivideParams, ItemSumsParams, Mask, SeedParams, ZConst, DIVIDE, ITEM_SUMS, SEED,
};
use super::linear::record_linear_rule;
use super::{Flow, NodeRule, Seed};
use crate::error::{Error, Result};
use crate::layers::scale::{pass_through, scale_pass, Scale};
use crate::layers::{Dest, Factor, GradMode, VjpIo};
use crate::model::{Graph, NodeId, Op};
use crate::plan::{binds, ConstId, Launch, Out, Program, Resource, TensorId, WeightMod, WgslEnum};

/// What to record.
pub struct BackwardSpec<'a> {
    /// Items whose backward pass runs (the forward tensors hold twice as many with DeepLIFT's
    /// references).
    pub batch: usize,
    /// The node the backward pass starts from (the logits).
    pub start: NodeId,
    /// The node it stops at (0: the input).
    pub stop: NodeId,
    /// Every node's rule.
    pub rules: &'a [NodeRule],
    /// What flows from the start node.
    pub seed: Seed,
    /// Also sum what reaches each node per item (the conservation report).
    pub sums: bool,
    /// Names what flows back ("R", "grad").
    pub label: &'static str,
    /// Gradients computed by earlier passes that join what flows back at other nodes (a
    /// second objective on an intermediate node, as activation maximisation's diversity term).
    pub joins: &'a [(NodeId, TensorId)],
    /// Per-item 0/1 masks `[batch × node values]` multiplied into what reaches a node before
    /// it passes on (filtering's conditions).
    pub masks: &'a [(NodeId, TensorId)],
    /// At a masked node, drop what flowed around it to earlier nodes (zennit-crp's
    /// `exclude_parallel`).
    pub exclude_parallel: bool,
}

/// What [`record_backward`] leaves in the program.
pub struct BackwardTensors {
    /// Target modes and weights the host writes before each run (see `backward/seed.wgsl`).
    pub target: TensorId,
    /// Per node, what flowed back to it.
    pub flow: Vec<Option<TensorId>>,
    /// Per-node sums `[nodes × batch]`, when asked for.
    pub sums: Option<TensorId>,
}

/// Records the backward pass `spec` describes; `values` hold the forward pass.
pub fn record_backward(
    p: &mut Program,
    graph: &Graph,
    values: &[TensorId],
    spec: &BackwardSpec,
) -> Result<BackwardTensors> {
    let batch = spec.batch;
    let consumers = graph.consumers();
    let mut flow = Flow::new(graph, spec.label);
    let features: usize = graph.nodes[spec.start].shape.iter().product();
    let target = p.tensor("target", batch * (features + 1))?;
    p.keep(target);
    match spec.seed {
        Seed::Tensor(t) => {
            if !flow.share(spec.start, t) {
                return Err(Error::Invalid(
                    "the start node of a backward pass already has a gradient".into(),
                ));
            }
        }
        Seed::Relevance | Seed::Gradient => {
            let seed = flow.dest(p, graph, batch, spec.start)?;
            let entry = if spec.seed == Seed::Relevance {
                "main"
            } else {
                "gradient"
            };
            let params = SeedParams {
                n: batch as u32,
                features: features as u32,
                ..SeedParams::default()
            };
            let launch = Launch::Flat {
                count: batch as u64,
                size: 64,
            };
            let bindings = binds(&[values[spec.start], target], &[], seed.tensor);
            p.pass(&SEED, entry, &params, bindings, seed.out(), launch)?;
        }
    }
    let sums = if spec.sums {
        let s = p.tensor("relevance sums", graph.nodes.len() * batch)?;
        p.keep(s);
        Some(s)
    } else {
        None
    };
    if let Some((bad, _)) = spec
        .joins
        .iter()
        .find(|(n, _)| *n > spec.start || *n <= spec.stop)
    {
        return Err(Error::Invalid(format!(
            "a gradient joins at node {bad}, outside the backward pass ({} to {})",
            spec.stop, spec.start
        )));
    }
    for k in (spec.stop + 1..=spec.start).rev() {
        for &(_, t) in spec.joins.iter().filter(|(n, _)| *n == k) {
            // What flowed to `k` may be a tensor its siblings share (an Add passes one tensor
            // to each input, a seed is the caller's): the sum goes to a fresh tensor.
            if let Some(old) = flow.get(k) {
                let count = batch * graph.nodes[k].shape.iter().product::<usize>();
                let sum = p.tensor(
                    &format!("{}+join[{}]", spec.label, graph.nodes[k].name),
                    count,
                )?;
                let write = |accumulate| Dest {
                    tensor: sum,
                    accumulate,
                };
                pass_through(p, old, old, count, Factor::One, 1.0, write(false))?;
                pass_through(p, t, t, count, Factor::One, 1.0, write(true))?;
                flow.replace(k, sum);
            } else {
                flow.share(k, t);
            }
        }
        let masked = spec.masks.iter().find(|(n, _)| *n == k);
        let Some(mut g) = flow.get(k) else {
            if masked.is_some() {
                return Err(Error::Invalid(format!(
                    "nothing reaches the conditioned node '{}' from '{}'{}",
                    graph.nodes[k].name,
                    graph.nodes[spec.start].name,
                    if spec.exclude_parallel {
                        ": it lies beside another conditioned node or the start, whose parallel \
                         paths are dropped (--keep-parallel keeps them)"
                    } else {
                        ""
                    }
                )));
            }
            continue;
        };
        if let Some(&(_, mask)) = masked {
            g = record_mask(p, graph, batch, k, g, mask, &mut flow)?;
            if spec.exclude_parallel {
                flow.clear_before(k);
            }
        }
        if let Some(s) = sums {
            item_sums(p, g, s, batch, graph.nodes[k].shape.iter().product(), k)?;
        }
        let node = &graph.nodes[k];
        let layer = node.op.layer();
        let count = batch * node.shape.iter().product::<usize>();
        let in_shapes: Vec<&[usize]> = node
            .inputs
            .iter()
            .map(|&i| graph.nodes[i].shape.as_slice())
            .collect();
        let xs: Vec<TensorId> = node.inputs.iter().map(|&i| values[i]).collect();
        // Records through `record` what flows back from `g` to every input but `skip` (whose
        // destination is never written: nothing flows to a gate held constant).
        type Record<'r> = &'r dyn Fn(&mut Program, &VjpIo) -> Result<()>;
        let with_io = |p: &mut Program,
                       flow: &mut Flow,
                       g: TensorId,
                       mode: GradMode,
                       factor: Factor,
                       skip: Option<usize>,
                       record: Record|
         -> Result<()> {
            let mut dests = Vec::with_capacity(node.inputs.len());
            for (j, &i) in node.inputs.iter().enumerate() {
                dests.push(if skip == Some(j) {
                    Dest {
                        tensor: g,
                        accumulate: true,
                    }
                } else {
                    flow.dest(p, graph, batch, i)?
                });
            }
            let io = VjpIo {
                node: k,
                name: &node.name,
                batch,
                xs: &xs,
                y: values[k],
                in_shapes: &in_shapes,
                out_shape: &node.shape,
                g,
                dests: &dests,
                mode,
                weights: WeightMod::Plain,
                factor,
                channel_values: None,
                coef: 1.0,
            };
            record(p, &io)
        };
        let vjp = |p: &mut Program, flow: &mut Flow, g, mode, factor| -> Result<()> {
            with_io(p, flow, g, mode, factor, None, &|p, io| {
                layer.record_vjp(p, io)
            })
        };
        match &spec.rules[k] {
            NodeRule::Pass => {
                for (&i, &x) in node.inputs.iter().zip(&xs) {
                    if !(consumers[i].len() == 1 && flow.share(i, g)) {
                        let dest = flow.dest(p, graph, batch, i)?;
                        pass_through(p, x, g, count, Factor::One, 1.0, dest)?;
                    }
                }
            }
            NodeRule::Vjp(_) if layer.passes_gradient() => {
                for (&i, &x) in node.inputs.iter().zip(&xs) {
                    if !(consumers[i].len() == 1 && flow.share(i, g)) {
                        let dest = flow.dest(p, graph, batch, i)?;
                        pass_through(p, x, g, count, Factor::One, 1.0, dest)?;
                    }
                }
            }
            NodeRule::Vjp(mode) => vjp(p, &mut flow, g, *mode, Factor::One)?,
            NodeRule::Proportional { epsilon, mode } => {
                let s = quotient(p, &node.name, g, values[k], *epsilon, count)?;
                vjp(p, &mut flow, s, *mode, Factor::X)?;
            }
            NodeRule::Product { gate, epsilon } => {
                let (g, shares): (TensorId, Record) = match &node.op {
                    Op::Mul(mul) => (g, &|p, io| mul.record_shares(p, io, *gate)),
                    Op::MatMul(mm) => {
                        let s = quotient(p, &node.name, g, values[k], *epsilon, count)?;
                        (s, &|p, io| mm.record_shares(p, io, *gate))
                    }
                    _ => {
                        return Err(Error::Invalid(format!(
                            "node '{}' ({}) is not a product: a product's rule cannot apply",
                            node.name,
                            node.op.kind()
                        )))
                    }
                };
                with_io(
                    p,
                    &mut flow,
                    g,
                    GradMode::Gradient,
                    Factor::One,
                    *gate,
                    shares,
                )?;
            }
            NodeRule::Refuse(why) => {
                return Err(Error::Invalid(format!(
                    "relevance reaches layer '{}' ({}): {why}",
                    node.name,
                    node.op.kind()
                )))
            }
            NodeRule::Linear(rule) => {
                let linear = layer.linear().ok_or_else(|| {
                    Error::Invalid(format!(
                        "node '{}' ({}) is not linear: an LRP linear-layer rule cannot apply",
                        node.name,
                        node.op.kind()
                    ))
                })?;
                record_linear_rule(p, graph, values, batch, k, linear, rule, &mut flow)?;
            }
        }
    }
    if flow.get(spec.stop).is_none() {
        return Err(Error::Graph(format!(
            "nothing flows back from '{}' to '{}'",
            graph.nodes[spec.start].name, graph.nodes[spec.stop].name
        )));
    }
    if let (Some(s), Some(r)) = (sums, flow.get(spec.stop)) {
        let item = graph.nodes[spec.stop].shape.iter().product();
        item_sums(p, r, s, batch, item, spec.stop)?;
    }
    Ok(BackwardTensors {
        target,
        flow: flow.tensors(),
        sums,
    })
}

/// The ε-rule's quotient `s = R / stab(y)` of node `name` into a fresh tensor.
fn quotient(
    p: &mut Program,
    name: &str,
    r: TensorId,
    y: TensorId,
    eps: f32,
    count: usize,
) -> Result<TensorId> {
    let s = p.tensor(&format!("s[{name}]"), count)?;
    let d = Division {
        r,
        z: y,
        reference: y,
        z_const: None,
        eps,
        mask: Mask::All,
        item: 1,
    };
    divide(p, &d, s, count)?;
    Ok(s)
}

/// `g ⊙ mask` into a fresh tensor (`g` may be one its siblings share), node `k`'s from now on.
fn record_mask(
    p: &mut Program,
    graph: &Graph,
    batch: usize,
    k: NodeId,
    g: TensorId,
    mask: TensorId,
    flow: &mut Flow,
) -> Result<TensorId> {
    let count = batch * graph.nodes[k].shape.iter().product::<usize>();
    let masked = p.tensor(&format!("masked[{}]", graph.nodes[k].name), count)?;
    let sc = Scale {
        x: g,
        s: g,
        channel_values: Some(Resource::Tensor(mask)),
        count,
        channels: count,
        inner: 1,
        factor: Factor::Channel,
        coef: 1.0,
    };
    let dest = Dest {
        tensor: masked,
        accumulate: false,
    };
    scale_pass(p, &sc, dest)?;
    flow.replace(k, masked);
    Ok(masked)
}

/// `sums[slot · batch + b] = Σ r[b, ..]`.
fn item_sums(
    p: &mut Program,
    r: TensorId,
    sums: TensorId,
    batch: usize,
    item: usize,
    slot: usize,
) -> Result<()> {
    let params = ItemSumsParams {
        n: batch as u32,
        item: item as u32,
        slot: slot as u32,
        pad0: 0,
    };
    let launch = Launch::Flat {
        count: batch as u64,
        size: 64,
    };
    p.pass(
        &ITEM_SUMS,
        "main",
        &params,
        binds(&[r], &[], sums),
        Out::Update(sums),
        launch,
    )
}

/// What one stabilised division `s = R / stab(z (+ z_const))` reads.
pub(super) struct Division {
    /// Relevance.
    pub r: TensorId,
    /// The denominator computed on the GPU (ignored with [`ZConst::Only`]).
    pub z: TensorId,
    /// The plain output whose sign the γ rule's masks read.
    pub reference: TensorId,
    /// The input-independent part of z for one item, and how it combines with `z`.
    pub z_const: Option<(ConstId, ZConst)>,
    /// The stabiliser.
    pub eps: f32,
    /// Which outputs are served.
    pub mask: Mask,
    /// Values per item (the constant part's length).
    pub item: usize,
}

/// Records `s = R / stab(z)` over `count` values.
pub(super) fn divide(p: &mut Program, d: &Division, s: TensorId, count: usize) -> Result<()> {
    let (zc, has_const) = match d.z_const {
        Some((c, how)) => (Resource::Const(c), how),
        None => (Resource::Tensor(d.z), ZConst::None),
    };
    let params = DivideParams {
        count: count as u32,
        item: d.item as u32,
        eps: d.eps,
        mask: d.mask.code(),
        has_const: has_const.code(),
        ..DivideParams::default()
    };
    let bindings = vec![
        (1, Resource::Tensor(d.r)),
        (2, Resource::Tensor(d.z)),
        (3, Resource::Tensor(d.reference)),
        (4, zc),
        (5, Resource::Tensor(s)),
    ];
    let launch = Launch::Flat {
        count: count as u64,
        size: 256,
    };
    p.pass(&DIVIDE, "main", &params, bindings, Out::Write(s), launch)
}
