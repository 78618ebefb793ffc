//! Records LRP's backward pass into a plan, after the forward pass: each node sends its
//! relevance to its inputs with the rule the composite gave it. Modified weights are uploaded
//! here, once per plan.

use std::collections::HashMap;

use super::linear::{constant_input, modify_input, Linear};
use super::reference::pool_of;
use crate::error::Result;
use crate::explain::rules::{Group, InputMod, OutputMask, Rule, Term};
use crate::model::{Graph, Op, Tensor};
use crate::plan::conv_transpose::{conv_adjoint_weight, conv_transpose_pass, ConvAdjoint};
use crate::plan::dense::{dense_transpose_pass, DenseAdjoint};
use crate::plan::forward::{
    binds, conv_forward_pass, dense_forward_pass, pack_conv_weight, pool_params, LinearPass,
};
use crate::plan::{ConstId, Launch, PlanBuilder, Resource, TensorId};

/// Where the relevance of each node lives while the backward pass is recorded.
struct Relevance {
    tensor: Vec<Option<TensorId>>,
    written: Vec<bool>,
}

impl Relevance {
    /// The tensor receiving relevance for node `i`, and whether a pass writing it must add to
    /// what is there (true after its first writer).
    fn dest(
        &mut self,
        b: &mut PlanBuilder,
        graph: &Graph,
        batch: usize,
        i: usize,
    ) -> Result<(TensorId, bool)> {
        let t = match self.tensor[i] {
            Some(t) => t,
            None => {
                let numel = batch * graph.nodes[i].shape.iter().product::<usize>();
                let t = b.tensor(&format!("R[{}]", graph.nodes[i].name), numel)?;
                self.tensor[i] = Some(t);
                t
            }
        };
        let accumulate = self.written[i];
        self.written[i] = true;
        Ok((t, accumulate))
    }
}

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
    let mut rel = Relevance {
        tensor: vec![None; graph.nodes.len()],
        written: vec![false; graph.nodes.len()],
    };
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
        let Some(r) = rel.tensor[k] else { continue };
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
                let eps = match rule {
                    Rule::Epsilon { epsilon } => *epsilon,
                    _ => set.stabilizer,
                };
                let s = b.tensor(&format!("s[{}]", node.name), numel)?;
                divide_pass(
                    b,
                    r,
                    values[k],
                    values[k],
                    None,
                    s,
                    numel,
                    1,
                    eps,
                    OutputMask::All,
                );
                if matches!(node.op, Op::Add) {
                    for &i in ins {
                        let (dest, acc) = rel.dest(b, graph, batch, i)?;
                        mac_pass(b, values[i], s, zero, dest, numel, 1, 1, FACTOR_X, acc, 1.0);
                    }
                } else {
                    let in_shape = &graph.nodes[ins[0]].shape;
                    let pool = pool_of(&node.op, in_shape);
                    let (dest, acc) = rel.dest(b, graph, batch, ins[0])?;
                    let mut p = pool_params(&pool, batch, in_shape, &node.shape);
                    p.extend([FACTOR_X, acc as u32, 1f32.to_bits()]);
                    let count = (batch * in_shape.iter().product::<usize>()) as u64;
                    let bindings = vec![
                        (0, Resource::Uniform(p)),
                        (1, Resource::Tensor(s)),
                        (2, Resource::Tensor(values[ins[0]])),
                        (4, Resource::Tensor(dest)),
                    ];
                    b.pass(
                        "layers/pool_transpose",
                        "avg_pool",
                        bindings,
                        &[dest],
                        Launch::Flat { count, size: 256 },
                    );
                }
            }
            Op::MaxPool2d(pool) if matches!(rule, Rule::WinnerTakeAll) => {
                let in_shape = &graph.nodes[ins[0]].shape;
                let (dest, acc) = rel.dest(b, graph, batch, ins[0])?;
                let mut p = pool_params(pool, batch, in_shape, &node.shape);
                p.extend([0, acc as u32, 1f32.to_bits()]);
                // Windows that tile the input exactly: one invocation per window.
                let tiling = pool.stride == pool.kernel
                    && pool.pads == [0; 4]
                    && in_shape[1] == node.shape[1] * pool.kernel[0]
                    && in_shape[2] == node.shape[2] * pool.kernel[1];
                let (entry, count, size) = if tiling {
                    ("max_pool_tiling", numel as u64, 64)
                } else {
                    let inputs = batch * in_shape.iter().product::<usize>();
                    ("max_pool", inputs as u64, 256)
                };
                let bindings = vec![
                    (0, Resource::Uniform(p)),
                    (1, Resource::Tensor(r)),
                    (2, Resource::Tensor(values[ins[0]])),
                    (3, Resource::Tensor(values[k])),
                    (4, Resource::Tensor(dest)),
                ];
                b.pass(
                    "layers/pool_transpose",
                    entry,
                    bindings,
                    &[dest],
                    Launch::Flat { count, size },
                );
            }
            Op::Concat => {
                let item_cat: usize = node.shape.iter().product();
                let mut offset = 0;
                for &i in ins {
                    let item: usize = graph.nodes[i].shape.iter().product();
                    let (dest, acc) = rel.dest(b, graph, batch, i)?;
                    let p = vec![
                        (batch * item) as u32,
                        item_cat as u32,
                        item as u32,
                        offset as u32,
                        acc as u32,
                    ];
                    b.pass(
                        "relevance/slice_accumulate",
                        "main",
                        binds(p, &[r], &[], dest),
                        &[dest],
                        Launch::Flat {
                            count: (batch * item) as u64,
                            size: 256,
                        },
                    );
                    offset += item;
                }
            }
            // Pass: the input's relevance is this node's. With a single reader, share the tensor.
            _ => {
                for &i in ins {
                    if consumers[i].len() == 1 && rel.tensor[i].is_none() {
                        rel.tensor[i] = Some(r);
                        rel.written[i] = true;
                    } else {
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

/// Input factor modes of the adjoint epilogue (see `shaders/prelude.wgsl`).
const FACTOR_ONE: u32 = 0;
const FACTOR_X: u32 = 1;

fn factor(input: InputMod) -> u32 {
    match input {
        InputMod::Identity => 1,
        InputMod::Positive => 2,
        InputMod::Negative => 3,
        InputMod::Low | InputMod::High => 4,
        InputMod::Ones => 0,
    }
}

/// What every term of one linear node shares.
struct LinearCtx<'a> {
    graph: &'a Graph,
    values: &'a [TensorId],
    batch: usize,
    k: usize,
    r: TensorId,
    rule: &'a Rule,
    ignore_bias: bool,
    zero: ConstId,
}

/// Uploaded weights of one term: packed for the forward kernel, plain for the adjoint, bias.
#[derive(Clone, Copy)]
struct TermWeights {
    forward: ConstId,
    adjoint: ConstId,
    bias: ConstId,
}

fn upload(
    b: &mut PlanBuilder,
    name: &str,
    layer: &Linear,
    cache: &mut HashMap<String, TermWeights>,
) -> Result<TermWeights> {
    let key = format!("{:?}", weights_key(layer));
    if let Some(w) = cache.get(&key) {
        return Ok(*w);
    }
    let (adjoint_data, forward_data, bias) = match layer {
        Linear::Conv(c) => (
            conv_adjoint_weight(b.gpu(), c),
            pack_conv_weight(c),
            c.bias.clone(),
        ),
        Linear::Dense(d) => (d.weight.data.clone(), d.weight.data.clone(), d.bias.clone()),
    };
    let adjoint = b.constant(&format!("{name}.w'"), &adjoint_data)?;
    let forward = if matches!(layer, Linear::Dense(_)) {
        adjoint
    } else {
        b.constant(&format!("{name}.w'packed"), &forward_data)?
    };
    let bias = b.constant(&format!("{name}.b'"), bias.as_deref().unwrap_or(&[]))?;
    let w = TermWeights {
        forward,
        adjoint,
        bias,
    };
    cache.insert(key, w);
    Ok(w)
}

/// A cheap identity of a term's modified parameters: their bit patterns' checksum.
fn weights_key(layer: &Linear) -> (u64, u64, bool) {
    let (w, b) = match layer {
        Linear::Conv(c) => (&c.weight.data, &c.bias),
        Linear::Dense(d) => (&d.weight.data, &d.bias),
    };
    let h = |v: &[f32]| {
        v.iter().fold(0xcbf2_9ce4_8422_2325u64, |a, x| {
            (a ^ x.to_bits() as u64).wrapping_mul(0x100_0000_01b3)
        })
    };
    (h(w), b.as_deref().map_or(0, h), b.is_some())
}

fn record_group(
    b: &mut PlanBuilder,
    ctx: &LinearCtx,
    layer: &Linear,
    g: &Group,
    eps: f32,
    rel: &mut Relevance,
    cache: &mut HashMap<String, TermWeights>,
) -> Result<()> {
    let node = &ctx.graph.nodes[ctx.k];
    let input = node.inputs[0];
    let in_shape = &ctx.graph.nodes[input].shape;
    let out_numel = ctx.batch * node.shape.iter().product::<usize>();
    let item_out: usize = node.shape.iter().product();
    // min(x, 0) is exactly zero after a ReLU: bias-free terms of it add nothing to z and send
    // nothing back, so they get no passes (half of z⁺'s and αβ's work in ReLU networks).
    let vanishes = |t: &Term| {
        t.input == InputMod::Negative
            && (!t.bias || ctx.ignore_bias || !layer.has_bias())
            && nonnegative(ctx.graph, input)
    };
    let kept: Vec<&Term> = g.terms.iter().filter(|t| !vanishes(t)).collect();
    let kept = if kept.is_empty() {
        g.terms.iter().collect()
    } else {
        kept
    };
    let terms: Vec<(Term, Linear)> = kept
        .into_iter()
        .map(|t| (*t, layer.for_term(t, ctx.ignore_bias)))
        .collect();
    let dynamic: Vec<&(Term, Linear)> = terms
        .iter()
        .filter(|(t, _)| constant_input(t.input, None, 0).is_none())
        .collect();

    // z: the forward value itself when the group is the plain layer, else recomputed.
    let plain = dynamic.len() == terms.len()
        && terms.len() == 1
        && terms[0].0.input == InputMod::Identity
        && terms[0].0.weight == crate::explain::rules::WeightMod::Plain
        && terms[0].0.sign == 1.0
        && terms[0].1.has_bias() == layer.has_bias();
    let z = if plain || dynamic.is_empty() {
        ctx.values[ctx.k]
    } else {
        let z = b.tensor(&format!("z[{}]", node.name), out_numel)?;
        for (i, (t, l)) in dynamic.iter().enumerate() {
            let w = upload(b, &node.name, l, cache)?;
            let lin = LinearPass {
                batch: ctx.batch,
                input: in_shape,
                output: &node.shape,
                has_bias: l.has_bias(),
                input_mode: match t.input {
                    InputMod::Positive => 1,
                    InputMod::Negative => 2,
                    _ => 0,
                },
                accumulate: i > 0,
            };
            match l {
                Linear::Conv(c) => {
                    conv_forward_pass(b, c, &lin, w.forward, w.bias, ctx.values[input], z)
                }
                Linear::Dense(d) => {
                    dense_forward_pass(b, d, &lin, w.forward, w.bias, ctx.values[input], z)
                }
            }
        }
        z
    };
    // Input-independent terms (bounds, ones) are summed once here, in f64, for one item.
    let z_const = constant_z(&terms, in_shape, ctx.rule)?;
    let const_id = match &z_const {
        Some(zc) => Some(b.constant(&format!("{}.z_const", node.name), &zc.to_f32().data)?),
        None => None,
    };
    let only_const = dynamic.is_empty();
    let s = b.tensor(&format!("s[{}]", node.name), out_numel)?;
    let z_bind = if only_const { ctx.r } else { z };
    divide_pass_full(
        b,
        ctx.r,
        z_bind,
        ctx.values[ctx.k],
        const_id,
        only_const,
        s,
        out_numel,
        item_out,
        eps,
        g.mask,
    );

    for (t, l) in &terms {
        let w = upload(b, &node.name, l, cache)?;
        let (dest, acc) = rel.dest(b, ctx.graph, ctx.batch, input)?;
        let channel_values = match t.input {
            InputMod::Low | InputMod::High => {
                let per: Vec<f32> = match l {
                    Linear::Conv(_) => (0..in_shape[0])
                        .map(|c| constant_input(t.input, ctx.rule.bounds(), c).unwrap_or(0.0))
                        .collect(),
                    Linear::Dense(_) => {
                        let ones = Tensor {
                            shape: vec![1, in_shape.iter().product()],
                            data: vec![1.0; in_shape.iter().product()],
                        };
                        modify_input(&ones, t.input, ctx.rule.bounds())
                            .data
                            .iter()
                            .map(|&v| v as f32)
                            .collect()
                    }
                };
                b.constant(&format!("{}.bounds", node.name), &per)?
            }
            _ => ctx.zero,
        };
        match l {
            Linear::Conv(c) => {
                let adj = ConvAdjoint {
                    batch: ctx.batch,
                    input: in_shape,
                    output: &node.shape,
                    input_mode: factor(t.input),
                    accumulate: acc,
                    coef: g.coef,
                };
                let x = ctx.values[input];
                conv_transpose_pass(b, c, &adj, s, w.adjoint, x, channel_values, dest);
            }
            Linear::Dense(d) => {
                let adj = DenseAdjoint {
                    batch: ctx.batch,
                    input_mode: factor(t.input),
                    accumulate: acc,
                    coef: g.coef,
                };
                let x = ctx.values[input];
                dense_transpose_pass(b, d, &adj, s, w.adjoint, x, channel_values, dest);
            }
        }
    }
    Ok(())
}

/// Whether every value of node `id` is ≥ 0 whatever the input: ReLUs, clips at or above zero,
/// and pooling, reshapes, sums and concatenations of such values.
fn nonnegative(graph: &Graph, id: usize) -> bool {
    let node = &graph.nodes[id];
    match &node.op {
        Op::Relu | Op::Softmax => true,
        Op::Clip { min, .. } => *min >= 0.0,
        Op::MaxPool2d(_) | Op::AvgPool2d(_) | Op::GlobalAvgPool | Op::Reshape => {
            nonnegative(graph, node.inputs[0])
        }
        Op::Add | Op::Concat => node.inputs.iter().all(|&i| nonnegative(graph, i)),
        _ => false,
    }
}

/// The summed z of the constant-input terms for one item, or `None` when there are none.
fn constant_z(
    terms: &[(Term, Linear)],
    in_shape: &[usize],
    rule: &Rule,
) -> Result<Option<Tensor<f64>>> {
    let mut total: Option<Tensor<f64>> = None;
    for (t, l) in terms {
        if constant_input(t.input, None, 0).is_none() {
            continue;
        }
        let mut shape = vec![1];
        shape.extend_from_slice(in_shape);
        let x = modify_input(&Tensor::zeros(shape), t.input, rule.bounds());
        let z = l.reference(&x);
        match &mut total {
            Some(acc) => acc.data.iter_mut().zip(&z.data).for_each(|(a, v)| *a += v),
            None => total = Some(z),
        }
    }
    Ok(total.map(|t| Tensor {
        shape: t.shape,
        data: t.data,
    }))
}

#[allow(clippy::too_many_arguments)]
fn divide_pass(
    b: &mut PlanBuilder,
    r: TensorId,
    z: TensorId,
    reference: TensorId,
    z_const: Option<ConstId>,
    s: TensorId,
    count: usize,
    item: usize,
    eps: f32,
    mask: OutputMask,
) {
    divide_pass_full(
        b, r, z, reference, z_const, false, s, count, item, eps, mask,
    )
}

#[allow(clippy::too_many_arguments)]
fn divide_pass_full(
    b: &mut PlanBuilder,
    r: TensorId,
    z: TensorId,
    reference: TensorId,
    z_const: Option<ConstId>,
    only_const: bool,
    s: TensorId,
    count: usize,
    item: usize,
    eps: f32,
    mask: OutputMask,
) {
    let mask = match mask {
        OutputMask::All => 0,
        OutputMask::WherePositive => 1,
        OutputMask::WhereNegative => 2,
    };
    let has_const = match (z_const, only_const) {
        (None, _) => 0,
        (Some(_), false) => 1,
        (Some(_), true) => 2,
    };
    let zc = match z_const {
        Some(c) => Resource::Const(c),
        None => Resource::Tensor(z),
    };
    let p = vec![count as u32, item as u32, eps.to_bits(), mask, has_const];
    let bindings = vec![
        (0, Resource::Uniform(p)),
        (1, Resource::Tensor(r)),
        (2, Resource::Tensor(z)),
        (3, Resource::Tensor(reference)),
        (4, zc),
        (5, Resource::Tensor(s)),
    ];
    b.pass(
        "relevance/stabilized_divide",
        "main",
        bindings,
        &[s],
        Launch::Flat {
            count: count as u64,
            size: 256,
        },
    );
}

#[allow(clippy::too_many_arguments)]
fn mac_pass(
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
    b.pass(
        "relevance/multiply_accumulate",
        "main",
        binds(p, &[x, s], &[Resource::Const(channel_values)], out),
        &[out],
        Launch::Flat {
            count: count as u64,
            size: 256,
        },
    );
}
