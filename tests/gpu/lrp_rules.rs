//! LRP on the GPU against the f64 reference for every rule, the hand cases of the issue,
//! conservation, LRP-0 = gradient × input, z⁺ = α1β0, and the continuity toy.

use crate::common::{assert_close, gpu, reference_relevance, Rng};
use crate::lrp_hand_cases::{explain, hand_net};
use glimpse::explain::{Bound, Composite, LayerRef, LrpPlan, Rule, Target};
use glimpse::layers::{reference_forward, Conv2d, Dense, Pool2d};
use glimpse::model::{Graph, Op, Tensor};

/// input [3,6,6] → conv 3→4 (pad 1) → ReLU → max pool 2 → conv 4→4 → ReLU → flatten → dense 16→5.
pub(crate) fn small_cnn(rng: &mut Rng, bias: bool) -> Graph {
    let mut g = Graph::new(vec![3, 6, 6]).unwrap();
    let conv = |rng: &mut Rng, cout, cin, pad| Conv2d {
        weight: rng.tensor(&[cout, cin, 3, 3]),
        bias: bias.then(|| rng.vec(cout).iter().map(|v| v * 0.1).collect()),
        stride: [1, 1],
        pads: [pad; 4],
        dilation: [1, 1],
        groups: 1,
    };
    let c1 = g
        .push("conv1", Op::Conv2d(conv(rng, 4, 3, 1)), vec![0])
        .unwrap();
    let r1 = g.push("relu1", Op::relu(), vec![c1]).unwrap();
    let pool = Pool2d {
        kernel: [2, 2],
        stride: [2, 2],
        pads: [0; 4],
        count_include_pad: false,
        ceil_mode: false,
    };
    let p = g.push("pool", Op::max_pool(pool), vec![r1]).unwrap();
    let c2 = g
        .push("conv2", Op::Conv2d(conv(rng, 4, 4, 0)), vec![p])
        .unwrap();
    let r2 = g.push("relu2", Op::relu(), vec![c2]).unwrap();
    let f = g.push_reshape("flatten", r2, vec![4]).unwrap();
    let d = Dense {
        weight: rng.tensor(&[5, 4]),
        bias: bias.then(|| rng.vec(5)),
    };
    g.push("fc", Op::Dense(d), vec![f]).unwrap();
    g
}

/// GPU relevance vs the f64 reference for one composite; returns the GPU explanation.
pub(crate) fn check(
    what: &str,
    graph: &Graph,
    composite: &Composite,
    x: &Tensor,
    targets: &[Target],
) -> glimpse::explain::Explanation {
    check_on(gpu(), what, graph, composite, x, targets)
}

fn check_on(
    gpu: &glimpse::Gpu,
    what: &str,
    graph: &Graph,
    composite: &Composite,
    x: &Tensor,
    targets: &[Target],
) -> glimpse::explain::Explanation {
    let mut plan = LrpPlan::new(
        &glimpse::DeviceModel::new(gpu, (graph).clone()),
        composite,
        x.shape[0],
        true,
    )
    .unwrap_or_else(|e| panic!("{what}: {e}"));
    let got = plan
        .run(x, targets)
        .unwrap_or_else(|e| panic!("{what}: {e}"));
    let want = reference_relevance(graph, composite, x, targets);
    let scale = want.data.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    assert_close(what, &got.map.data, &want.data, 1e-4 * scale + 1e-7, 1e-4);
    got
}

fn rules_under_test() -> Vec<(&'static str, Rule)> {
    vec![
        ("epsilon 0.25", Rule::Epsilon { epsilon: 0.25 }),
        ("epsilon 1e-6", Rule::Epsilon { epsilon: 1e-6 }),
        ("gamma 0.25", Rule::Gamma { gamma: 0.25 }),
        ("alpha1beta0", Rule::alpha_beta(1.0, 0.0).unwrap()),
        ("alpha2beta1", Rule::alpha_beta(2.0, 1.0).unwrap()),
        ("alpha3beta2", Rule::alpha_beta(3.0, 2.0).unwrap()),
        ("zplus", Rule::ZPlus),
        (
            "zbox",
            Rule::ZBox {
                low: Bound::Scalar(-1.0),
                high: Bound::PerChannel(vec![1.0, 0.5, 2.0, 1.5]),
            },
        ),
        ("wsquare", Rule::WSquare),
        ("flat", Rule::Flat),
    ]
}

