//! LRP's linear-layer rules, on the GPU and in f64: each group of a rule's recipe computes
//! `z = Σ_terms W'·x' (+ b')`, `s = R / stab(z)`, and sends back `Σ_terms coef · sign · x'' ⊙
//! W'ᵀs`. Terms whose modified input does not depend on the input (zᴮ's bounds, flat's and w²'s
//! ones) are summed once into a constant part of z, in f64.

use super::record::{divide, Division};
use super::reference::divide_f64;
use super::{Flow, LinearRule};
use crate::error::Result;
use crate::explain::rules::{Bound, Group, InputMod, OutputMask, Rule, Term};
use crate::layers::{Factor, GradMode, LinearIo, LinearLayer, RefVjp, VjpIo};
use crate::model::{Graph, NodeId, Tensor};
use crate::plan::{ConstId, Out, Program, TensorId, WeightMod};

use super::kernels::{Mask, ZConst};

/// The kernel factor a term's modified input is (`Low`/`High`: the per-channel bounds).
fn factor(input: InputMod) -> Factor {
    match input {
        InputMod::Identity => Factor::X,
        InputMod::Positive => Factor::Positive,
        InputMod::Negative => Factor::Negative,
        InputMod::Low | InputMod::High => Factor::Channel,
        InputMod::Ones => Factor::One,
    }
}

fn mask(m: OutputMask) -> Mask {
    match m {
        OutputMask::All => Mask::All,
        OutputMask::WherePositive => Mask::WherePositive,
        OutputMask::WhereNegative => Mask::WhereNegative,
    }
}

/// Whether every value of node `id` is ≥ 0 whatever the input (after ReLUs, and pools,
/// reshapes, sums and concatenations of such values). One pass over the nodes before it, in
/// order: a recursion over inputs would revisit shared ancestors exponentially often (DenseNet's
/// concatenations of every earlier block).
pub(crate) fn nonnegative(graph: &Graph, id: NodeId) -> bool {
    let mut known: Vec<bool> = Vec::with_capacity(id + 1);
    for node in &graph.nodes[..=id] {
        let inputs: Vec<bool> = node.inputs.iter().map(|&i| known[i]).collect();
        known.push(node.op.layer().nonnegative(&inputs));
    }
    known[id]
}

/// The terms of a group that contribute: min(x, 0) is exactly zero after a ReLU, so bias-free
/// terms of it add nothing to z and send nothing back (half of z⁺'s and αβ's work in ReLU
/// networks).
fn kept_terms(g: &Group, bias: bool, input_nonnegative: bool) -> Vec<Term> {
    let vanishes =
        |t: &Term| t.input == InputMod::Negative && !(t.bias && bias) && input_nonnegative;
    let kept: Vec<Term> = g.terms.iter().filter(|t| !vanishes(t)).copied().collect();
    if kept.is_empty() {
        g.terms.clone()
    } else {
        kept
    }
}

/// Whether a group's kept terms are the plain layer itself: its z is then the forward value.
fn is_plain(terms: &[Term], bias: bool, has_bias: bool) -> bool {
    matches!(terms, [t] if t.input == InputMod::Identity
        && t.weight == WeightMod::Plain
        && t.sign == 1.0
        && (t.bias && bias) == has_bias)
}

/// Whether a term's modified input depends on the input.
fn dynamic(t: &Term) -> bool {
    matches!(
        t.input,
        InputMod::Identity | InputMod::Positive | InputMod::Negative
    )
}

/// The value of a constant modified input for input channel (or feature) `c`.
fn constant_input(input: InputMod, bounds: Option<(&Bound, &Bound)>, c: usize) -> f64 {
    match input {
        InputMod::Low => bounds.map_or(0.0, |(l, _)| l.at(c)) as f64,
        InputMod::High => bounds.map_or(1.0, |(_, h)| h.at(c)) as f64,
        InputMod::Ones => 1.0,
        InputMod::Identity | InputMod::Positive | InputMod::Negative => 0.0,
    }
}

