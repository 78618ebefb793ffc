//! Mul, a product of two activations with broadcasting, on a squeeze-excitation net: its
//! forward pass against the f64 reference, the gradient (reaching both inputs) against central
//! finite differences, and LRP's gate rule (CP-LRP: all relevance to the gated input, nothing
//! to the gate) and uniform rule (half to each) on the GPU against the f64 reference, with the
//! relevance each rule conserves.

use crate::common::{assert_close, finite_difference_gradient, model, Rng};
use glimpse::explain::backward::reference_backward;
use glimpse::explain::gradient::{Baseline, DeepLiftPlan, GradientMap, GradientPlan};
use glimpse::explain::{Composite, LayerRef, LrpPlan, Rule, Target};
use glimpse::layers::{reference_forward, Conv2d, Dense, Elementwise, Func, GlobalAvgPool, Mul};
use glimpse::model::{Graph, Op, Tensor};
use glimpse::Predictor;

fn conv(rng: &mut Rng, cin: usize, cout: usize, k: usize) -> Op {
    Op::Conv2d(Conv2d {
        weight: rng.tensor(&[cout, cin, k, k]),
        bias: Some(rng.vec(cout).iter().map(|v| v * 0.1).collect()),
        stride: [1, 1],
        pads: [k / 2; 4],
        dilation: [1, 1],
        groups: 1,
    })
}

/// input [3, 6, 6] → conv 3×3 → ReLU `a` → squeeze (pool, 1×1 conv, ReLU, 1×1 conv, Sigmoid
/// `s`) → `m = a · s` ([4, 6, 6] · [4, 1, 1], or the gate first) → pool → flatten → dense 4→3.
fn se_net(rng: &mut Rng, gate_first: bool) -> Graph {
    let mut g = Graph::new(vec![3, 6, 6]).unwrap();
    let c = g.push("conv", conv(rng, 3, 4, 3), vec![0]).unwrap();
    let a = g.push("a", Op::relu(), vec![c]).unwrap();
    let p = g
        .push("squeeze", Op::GlobalAvgPool(GlobalAvgPool), vec![a])
        .unwrap();
    let f1 = g.push("fc1", conv(rng, 4, 2, 1), vec![p]).unwrap();
    let r = g.push("fc1_relu", Op::relu(), vec![f1]).unwrap();
    let f2 = g.push("fc2", conv(rng, 2, 4, 1), vec![r]).unwrap();
    let s = g
        .push(
            "s",
            Op::Elementwise(Elementwise::new(Func::Sigmoid)),
            vec![f2],
        )
        .unwrap();
    let inputs = if gate_first { vec![s, a] } else { vec![a, s] };
    let m = g.push("m", Op::Mul(Mul), inputs).unwrap();
    let q = g
        .push("pool", Op::GlobalAvgPool(GlobalAvgPool), vec![m])
        .unwrap();
    let flat = g.push_reshape("flat", q, vec![4]).unwrap();
    let head = Dense {
        weight: rng.tensor(&[3, 4]),
        bias: Some(rng.vec(3)),
    };
    g.push("head", Op::Dense(head), vec![flat]).unwrap();
    g
}

fn scale(v: &[f64]) -> f64 {
    v.iter().fold(0.0f64, |m, x| m.max(x.abs()))
}

/// The GPU gradient of logit `class` on the 2 items of `x` ([2, 3, 6, 6]) against central
/// finite differences of the f64 reference.
fn gradient_matches_finite_differences(g: &Graph, x: &Tensor, class: usize, what: &str) {
    let got = GradientPlan::new(&model(g), GradientMap::Gradient, 2)
        .unwrap()
        .run(x, &[Target::Class(class)])
        .unwrap();
    let item = 108;
    for i in 0..2 {
        let want = finite_difference_gradient(g, x, i, class);
        assert_close(
            &format!("∂f/∂x item {i}{what}"),
            &got.map.data[i * item..(i + 1) * item],
            &want,
            1e-4 * scale(&want) + 1e-7,
            1e-3,
        );
    }
}

