//! The terms of a rule on one linear layer (dense, conv): their z passes, the stabilised
//! division, and the adjoint passes that send relevance back. Modified weights are uploaded
//! once per plan.

use std::collections::HashMap;

use super::linear::{constant_input, modify_input, Linear};
use crate::error::Result;
use crate::explain::rules::{Group, InputMod, OutputMask, Rule, Term, WeightMod};
use crate::model::{Graph, Op, Tensor};
use crate::plan::adjoint::{conv_adjoint, dense_adjoint, AdjointIo, LinearWeights};
use crate::plan::flow::Flow;
use crate::plan::forward::{conv_forward_pass, dense_forward_pass, LinearPass};
use crate::plan::{ConstId, Launch, PlanBuilder, Resource, TensorId};

/// Input factor modes of the adjoint epilogue (see `shaders/prelude.wgsl`).
pub(super) const FACTOR_ONE: u32 = 0;
pub(super) const FACTOR_X: u32 = 1;
pub(super) const FACTOR_X_TIMES_CHANNEL: u32 = 5;

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
pub(super) struct LinearCtx<'a> {
    pub graph: &'a Graph,
    pub values: &'a [TensorId],
    pub batch: usize,
    /// The node.
    pub k: usize,
    /// Its relevance.
    pub r: TensorId,
    pub rule: &'a Rule,
    pub ignore_bias: bool,
    pub zero: ConstId,
}

fn upload(
    b: &mut PlanBuilder,
    name: &str,
    layer: &Linear,
    cache: &mut HashMap<String, LinearWeights>,
) -> Result<LinearWeights> {
    let key = format!("{:?}", weights_key(layer));
    if let Some(w) = cache.get(&key) {
        return Ok(*w);
    }
    let w = match layer {
        Linear::Conv(c) => LinearWeights::conv(b, &format!("{name}'"), c)?,
        Linear::Dense(d) => LinearWeights::dense(b, &format!("{name}'"), d)?,
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

pub(super) fn record_group(
    b: &mut PlanBuilder,
    ctx: &LinearCtx,
    layer: &Linear,
    g: &Group,
    eps: f32,
    rel: &mut Flow,
    cache: &mut HashMap<String, LinearWeights>,
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
        && terms[0].0.weight == WeightMod::Plain
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
            match (l, &w) {
                (Linear::Conv(c), LinearWeights::Conv { forward, bias, .. }) => {
                    conv_forward_pass(b, c, &lin, *forward, *bias, ctx.values[input], z)
                }
                (Linear::Dense(d), LinearWeights::Dense { weight, bias }) => {
                    dense_forward_pass(b, d, &lin, *weight, *bias, ctx.values[input], z)
                }
                _ => unreachable!("weights are uploaded for the layer's kind"),
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
        let io = AdjointIo {
            batch: ctx.batch,
            input: in_shape,
            output: &node.shape,
            ybar: s,
            x: ctx.values[input],
            channel_values,
            out: dest,
            mode: factor(t.input),
            accumulate: acc,
            coef: g.coef,
        };
        match l {
            Linear::Conv(c) => conv_adjoint(b, c, &w, &io),
            Linear::Dense(d) => dense_adjoint(b, d, &w, &io),
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
pub(super) fn divide_pass(
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