/// A modified input in f64: `[N, ...]` with channels (or features) along dimension 1.
fn modify_input(x: &Tensor<f64>, input: InputMod, bounds: Option<(&Bound, &Bound)>) -> Tensor<f64> {
    let c = x.shape.get(1).copied().unwrap_or(1);
    let inner: usize = x.shape[2..].iter().product();
    let data = x
        .data
        .iter()
        .enumerate()
        .map(|(i, &v)| match input {
            InputMod::Identity => v,
            InputMod::Positive => v.max(0.0),
            InputMod::Negative => v.min(0.0),
            InputMod::Low | InputMod::High | InputMod::Ones => {
                constant_input(input, bounds, (i / inner.max(1)) % c)
            }
        })
        .collect();
    Tensor {
        shape: x.shape.clone(),
        data,
    }
}

/// The signed sum of the constant terms' z for one item, or `None` when there are none.
fn constant_z(
    linear: &dyn LinearLayer,
    terms: &[Term],
    in_shape: &[usize],
    rule: &LinearRule,
) -> Option<Tensor<f64>> {
    let mut total: Option<Tensor<f64>> = None;
    for t in terms.iter().filter(|t| !dynamic(t)) {
        let shape: Vec<usize> = std::iter::once(1).chain(in_shape.iter().cloned()).collect();
        let x = modify_input(&Tensor::zeros(shape), t.input, rule.rule.bounds());
        let mut z = linear.reference_linear(&x, t.weight, t.bias && !rule.ignore_bias);
        z.data.iter_mut().for_each(|v| *v *= t.sign as f64);
        match &mut total {
            Some(acc) => acc.data.iter_mut().zip(&z.data).for_each(|(a, v)| *a += v),
            None => total = Some(z),
        }
    }
    total
}

/// Records node `k`'s LRP rule: its relevance (what flowed to it) goes to its input.
#[allow(clippy::too_many_arguments)]
pub(super) fn record_linear_rule(
    p: &mut Program,
    graph: &Graph,
    values: &[TensorId],
    batch: usize,
    k: NodeId,
    linear: &dyn LinearLayer,
    rule: &LinearRule,
    flow: &mut Flow,
) -> Result<()> {
    let node = &graph.nodes[k];
    let input = node.inputs[0];
    let in_shape = &graph.nodes[input].shape;
    let item_out: usize = node.shape.iter().product();
    let count = batch * item_out;
    let r = flow
        .get(k)
        .expect("the recorder visits nodes relevance reached");
    let (groups, eps) = rule.rule.recipe(rule.stabilizer).ok_or_else(|| {
        crate::Error::Invalid(format!("rule {:?} is not a linear-layer rule", rule.rule))
    })?;
    let bias = linear.has_bias() && !rule.ignore_bias;
    let input_nonnegative = nonnegative(graph, input);
    for g in &groups {
        let terms = kept_terms(g, bias, input_nonnegative);
        let dynamic_terms: Vec<&Term> = terms.iter().filter(|t| dynamic(t)).collect();
        // z: the forward value itself when the group is the plain layer, else recomputed.
        let z = if is_plain(&terms, bias, linear.has_bias()) || dynamic_terms.is_empty() {
            values[k]
        } else {
            let z = p.tensor(&format!("z[{}]", node.name), count)?;
            for (i, t) in dynamic_terms.iter().enumerate() {
                let io = LinearIo {
                    node: k,
                    name: &node.name,
                    batch,
                    x: values[input],
                    in_shape,
                    out_shape: &node.shape,
                    out: Out::to(z, i > 0),
                    input: factor(t.input),
                    weights: t.weight,
                    bias: t.bias && bias,
                };
                linear.record_linear(p, &io)?;
            }
            z
        };
        let z_const = match constant_z(linear, &terms, in_shape, rule) {
            Some(zc) => {
                let c = p.constant(&format!("{}.z_const", node.name), zc.to_f32().data)?;
                let how = if dynamic_terms.is_empty() {
                    ZConst::Only
                } else {
                    ZConst::Added
                };
                Some((c, how))
            }
            None => None,
        };
        let s = p.tensor(&format!("s[{}]", node.name), count)?;
        let d = Division {
            r,
            z,
            reference: values[k],
            z_const,
            eps,
            mask: mask(g.mask),
            item: item_out,
        };
        divide(p, &d, s, count)?;
        for t in &terms {
            let channel_values = bound_values(p, &node.name, t.input, in_shape, rule)?;
            let dest = flow.dest(p, graph, batch, input)?;
            let io = VjpIo {
                node: k,
                name: &node.name,
                batch,
                xs: &[values[input]],
                y: values[k],
                in_shapes: &[in_shape],
                out_shape: &node.shape,
                g: s,
                dests: &[dest],
                mode: GradMode::Gradient,
                weights: t.weight,
                factor: factor(t.input),
                channel_values,
                coef: g.coef * t.sign,
            };
            node.op.layer().record_vjp(p, &io)?;
        }
    }
    Ok(())
}