#[test]
fn forward_matches_the_f64_reference_in_both_orders_and_for_a_square() {
    for gate_first in [false, true] {
        let mut rng = Rng::new(11);
        let g = se_net(&mut rng, gate_first);
        let x = rng.tensor(&[3, 3, 6, 6]);
        let want = &reference_forward(&g, &x.to_f64())[g.output];
        let got = Predictor::new(&model(&g), 3).unwrap().run(&x).unwrap();
        assert_close("SE net logits", &got.data, &want.data, 1e-5, 1e-5);
    }
    // x · x: two inputs of one shape.
    let mut g = Graph::new(vec![2, 3, 3]).unwrap();
    g.push("sq", Op::Mul(Mul), vec![0, 0]).unwrap();
    let x = Rng::new(12).tensor(&[2, 2, 3, 3]);
    let got = Predictor::new(&model(&g), 2).unwrap().run(&x).unwrap();
    let want: Vec<f64> = x.data.iter().map(|&v| v as f64 * v as f64).collect();
    assert_close("x · x", &got.data, &want, 1e-6, 1e-6);
}

#[test]
fn the_gradient_reaches_both_inputs_as_finite_differences_say() {
    for gate_first in [false, true] {
        let mut rng = Rng::new(21);
        let g = se_net(&mut rng, gate_first);
        let x = rng.tensor(&[2, 3, 6, 6]);
        let what = format!(" (gate first: {gate_first})");
        gradient_matches_finite_differences(&g, &x, 1, &what);
    }
}

#[test]
fn deeplift_through_a_gate_matches_the_f64_reference() {
    let mut rng = Rng::new(31);
    let g = se_net(&mut rng, false);
    let x = rng.tensor(&[2, 3, 6, 6]);
    let e = DeepLiftPlan::new(&model(&g), Baseline::Zero, 2)
        .unwrap()
        .run(&x, &[Target::Class(0)])
        .unwrap();
    let xs = x.to_f64();
    let zero = Tensor::zeros(xs.shape.clone());
    let rules = glimpse::explain::backward::gradient_rules(&g, glimpse::layers::GradMode::Rescale);
    let out = &reference_forward(&g, &xs)[g.output];
    let mut seed = Tensor::zeros(out.shape.clone());
    (0..2).for_each(|i| seed.data[i * 3] = 1.0);
    let flow = reference_backward(&g, &rules, &xs, g.output, &seed, Some(&zero));
    let mult = flow[0].as_ref().unwrap();
    let want: Vec<f64> = mult.data.iter().zip(&xs.data).map(|(m, x)| m * x).collect();
    assert_close(
        "DeepLIFT",
        &e.map.data,
        &want,
        1e-5 * scale(&want) + 1e-7,
        1e-4,
    );
}

/// The GPU map and per-node flows of `composite` against the f64 reference; returns the
/// reference's flows.
/// LRP for class 2 of a batch of 2 on the GPU against the f64 reference, with the conservation
/// report; returns what flowed to each node (f64).
pub(super) fn lrp_against_reference(
    g: &Graph,
    c: &Composite,
    x: &Tensor,
) -> Vec<Option<Tensor<f64>>> {
    let e = LrpPlan::new(&model(g), c, 2, true)
        .unwrap()
        .run(x, &[Target::Class(2)])
        .unwrap();
    let xs = x.to_f64();
    let out = &reference_forward(g, &xs)[g.output];
    let mut seed = Tensor::zeros(out.shape.clone());
    (0..2).for_each(|i| seed.data[i * 3 + 2] = out.data[i * 3 + 2]);
    let rules = c.node_rules(g, g.output).unwrap();
    let flow = reference_backward(g, &rules, &xs, g.output, &seed, None);
    let want = flow[0].as_ref().unwrap();
    assert_close(
        "LRP map",
        &e.map.data,
        &want.data,
        1e-5 * scale(&want.data) + 1e-7,
        1e-4,
    );
    // The conservation report: the GPU's per-node sums equal the reference's.
    for layer in e.layers.as_ref().unwrap() {
        let k = g.find(&layer.name).unwrap();
        let item: usize = g.nodes[k].shape.iter().product();
        for i in 0..2 {
            let want = flow[k]
                .as_ref()
                .map_or(0.0, |t| t.data[i * item..(i + 1) * item].iter().sum());
            let got = layer.sums[i] as f64;
            assert!(
                (got - want).abs() <= 1e-5 * want.abs().max(1e-3),
                "sum at '{}' item {i}: {got} vs {want}",
                layer.name
            );
        }
    }
    flow
}

/// What reached a node, summed over item `i`.
pub(super) fn sum(t: &Option<Tensor<f64>>, i: usize) -> f64 {
    let t = t.as_ref().unwrap();
    let item = t.data.len() / t.shape[0];
    t.data[i * item..(i + 1) * item].iter().sum()
}

