//! Attention on the GPU, on a hand-built one-head block: a class token (a constant) concatenated
//! before the tokens, a position embedding (a constant) added, q, k, v token-wise, the scores
//! `q·kᵀ`, a softmax along the keys, `A·v`, the class token's output through a head. The forward
//! pass and the gradient against the f64 reference and central finite differences; LRP's CP
//! rule (the attention weights held constant: nothing reaches q, k or the softmax) and the
//! uniform rule with AttnLRP's softmax rule against the f64 reference; what the constants absorb.
//! Beside it: a softmax along a middle axis, and a matrix product broadcasting its leading axes,
//! against finite differences.

use super::products::{lrp_against_reference as lrp, sum};
use crate::common::{assert_close, finite_difference_gradient, model, Rng};
use glimpse::explain::gradient::{GradientMap, GradientPlan};
use glimpse::explain::{Composite, Rule, Target};
use glimpse::layers::slice::AxisRange;
use glimpse::layers::{
    reference_forward, Add, Concat, Constant, Dense, LayerClass, MatMul, Slice, Softmax,
    TokenDense, Transpose,
};
use glimpse::model::{Graph, Op, Tensor};
use glimpse::Predictor;

fn token_dense(rng: &mut Rng, d: usize, bias: bool) -> Op {
    Op::TokenDense(TokenDense {
        dense: Dense {
            weight: rng.tensor(&[d, d]),
            bias: bias.then(|| rng.vec(d).iter().map(|v| v * 0.1).collect()),
        },
    })
}

/// input [3, 4] (3 tokens of 4 features) → [cls; x] + pos → q, k, v → softmax(q·kᵀ) · v →
/// the class token's row → dense 4→3.
fn attention_net(rng: &mut Rng, bias: bool) -> Graph {
    let mut g = Graph::new(vec![3, 4]).unwrap();
    let cls = Constant::new(vec![1, 4], rng.vec(4)).unwrap();
    let cls = g.push("cls", Op::Constant(cls), vec![0]).unwrap();
    let cat = g
        .push("cat", Op::Concat(Concat { axis: 0 }), vec![cls, 0])
        .unwrap();
    let pos = Constant::new(vec![4, 4], rng.vec(16).iter().map(|v| v * 0.3).collect()).unwrap();
    let pos = g.push("pos", Op::Constant(pos), vec![0]).unwrap();
    let h = g.push("embed", Op::Add(Add), vec![cat, pos]).unwrap();
    let q = g.push("q", token_dense(rng, 4, bias), vec![h]).unwrap();
    let k = g.push("k", token_dense(rng, 4, bias), vec![h]).unwrap();
    let v = g.push("v", token_dense(rng, 4, bias), vec![h]).unwrap();
    let kt = g
        .push("kt", Op::Transpose(Transpose { perm: vec![1, 0] }), vec![k])
        .unwrap();
    let s = g
        .push("scores", Op::MatMul(MatMul { inner: 4 }), vec![q, kt])
        .unwrap();
    let a = g
        .push("attn", Op::Softmax(Softmax { axis: 1 }), vec![s])
        .unwrap();
    let o = g
        .push("out", Op::MatMul(MatMul { inner: 4 }), vec![a, v])
        .unwrap();
    let full = |d| AxisRange {
        start: 0,
        len: d,
        step: 1,
    };
    let first = AxisRange {
        start: 0,
        len: 1,
        step: 1,
    };
    let c = g
        .push(
            "cls_out",
            Op::Slice(Slice {
                ranges: vec![first, full(4)],
            }),
            vec![o],
        )
        .unwrap();
    let flat = g.push_reshape("flat", c, vec![4]).unwrap();
    let head = Dense {
        weight: rng.tensor(&[3, 4]),
        bias: bias.then(|| rng.vec(3)),
    };
    g.push("head", Op::Dense(head), vec![flat]).unwrap();
    g
}

fn scale(v: &[f64]) -> f64 {
    v.iter().fold(0.0f64, |m, x| m.max(x.abs()))
}

fn check_forward_and_gradient(g: &Graph, x: &Tensor, what: &str) {
    let n = x.shape[0];
    let item = x.numel() / n;
    let want = &reference_forward(g, &x.to_f64())[g.output];
    let got = Predictor::new(&model(g), n).unwrap().run(x).unwrap();
    assert_close(
        &format!("{what}: logits"),
        &got.data,
        &want.data,
        1e-5,
        1e-5,
    );
    let grad = GradientPlan::new(&model(g), GradientMap::Gradient, n)
        .unwrap()
        .run(x, &vec![Target::Class(1); n])
        .unwrap();
    for i in 0..n {
        let fd = finite_difference_gradient(g, x, i, 1);
        assert_close(
            &format!("{what}: ∂f/∂x item {i}"),
            &grad.map.data[i * item..(i + 1) * item],
            &fd,
            1e-4 * scale(&fd) + 1e-7,
            1e-3,
        );
    }
}

