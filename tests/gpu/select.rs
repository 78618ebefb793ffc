//! Transpose, Slice (Split's parts) and Concat along any axis on the GPU, in a net that
//! shuffles channels as ShuffleNetV2 does: forward against the f64 reference, the gradient
//! against finite differences, and LRP (what flows back is moved back, never ruled) against
//! the f64 reference with relevance conserved across each of them.

use crate::common::{assert_close, finite_difference_gradient, model, Rng};
use glimpse::explain::backward::reference_backward;
use glimpse::explain::gradient::{GradientMap, GradientPlan};
use glimpse::explain::{Bound, Composite, LrpPlan, Rule, Target};
use glimpse::layers::slice::AxisRange;
use glimpse::layers::{reference_forward, Concat, Conv2d, Dense, GlobalAvgPool, Slice, Transpose};
use glimpse::model::{Graph, Op, Tensor};
use glimpse::Predictor;

fn conv(rng: &mut Rng, cin: usize, cout: usize, bias: bool) -> Op {
    Op::Conv2d(Conv2d {
        weight: rng.tensor(&[cout, cin, 3, 3]),
        bias: bias.then(|| rng.vec(cout)),
        stride: [1, 1],
        pads: [1; 4],
        dilation: [1, 1],
        groups: 1,
    })
}

fn range(start: usize, len: usize, step: i64) -> AxisRange {
    AxisRange { start, len, step }
}

/// input [2, 4, 5] → conv 2→4 → shuffle (Reshape [2, 2, 4, 5], Transpose (1, 0, 2, 3), Reshape
/// [4, 4, 5]) → split channels 0..2 | 2..4 → conv on the second → Concat along W with the
/// first reversed in W (step −1) → [2, 4, 10] → a strided slice in H (rows 3, 1) → pool → dense.
fn shuffle_net(rng: &mut Rng, bias: bool) -> Graph {
    let mut g = Graph::new(vec![2, 4, 5]).unwrap();
    let c = g.push("conv", conv(rng, 2, 4, bias), vec![0]).unwrap();
    let r = g.push_reshape("groups", c, vec![2, 2, 4, 5]).unwrap();
    let t = g
        .push(
            "shuffle",
            Op::Transpose(Transpose {
                perm: vec![1, 0, 2, 3],
            }),
            vec![r],
        )
        .unwrap();
    let back = g.push_reshape("ungroup", t, vec![4, 4, 5]).unwrap();
    let half = |start| Slice {
        ranges: vec![range(start, 2, 1), range(0, 4, 1), range(0, 5, 1)],
    };
    let a = g.push("split:0", Op::Slice(half(0)), vec![back]).unwrap();
    let b = g.push("split:1", Op::Slice(half(2)), vec![back]).unwrap();
    let flipped = Slice {
        ranges: vec![range(0, 2, 1), range(0, 4, 1), range(4, 5, -1)],
    };
    let af = g.push("flip", Op::Slice(flipped), vec![a]).unwrap();
    let bc = g.push("branch", conv(rng, 2, 2, bias), vec![b]).unwrap();
    let cat = g
        .push("cat", Op::Concat(Concat { axis: 2 }), vec![af, bc])
        .unwrap();
    let rows = Slice {
        ranges: vec![range(0, 2, 1), range(3, 2, -2), range(0, 10, 1)],
    };
    let s = g.push("rows", Op::Slice(rows), vec![cat]).unwrap();
    let p = g
        .push("pool", Op::GlobalAvgPool(GlobalAvgPool), vec![s])
        .unwrap();
    let f = g.push_reshape("flat", p, vec![2]).unwrap();
    let head = Dense {
        weight: rng.tensor(&[3, 2]),
        bias: bias.then(|| rng.vec(3)),
    };
    g.push("head", Op::Dense(head), vec![f]).unwrap();
    g
}

fn scale(v: &[f64]) -> f64 {
    v.iter().fold(0.0f64, |m, x| m.max(x.abs()))
}

#[test]
fn forward_matches_the_f64_reference() {
    let mut rng = Rng::new(71);
    let g = shuffle_net(&mut rng, true);
    let x = rng.tensor(&[3, 2, 4, 5]);
    let values = reference_forward(&g, &x.to_f64());
    let got = Predictor::new(&model(&g), 3).unwrap().run(&x).unwrap();
    assert_close("logits", &got.data, &values[g.output].data, 1e-5, 1e-5);
    // The shuffle by hand: channel k of `ungroup` is channel (k % 2) · 2 + k / 2 of `conv`.
    let (conv, ungroup) = (
        &values[g.find("conv").unwrap()],
        &values[g.find("ungroup").unwrap()],
    );
    for k in 0..4 {
        let from = (k % 2) * 2 + k / 2;
        assert_eq!(
            ungroup.data[k * 20..(k + 1) * 20],
            conv.data[from * 20..(from + 1) * 20]
        );
    }
}

#[test]
fn the_gradient_matches_finite_differences() {
    let mut rng = Rng::new(72);
    let g = shuffle_net(&mut rng, true);
    let x = rng.tensor(&[2, 2, 4, 5]);
    let got = GradientPlan::new(&model(&g), GradientMap::Gradient, 2)
        .unwrap()
        .run(&x, &[Target::Class(1)])
        .unwrap();
    for i in 0..2 {
        let want = finite_difference_gradient(&g, &x, i, 1);
        assert_close(
            &format!("∂f/∂x item {i}"),
            &got.map.data[i * 40..(i + 1) * 40],
            &want,
            1e-4 * scale(&want) + 1e-7,
            1e-3,
        );
    }
}