#[test]
fn every_rule_matches_the_reference_with_and_without_bias() {
    for bias in [true, false] {
        let mut rng = Rng::new(100 + bias as u64);
        let graph = small_cnn(&mut rng, bias);
        let x = rng.tensor(&[2, 3, 6, 6]);
        for (name, rule) in rules_under_test() {
            let composite = Composite::uniform(rule);
            check(
                &format!("{name}, bias {bias}"),
                &graph,
                &composite,
                &x,
                &[Target::Predicted, Target::Class(3)],
            );
            let ib = Composite {
                ignore_bias: true,
                ..composite
            };
            check(
                &format!("{name}, bias {bias}, ignored"),
                &graph,
                &ib,
                &x,
                &[
                    Target::Class(1),
                    Target::Weights(vec![1.0, -1.0, 0.0, 0.5, 0.0]),
                ],
            );
        }
    }
}

#[test]
fn presets_match_the_reference() {
    let mut rng = Rng::new(7);
    let graph = small_cnn(&mut rng, true);
    let x = rng.tensor(&[2, 3, 6, 6]);
    for name in glimpse::explain::PRESET_NAMES.split(", ") {
        let c = Composite::preset(name, Bound::Scalar(-1.0), Bound::Scalar(1.0)).unwrap();
        check(name, &graph, &c, &x, &[Target::Predicted]);
    }
}

#[test]
fn bias_free_relu_networks_conserve_at_every_layer() {
    let mut rng = Rng::new(11);
    let graph = small_cnn(&mut rng, false);
    let x = rng.tensor(&[3, 3, 6, 6]);
    for rule in [Rule::Epsilon { epsilon: 0.0 }, Rule::ZPlus, Rule::WSquare] {
        let e = check(
            &format!("{rule:?}"),
            &graph,
            &Composite::uniform(rule.clone()),
            &x,
            &[Target::Predicted],
        );
        for (i, &c) in e.classes.iter().enumerate() {
            let fx = e.outputs.data[i * 5 + c] as f64;
            for layer in e.layers.as_ref().unwrap() {
                let dev = (layer.sums[i] as f64 - fx).abs();
                assert!(
                    dev <= 1e-4 * fx.abs(),
                    "{rule:?}: layer {} sums to {} but f(x) = {fx}",
                    layer.name,
                    layer.sums[i]
                );
            }
        }
    }
}

#[test]
fn lrp0_is_gradient_times_input_and_zplus_is_alpha1beta0() {
    let mut rng = Rng::new(12);
    let graph = small_cnn(&mut rng, true);
    let x = rng.tensor(&[1, 3, 6, 6]);
    let e = check(
        "lrp0",
        &graph,
        &Composite::uniform(Rule::Epsilon { epsilon: 0.0 }),
        &x,
        &[Target::Class(2)],
    );
    // Gradient by central differences on the f64 reference (the network is piecewise linear).
    let xs = x.to_f64();
    let h = 1e-6;
    let mut gxi = Vec::new();
    for i in 0..xs.data.len() {
        let mut up = xs.clone();
        up.data[i] += h;
        let mut down = xs.clone();
        down.data[i] -= h;
        let fu = reference_forward(&graph, &up)[graph.output].data[2];
        let fd = reference_forward(&graph, &down)[graph.output].data[2];
        gxi.push((fu - fd) / (2.0 * h) * xs.data[i]);
    }
    let scale = gxi.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    assert_close(
        "LRP-0 vs gradient × input",
        &e.map.data,
        &gxi,
        1e-4 * scale,
        1e-3,
    );
    let zp = check(
        "zplus",
        &graph,
        &Composite::uniform(Rule::ZPlus),
        &x,
        &[Target::Class(2)],
    );
    let ab = check(
        "a1b0",
        &graph,
        &Composite::uniform(Rule::alpha_beta(1.0, 0.0).unwrap()),
        &x,
        &[Target::Class(2)],
    );
    assert_eq!(zp.map.data, ab.map.data);
}

/// f(x) = max(x1, x2) for x ≥ 0 as a ReLU network: ½(relu(x1−x2) + relu(x2−x1) + relu(x1+x2)).
fn max_net() -> Graph {
    let mut g = Graph::new(vec![2]).unwrap();
    let w1 = Tensor::new(vec![3, 2], vec![1.0, -1.0, -1.0, 1.0, 1.0, 1.0]).unwrap();
    let h = g
        .push(
            "hidden",
            Op::Dense(Dense {
                weight: w1,
                bias: None,
            }),
            vec![0],
        )
        .unwrap();
    let r = g.push("relu", Op::relu(), vec![h]).unwrap();
    g.push(
        "out",
        Op::Dense(Dense {
            weight: Tensor::new(vec![1, 3], vec![0.5; 3]).unwrap(),
            bias: None,
        }),
        vec![r],
    )
    .unwrap();
    g
}