#[test]
fn attention_forward_and_gradient_match_the_references() {
    let mut rng = Rng::new(301);
    let g = attention_net(&mut rng, true);
    let x = rng.tensor(&[2, 3, 4]);
    check_forward_and_gradient(&g, &x, "attention");
}

#[test]
fn cp_lrp_holds_the_attention_weights_constant() {
    let mut rng = Rng::new(311);
    let g = attention_net(&mut rng, false);
    let x = rng.tensor(&[2, 3, 4]);
    let mut c = Composite::uniform(Rule::Epsilon { epsilon: 0.0 });
    assert_eq!(c.rule_of(LayerClass::Product), Rule::ConstantGate);
    c.stabilizer = 1e-12; // what the proportional rules leak, kept below the tolerance
    let flow = lrp(&g, &c, &x);
    for n in ["q", "k", "kt", "scores", "attn"] {
        assert!(
            flow[g.find(n).unwrap()].is_none(),
            "relevance reached '{n}'"
        );
    }
    // No bias, LRP-0: the logit is conserved between the input and what the two constants
    // absorb (up to the stabilisers of `A·v`'s ε-rule and the embedding's sum).
    let logits = &reference_forward(&g, &x.to_f64())[g.output];
    for i in 0..2 {
        let [input, cls, pos] = ["input", "cls", "pos"].map(|n| sum(&flow[g.find(n).unwrap()], i));
        let total = input + cls + pos;
        let f = logits.data[i * 3 + 2];
        assert!(
            (total - f).abs() <= 1e-6 * f.abs().max(1.0),
            "item {i}: {total} vs {f}"
        );
        assert!(cls.abs() > 1e-6 * f.abs() && pos.abs() > 1e-6 * f.abs());
    }
}

#[test]
fn attn_lrp_splits_both_products_and_crosses_the_softmax() {
    let mut rng = Rng::new(321);
    let g = attention_net(&mut rng, false);
    let x = rng.tensor(&[2, 3, 4]);
    let mut c = Composite::uniform(Rule::Epsilon { epsilon: 0.0 });
    c.set(LayerClass::Product, Rule::Uniform).unwrap();
    c.stabilizer = 1e-12;
    let flow = lrp(&g, &c, &x);
    let [out, attn, v, scores, q, kt] =
        ["out", "attn", "v", "scores", "q", "kt"].map(|n| g.find(n).unwrap());
    for i in 0..2 {
        let r = sum(&flow[out], i);
        // Half of the output's relevance to each input of `A·v`, half again of the scores'.
        let tol = 1e-9 * r.abs().max(1.0);
        assert!((sum(&flow[attn], i) - r / 2.0).abs() <= tol);
        assert!((sum(&flow[v], i) - r / 2.0).abs() <= tol);
        let s = sum(&flow[scores], i);
        assert!((sum(&flow[q], i) - s / 2.0).abs() <= 1e-9 * s.abs().max(1.0));
        assert!((sum(&flow[kt], i) - s / 2.0).abs() <= 1e-9 * s.abs().max(1.0));
    }
}

#[test]
fn a_softmax_along_a_middle_axis_and_a_broadcasting_product_match_finite_differences() {
    let mut rng = Rng::new(331);
    // input [2, 3, 4] → softmax along axis 1 (each of 2 × 4 columns of 3) → B = x[0:1, :, 0:3]
    // ([1, 3, 3]) · softmax ([2, 3, 4]), broadcasting B over the 2 → times a constant [4, 2]
    // broadcast over [2, 3, 4] → flatten → dense 12→3.
    let mut g = Graph::new(vec![2, 3, 4]).unwrap();
    let s = g
        .push("sm", Op::Softmax(Softmax { axis: 1 }), vec![0])
        .unwrap();
    let r = |start, len| AxisRange {
        start,
        len,
        step: 1,
    };
    let b = g
        .push(
            "b",
            Op::Slice(Slice {
                ranges: vec![r(0, 1), r(0, 3), r(0, 3)],
            }),
            vec![0],
        )
        .unwrap();
    let m = g
        .push("bs", Op::MatMul(MatMul { inner: 3 }), vec![b, s])
        .unwrap();
    let w = Constant::new(vec![4, 2], rng.vec(8)).unwrap();
    let w = g.push("w", Op::Constant(w), vec![0]).unwrap();
    let p = g
        .push("bsw", Op::MatMul(MatMul { inner: 4 }), vec![m, w])
        .unwrap();
    let flat = g.push_reshape("flat", p, vec![12]).unwrap();
    let head = Dense {
        weight: rng.tensor(&[3, 12]),
        bias: Some(rng.vec(3)),
    };
    g.push("head", Op::Dense(head), vec![flat]).unwrap();
    assert_eq!(g.nodes[p].shape, [2, 3, 2]);
    let x = rng.tensor(&[2, 2, 3, 4]);
    check_forward_and_gradient(&g, &x, "softmax and broadcast");
}