#[test]
fn the_gate_rule_sends_all_relevance_to_the_gated_input_and_none_to_the_gate() {
    for gate_first in [false, true] {
        let mut rng = Rng::new(41);
        let g = se_net(&mut rng, gate_first);
        let x = rng.tensor(&[2, 3, 6, 6]);
        let c = Composite::uniform(Rule::Epsilon { epsilon: 1e-3 });
        assert_eq!(
            c.rule_of(glimpse::layers::LayerClass::Product),
            Rule::ConstantGate
        );
        let flow = lrp_against_reference(&g, &c, &x);
        let [a, s, m] = ["a", "s", "m"].map(|n| g.find(n).unwrap());
        for n in ["squeeze", "fc1", "fc1_relu", "fc2", "s"] {
            assert!(
                flow[g.find(n).unwrap()].is_none(),
                "relevance reached the gate's '{n}'"
            );
        }
        assert!(flow[s].is_none());
        for i in 0..2 {
            let (into, out) = (sum(&flow[a], i), sum(&flow[m], i));
            assert!(
                (into - out).abs() <= 1e-12 * out.abs().max(1.0),
                "{into} vs {out}"
            );
        }
    }
}

#[test]
fn the_uniform_rule_sends_half_to_each_input() {
    let mut rng = Rng::new(51);
    let g = se_net(&mut rng, false);
    let x = rng.tensor(&[2, 3, 6, 6]);
    let mut c = Composite::uniform(Rule::Epsilon { epsilon: 1e-3 });
    c.overrides
        .push((LayerRef::Name("m".into()), Rule::Uniform));
    let flow = lrp_against_reference(&g, &c, &x);
    let [s, m] = ["s", "m"].map(|n| g.find(n).unwrap());
    for i in 0..2 {
        let (gate, out) = (sum(&flow[s], i), sum(&flow[m], i));
        assert!(
            (gate - out / 2.0).abs() <= 1e-12 * out.abs().max(1.0),
            "{gate} vs {out} / 2"
        );
    }
}

#[test]
fn the_gate_rule_on_a_product_with_no_gate_is_an_error_naming_it() {
    let mut g = Graph::new(vec![2, 3, 3]).unwrap();
    let a = g.push("a", Op::relu(), vec![0]).unwrap();
    let b = g
        .push("b", Op::Elementwise(Elementwise::new(Func::Tanh)), vec![0])
        .unwrap();
    let m = g.push("prod", Op::Mul(Mul), vec![a, b]).unwrap();
    let flat = g.push_reshape("flat", m, vec![18]).unwrap();
    let head = Dense {
        weight: Rng::new(5).tensor(&[2, 18]),
        bias: None,
    };
    g.push("head", Op::Dense(head), vec![flat]).unwrap();
    // The rule resolves (a product no relevance reaches needs no gate); the plan that sends
    // relevance to it is the error.
    let c = Composite::uniform(Rule::Epsilon { epsilon: 1e-3 });
    assert!(c.node_rules(&g, g.output).is_ok());
    let e = LrpPlan::new(&model(&g), &c, 1, false)
        .err()
        .expect("relevance reaches a gate rule with no gate")
        .to_string();
    assert!(e.contains("'prod'") && e.contains("uniform"), "{e}");
    let mut c = c;
    c.overrides
        .push((LayerRef::Name("prod".into()), Rule::Uniform));
    assert!(c.node_rules(&g, g.output).is_ok());
    // A rule a product does not take is refused when it is set.
    let mut bad = Composite::uniform(Rule::Epsilon { epsilon: 1e-3 });
    assert!(bad
        .set(glimpse::layers::LayerClass::Product, Rule::Norm)
        .is_err());
}