/// zᴮ's per-channel bounds (per input feature for dense layers) as a constant, for the terms of
/// `Low` and `High`.
fn bound_values(
    p: &mut Program,
    name: &str,
    input: InputMod,
    in_shape: &[usize],
    rule: &LinearRule,
) -> Result<Option<ConstId>> {
    if !matches!(input, InputMod::Low | InputMod::High) {
        return Ok(None);
    }
    // Per input channel of a convolution, per input feature of a dense layer.
    let channels = in_shape[0];
    let per: Vec<f32> = (0..channels)
        .map(|c| constant_input(input, rule.rule.bounds(), c) as f32)
        .collect();
    Ok(Some(p.constant(&format!("{name}.bounds"), per)?))
}

/// The f64 reference of node `k`'s linear rule: the relevance its input receives.
pub(super) fn reference_linear_rule(
    linear: &dyn LinearLayer,
    layer: &dyn crate::layers::Layer,
    x: &Tensor<f64>,
    y: &Tensor<f64>,
    r: &Tensor<f64>,
    rule: &LinearRule,
) -> Tensor<f64> {
    let (groups, eps) = rule
        .rule
        .recipe(rule.stabilizer)
        .expect("checked by the composite");
    let bias = linear.has_bias() && !rule.ignore_bias;
    let mut out = Tensor::zeros(x.shape.clone());
    for g in &groups {
        let inputs: Vec<Tensor<f64>> = g
            .terms
            .iter()
            .map(|t| modify_input(x, t.input, rule.rule.bounds()))
            .collect();
        let mut z = vec![0.0; r.data.len()];
        for (t, xm) in g.terms.iter().zip(&inputs) {
            let zt = linear.reference_linear(xm, t.weight, t.bias && bias);
            for (a, v) in z.iter_mut().zip(&zt.data) {
                *a += t.sign as f64 * v;
            }
        }
        let s: Vec<f64> = r
            .data
            .iter()
            .zip(&z)
            .zip(&y.data)
            .map(|((&rv, &zv), &plain)| {
                let keep = match g.mask {
                    OutputMask::All => true,
                    OutputMask::WherePositive => plain > 0.0,
                    OutputMask::WhereNegative => plain < 0.0,
                };
                if keep {
                    divide_f64(rv, zv, eps as f64)
                } else {
                    0.0
                }
            })
            .collect();
        let s = Tensor {
            shape: r.shape.clone(),
            data: s,
        };
        for (t, xm) in g.terms.iter().zip(&inputs) {
            let v = RefVjp {
                xs: &[x],
                y,
                g: &s,
                mode: GradMode::Gradient,
                weights: t.weight,
                reference: None,
            };
            let c = layer.reference_vjp(&v).remove(0);
            let coef = (g.coef * t.sign) as f64;
            for ((o, cv), xv) in out.data.iter_mut().zip(&c.data).zip(&xm.data) {
                *o += coef * xv * cv;
            }
        }
    }
    out
}

/// How many passes over a linear layer's multiply-adds its rule records beyond the model's own
/// forward: a forward per input-dependent term of each group (none for the plain layer, whose z
/// is the forward value) and an adjoint per term that sends relevance back — what
/// [`record_linear_rule`] records, so LRP ÷ forward can be set against it.
pub(crate) fn rule_passes(
    graph: &Graph,
    k: NodeId,
    linear: &dyn LinearLayer,
    rule: &Rule,
    ignore_bias: bool,
) -> usize {
    let Some((groups, _)) = rule.recipe(0.0) else {
        // The gradient rule: one adjoint.
        return 1;
    };
    let input_nonnegative = nonnegative(graph, graph.nodes[k].inputs[0]);
    let bias = linear.has_bias() && !ignore_bias;
    groups
        .iter()
        .map(|g| {
            let terms = kept_terms(g, bias, input_nonnegative);
            let dynamic = terms.iter().filter(|t| dynamic(t)).count();
            let forwards = match is_plain(&terms, bias, linear.has_bias()) {
                true => 0,
                false => dynamic,
            };
            forwards + terms.len()
        })
        .sum()
}