#[test]
fn continuity_toy_zplus_is_continuous_where_gradient_times_input_jumps() {
    let g = max_net();
    let d = 1e-3f32;
    let pts = vec![1.0 + d, 1.0, 1.0 - d, 1.0];
    let zp = explain(&g, &Composite::uniform(Rule::ZPlus), pts.clone(), 2);
    let gi = explain(
        &g,
        &Composite::uniform(Rule::Epsilon { epsilon: 0.0 }),
        pts,
        2,
    );
    assert_close(
        "f = max",
        &zp.outputs.data,
        &[1.0 + d as f64, 1.0],
        1e-6,
        1e-6,
    );
    let jump = |r: &[f32]| (r[0] - r[2]).abs().max((r[1] - r[3]).abs());
    assert!(jump(&zp.map.data) < 0.01, "z⁺ jumps: {:?}", zp.map.data);
    assert!(
        jump(&gi.map.data) > 0.9,
        "gradient × input should jump: {:?}",
        gi.map.data
    );
}

#[test]
fn composites_resolve_names_overrides_and_errors() {
    let mut rng = Rng::new(13);
    let graph = small_cnn(&mut rng, true);
    let c = Composite::preset("epsilon-gamma-box", Bound::Scalar(0.0), Bound::Scalar(1.0)).unwrap();
    let rules = c.rules(&graph).unwrap();
    assert!(matches!(rules[1], Rule::ZBox { .. }), "{:?}", rules[1]);
    assert!(matches!(rules[4], Rule::Gamma { .. }));
    assert!(matches!(rules[3], Rule::ArgMax));
    let start = graph.output;
    let flat =
        Composite::preset("epsilon-plus-flat", Bound::Scalar(0.0), Bound::Scalar(1.0)).unwrap();
    assert_eq!(flat.rules(&graph).unwrap()[1], Rule::Flat);
    let err = Composite::preset("nope", Bound::Scalar(0.0), Bound::Scalar(1.0))
        .unwrap_err()
        .to_string();
    assert!(err.contains("epsilon-plus-flat"), "{err}");
    let mut bad = Composite::uniform(Rule::ZPlus);
    bad.overrides
        .push((LayerRef::Name("relu1".into()), Rule::ZPlus));
    assert!(bad
        .node_rules(&graph, start)
        .unwrap_err()
        .to_string()
        .contains("relu1"));
    let mut missing = Composite::uniform(Rule::ZPlus);
    missing
        .overrides
        .push((LayerRef::Name("nothing".into()), Rule::Flat));
    assert!(missing
        .node_rules(&graph, start)
        .unwrap_err()
        .to_string()
        .contains("conv1"));
    let mut by_index = Composite::uniform(Rule::ZPlus);
    by_index.overrides.push((LayerRef::Index(4), Rule::Flat));
    assert_eq!(by_index.rules(&graph).unwrap()[4], Rule::Flat);
}

#[test]
fn many_classes_of_one_input_in_one_plan() {
    let mut rng = Rng::new(15);
    let graph = small_cnn(&mut rng, true);
    let x = rng.tensor(&[3, 6, 6]);
    let c = Composite::uniform(Rule::Epsilon { epsilon: 0.25 });
    let mut plan = LrpPlan::new(&crate::common::model(&graph), &c, 5, false).unwrap();
    let all = plan.run_classes(&x, &[0, 1, 2, 3, 4]).unwrap();
    assert_eq!(all.classes, vec![0, 1, 2, 3, 4]);
    let one = Tensor::new(vec![1, 3, 6, 6], x.data.clone()).unwrap();
    for k in 0..5 {
        let single = plan.run(&one, &[Target::Class(k)]).unwrap();
        assert_eq!(
            single.map.data,
            all.map.data[k * 108..(k + 1) * 108].to_vec(),
            "class {k}"
        );
    }
}