#[test]
fn lrp_moves_relevance_back_and_conserves_it() {
    let mut rng = Rng::new(73);
    let g = shuffle_net(&mut rng, false);
    let x = rng.tensor(&[2, 2, 4, 5]);
    let c = Composite::uniform(Rule::Epsilon { epsilon: 1e-6 });
    let e = LrpPlan::new(&model(&g), &c, 2, true)
        .unwrap()
        .run(&x, &[Target::Class(0)])
        .unwrap();
    let xs = x.to_f64();
    let out = &reference_forward(&g, &xs)[g.output];
    let mut seed = Tensor::zeros(out.shape.clone());
    (0..2).for_each(|i| seed.data[i * 3] = out.data[i * 3]);
    let rules = c.node_rules(&g, g.output).unwrap();
    let flow = reference_backward(&g, &rules, &xs, g.output, &seed, None);
    let want = flow[0].as_ref().unwrap();
    assert_close(
        "LRP map",
        &e.map.data,
        &want.data,
        1e-5 * scale(&want.data),
        1e-4,
    );
    // No biases, ε = 1e-6: relevance sums to the explained logit across every cut of the
    // graph: each node all paths cross, and each pair of parallel branches together.
    let sums = |name: &str| {
        let l = e.layers.as_ref().unwrap().iter().find(|l| l.name == name);
        l.unwrap_or_else(|| panic!("no sum at '{name}'"))
            .sums
            .clone()
    };
    let cuts: [&[&str]; 8] = [
        &["input"],
        &["conv"],
        &["shuffle"],
        &["split:0", "split:1"],
        &["flip", "branch"],
        &["cat"],
        &["rows"],
        &["pool"],
    ];
    for cut in cuts {
        for i in 0..2 {
            let f = out.data[i * 3];
            let got: f64 = cut.iter().map(|n| sums(n)[i] as f64).sum();
            assert!(
                (got - f).abs() <= 1e-4 * f.abs(),
                "{cut:?} item {i}: {got} vs f(x) = {f}"
            );
        }
    }
}

/// A DenseNet-like chain, each block concatenating everything before it: the plan builds in
/// time linear in the blocks (a recursion over shared ancestors once made DenseNet-121's LRP
/// plan take more than 15 minutes; 2^48 visits here would never finish).
#[test]
fn an_lrp_plan_over_dense_concatenations_builds() {
    let mut rng = Rng::new(74);
    let mut g = Graph::new(vec![1, 3, 3]).unwrap();
    let mut all = g
        .push("stem", conv(&mut rng, 1, 1, false), vec![0])
        .unwrap();
    let mut channels = 1;
    for k in 0..48 {
        let r = g.push(format!("relu{k}"), Op::relu(), vec![all]).unwrap();
        let c = g
            .push(
                format!("conv{k}"),
                conv(&mut rng, channels, 1, false),
                vec![r],
            )
            .unwrap();
        all = g
            .push(
                format!("cat{k}"),
                Op::Concat(Concat::channels()),
                vec![all, c],
            )
            .unwrap();
        channels += 1;
    }
    let p = g
        .push("pool", Op::GlobalAvgPool(GlobalAvgPool), vec![all])
        .unwrap();
    let f = g.push_reshape("flat", p, vec![channels]).unwrap();
    let head = Dense {
        weight: rng.tensor(&[2, channels]),
        bias: None,
    };
    g.push("head", Op::Dense(head), vec![f]).unwrap();
    let c = Composite::preset("epsilon-plus-flat", Bound::Scalar(0.0), Bound::Scalar(1.0)).unwrap();
    let x = rng.tensor(&[1, 1, 3, 3]);
    let e = LrpPlan::new(&model(&g), &c, 1, false)
        .unwrap()
        .run(&x, &[Target::Class(0)])
        .unwrap();
    assert!(e.map.data.iter().all(|v| v.is_finite()));
}

/// A constant border on a channels-last map ([H, W, C]: Swin's windows) and on the channels,
/// forward and gradient against the references.
#[test]
fn pad_on_any_axis_matches_the_references() {
    let mut rng = Rng::new(97);
    let mut g = Graph::new(vec![2, 3, 4]).unwrap();
    let pad = glimpse::layers::Pad {
        before: vec![1, 0, 0],
        after: vec![0, 2, 1],
        value: 0.5,
    };
    let p = g.push("pad", Op::Pad(pad), vec![0]).unwrap();
    assert_eq!(g.nodes[p].shape, [3, 5, 5]);
    let flat = g.push_reshape("flat", p, vec![75]).unwrap();
    let head = Dense {
        weight: rng.tensor(&[3, 75]),
        bias: Some(rng.vec(3)),
    };
    g.push("head", Op::Dense(head), vec![flat]).unwrap();
    let x = rng.tensor(&[2, 2, 3, 4]);
    let values = reference_forward(&g, &x.to_f64());
    // The border holds the value, the inside the input.
    assert_eq!(values[p].data[0], 0.5);
    assert_eq!(values[p].data[25], x.data[0] as f64);
    let got = Predictor::new(&model(&g), 2).unwrap().run(&x).unwrap();
    assert_close("logits", &got.data, &values[g.output].data, 1e-5, 1e-5);
    let grad = GradientPlan::new(&model(&g), GradientMap::Gradient, 2)
        .unwrap()
        .run(&x, &[Target::Class(0), Target::Class(2)])
        .unwrap();
    for (i, class) in [(0, 0), (1, 2)] {
        let fd = finite_difference_gradient(&g, &x, i, class);
        assert_close(
            &format!("∂f/∂x item {i}"),
            &grad.map.data[i * 24..(i + 1) * 24],
            &fd,
            1e-5,
            1e-3,
        );
    }
}