/// What the importer writes for a broadcasting sum (Add of `[4, 6, 6]` and `[4, 1, 1]`, Sub,
/// Expand): the smaller input times a Constant of ones, then an Add; for a difference the
/// subtrahend scaled by −1. The gradient against central finite differences, LRP (ε) against
/// the f64 reference, and the ones' product sends every copy's relevance back to its value.
#[test]
fn a_broadcasting_sum_through_a_product_with_ones() {
    use glimpse::layers::{BatchNorm, Constant};
    let mut rng = Rng::new(51);
    let mut g = Graph::new(vec![3, 6, 6]).unwrap();
    let c = g.push("conv", conv(&mut rng, 3, 4, 3), vec![0]).unwrap();
    let a = g.push("a", Op::relu(), vec![c]).unwrap();
    let p = g
        .push("mean", Op::GlobalAvgPool(GlobalAvgPool), vec![a])
        .unwrap();
    let ones = Constant::new(vec![4, 6, 6], vec![1.0; 144]).unwrap();
    let k = g.push("ones", Op::Constant(ones), vec![0]).unwrap();
    let b = g.push("broadcast", Op::Mul(Mul), vec![p, k]).unwrap();
    let minus = BatchNorm {
        scale: vec![-1.0; 4],
        shift: vec![0.0; 4],
    };
    let nb = g.push("negated", Op::BatchNorm(minus), vec![b]).unwrap();
    let d = g
        .push("centred", Op::Add(glimpse::layers::Add), vec![a, nb])
        .unwrap();
    let r = g.push("r", Op::relu(), vec![d]).unwrap();
    let flat = g.push_reshape("flat", r, vec![144]).unwrap();
    let head = Dense {
        weight: rng.tensor(&[3, 144]),
        bias: Some(rng.vec(3)),
    };
    g.push("head", Op::Dense(head), vec![flat]).unwrap();
    let x = rng.tensor(&[2, 3, 6, 6]);
    gradient_matches_finite_differences(&g, &x, 2, "");
    let c = Composite::uniform(Rule::Epsilon { epsilon: 1e-3 });
    let e = LrpPlan::new(&model(&g), &c, 2, true)
        .unwrap()
        .run(&x, &[Target::Class(2)])
        .unwrap();
    let xs = x.to_f64();
    let out = &reference_forward(&g, &xs)[g.output];
    let mut seed = Tensor::zeros(out.shape.clone());
    (0..2).for_each(|i| seed.data[i * 3 + 2] = out.data[i * 3 + 2]);
    let rules = c.node_rules(&g, g.output).unwrap();
    let flow = reference_backward(&g, &rules, &xs, g.output, &seed, None);
    let want = flow[0].as_ref().unwrap();
    assert_close(
        "LRP",
        &e.map.data,
        &want.data,
        1e-5 * scale(&want.data),
        1e-4,
    );
    // The product with ones: what reaches the mean equals what left the broadcast copies.
    let (into, copies) = (flow[p].as_ref().unwrap(), flow[b].as_ref().unwrap());
    for i in 0..2 {
        let sum = |t: &Tensor<f64>, n: usize| t.data[i * n..(i + 1) * n].iter().sum::<f64>();
        assert!((sum(into, 4) - sum(copies, 144)).abs() <= 1e-9 * sum(copies, 144).abs().max(1e-9));
    }
}

/// A division of two activations of one shape, `a / s`, as the importer writes it (`a ·
/// Reciprocal(s)`): the reciprocal is the gate the gate rule holds constant (a normaliser), so
/// relevance goes to the numerator only; the gradient reaches both as finite differences say.
#[test]
fn a_division_holds_its_divisor_constant() {
    let mut rng = Rng::new(61);
    let mut g = Graph::new(vec![3, 6, 6]).unwrap();
    let c1 = g.push("conv_a", conv(&mut rng, 3, 4, 3), vec![0]).unwrap();
    let a = g.push("a", Op::relu(), vec![c1]).unwrap();
    let c2 = g.push("conv_s", conv(&mut rng, 3, 4, 3), vec![0]).unwrap();
    let sig = Op::Elementwise(Elementwise::new(Func::Sigmoid));
    let s = g.push("s", sig, vec![c2]).unwrap();
    let recip = Op::Elementwise(Elementwise::new(Func::Reciprocal));
    let r = g.push("r", recip, vec![s]).unwrap();
    let m = g.push("m", Op::Mul(Mul), vec![a, r]).unwrap();
    let q = g
        .push("pool", Op::GlobalAvgPool(GlobalAvgPool), vec![m])
        .unwrap();
    let flat = g.push_reshape("flat", q, vec![4]).unwrap();
    let head = Dense {
        weight: rng.tensor(&[3, 4]),
        bias: Some(rng.vec(3)),
    };
    g.push("head", Op::Dense(head), vec![flat]).unwrap();
    let x = rng.tensor(&[2, 3, 6, 6]);
    gradient_matches_finite_differences(&g, &x, 0, "");
    let c = Composite::uniform(Rule::Epsilon { epsilon: 1e-3 });
    let flow = lrp_against_reference(&g, &c, &x);
    for k in [r, s, c2] {
        assert!(
            flow[k].is_none(),
            "relevance reached the divisor's node {k}"
        );
    }
    for i in 0..2 {
        let (into, out) = (sum(&flow[a], i), sum(&flow[m], i));
        assert!(
            (into - out).abs() <= 1e-12 * out.abs().max(1.0),
            "{into} vs {out}"
        );
    }
}