#[test]
fn wrong_targets_are_errors() {
    let g = hand_net(2.0);
    let mut plan = LrpPlan::new(
        &crate::common::model(&g),
        &Composite::uniform(Rule::ZPlus),
        1,
        false,
    )
    .unwrap();
    let x = Tensor::new(vec![1, 3], vec![1.0, 2.0, 3.0]).unwrap();
    assert!(plan
        .run(&x, &[Target::Class(4)])
        .unwrap_err()
        .to_string()
        .contains("1 outputs"));
    assert!(plan.run(&x, &[Target::Weights(vec![1.0, 2.0])]).is_err());
}

/// Strided, grouped and dilated convolutions with asymmetric padding: the stride-2 layer takes
/// the gather adjoint, the dilated one the flipped-convolution adjoint.
#[test]
fn strided_grouped_dilated_convs_match_the_reference() {
    let mut rng = Rng::new(16);
    let mut g = Graph::new(vec![4, 9, 9]).unwrap();
    let c1 = Conv2d {
        weight: rng.tensor(&[6, 2, 3, 3]),
        bias: Some(rng.vec(6)),
        stride: [2, 2],
        pads: [1, 0, 1, 1],
        dilation: [1, 1],
        groups: 2,
    };
    let a = g.push("strided", Op::Conv2d(c1), vec![0]).unwrap();
    let r = g.push("relu", Op::relu(), vec![a]).unwrap();
    let c2 = Conv2d {
        weight: rng.tensor(&[4, 6, 3, 3]),
        bias: Some(rng.vec(4)),
        stride: [1, 1],
        pads: [2, 1, 0, 2],
        dilation: [2, 1],
        groups: 1,
    };
    let b = g.push("dilated", Op::Conv2d(c2), vec![r]).unwrap();
    let r2 = g.push("relu2", Op::relu(), vec![b]).unwrap();
    let features: usize = g.nodes[r2].shape.iter().product();
    let f = g.push_reshape("flatten", r2, vec![features]).unwrap();
    g.push(
        "fc",
        Op::Dense(Dense {
            weight: rng.tensor(&[3, features]),
            bias: None,
        }),
        vec![f],
    )
    .unwrap();
    let x = rng.tensor(&[2, 4, 9, 9]);
    for (name, rule) in rules_under_test() {
        check(
            &format!("{name} on strided/dilated convs"),
            &g,
            &Composite::uniform(rule),
            &x,
            &[Target::Predicted, Target::Class(1)],
        );
    }
}

/// A DAG with a residual sum and a channel concatenation: relevance splits by slab at the
/// concat and proportionally at the sum, as the f64 reference does.
#[test]
fn concat_and_residual_sum_match_the_reference() {
    let mut rng = Rng::new(18);
    let mut g = Graph::new(vec![2, 5, 5]).unwrap();
    let conv = |rng: &mut Rng, cout, cin| Conv2d {
        weight: rng.tensor(&[cout, cin, 3, 3]),
        bias: Some(rng.vec(cout)),
        stride: [1, 1],
        pads: [1; 4],
        dilation: [1, 1],
        groups: 1,
    };
    let a = g
        .push("a", Op::Conv2d(conv(&mut rng, 3, 2)), vec![0])
        .unwrap();
    let ra = g.push("ra", Op::relu(), vec![a]).unwrap();
    let b = g
        .push("b", Op::Conv2d(conv(&mut rng, 3, 3)), vec![ra])
        .unwrap();
    let sum = g
        .push("sum", Op::Add(glimpse::layers::Add), vec![ra, b])
        .unwrap();
    let rs = g.push("rs", Op::relu(), vec![sum]).unwrap();
    let cat = g
        .push(
            "cat",
            Op::Concat(glimpse::layers::Concat::channels()),
            vec![rs, ra],
        )
        .unwrap();
    let f = g.push_reshape("flatten", cat, vec![6 * 25]).unwrap();
    g.push(
        "fc",
        Op::Dense(Dense {
            weight: rng.tensor(&[4, 150]),
            bias: Some(rng.vec(4)),
        }),
        vec![f],
    )
    .unwrap();
    let x = rng.tensor(&[2, 2, 5, 5]);
    for (name, rule) in [
        ("epsilon", Rule::Epsilon { epsilon: 0.25 }),
        ("zplus", Rule::ZPlus),
        (
            "alpha2beta1",
            Rule::AlphaBeta {
                alpha: 2.0,
                beta: 1.0,
            },
        ),
    ] {
        check(
            &format!("{name} through concat and sum"),
            &g,
            &Composite::uniform(rule),
            &x,
            &[Target::Predicted],
        );
    }
}
