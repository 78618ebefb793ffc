//! Winograd F(2×2, 3×3) convolutions against the f64 reference: the forward pass (bias, odd
//! sizes, every padding the kernels take), LRP's z⁺ / γ / αβ passes on the modified weights and
//! their adjoints, the gradient's adjoint, and a layer split into chunks of tiles by a small
//! binding limit. Each result also differs from the direct kernels' in the last bits, which
//! shows that the Winograd kernels, not the direct ones, computed it.

use crate::common::{assert_close, gpu, reference_relevance, Rng};
use glimpse::explain::backward::{gradient_rules, reference_backward, GradMode};
use glimpse::explain::gradient::{GradientMap, GradientPlan};
use glimpse::explain::{explained_node, Bound, Composite, LrpPlan, Rule, Target};
use glimpse::gpu::KernelFlavor;
use glimpse::layers::{reference_forward, Conv2d};
use glimpse::model::{Graph, Op, Tensor};
use glimpse::{DeviceModel, Gpu, Predictor};

/// The subgroup flavor (the one Winograd serves), with Winograd on or off.
fn device(winograd: bool) -> Gpu {
    let g = gpu();
    assert!(g.supported_flavors().contains(&KernelFlavor::Subgroup));
    g.with_flavor(KernelFlavor::Subgroup)
        .with_winograd(winograd)
}

fn conv3(rng: &mut Rng, cout: usize, cin: usize, pads: [usize; 4], bias: bool) -> Conv2d {
    Conv2d {
        weight: Tensor::new(
            vec![cout, cin, 3, 3],
            rng.vec(cout * cin * 9).iter().map(|v| v * 0.3).collect(),
        )
        .unwrap(),
        bias: bias.then(|| rng.vec(cout).iter().map(|v| v * 0.1).collect()),
        stride: [1, 1],
        pads,
        dilation: [1, 1],
        groups: 1,
    }
}

/// input [64, 11, 13] → conv 64→66 (pad 1, bias) → ReLU → conv 66→64 (pads t0 l2 b2 r0) → ReLU
/// → conv 64→65 (pads t2 l0 b0 r1, bias) → ReLU → flatten → dense → 5: odd sizes (partial
/// tiles), output channels not a multiple of 4, every top/left padding from 0 to 2, and every
/// channel count at or above Winograd's threshold of 64.
fn net(rng: &mut Rng) -> Graph {
    let mut g = Graph::new(vec![64, 11, 13]).unwrap();
    let a = g
        .push(
            "conv1",
            Op::Conv2d(conv3(rng, 66, 64, [1; 4], true)),
            vec![0],
        )
        .unwrap();
    let a = g.push("relu1", Op::relu(), vec![a]).unwrap();
    let c2 = conv3(rng, 64, 66, [0, 2, 2, 0], false);
    let a = g.push("conv2", Op::Conv2d(c2), vec![a]).unwrap();
    let a = g.push("relu2", Op::relu(), vec![a]).unwrap();
    let c3 = conv3(rng, 65, 64, [2, 0, 0, 1], true);
    let a = g.push("conv3", Op::Conv2d(c3), vec![a]).unwrap();
    let a = g.push("relu3", Op::relu(), vec![a]).unwrap();
    let n: usize = g.nodes[a].shape.iter().product();
    let f = g.push_reshape("flatten", a, vec![n]).unwrap();
    let d = glimpse::layers::Dense {
        weight: rng.tensor(&[5, n]),
        bias: Some(rng.vec(5)),
    };
    g.push("fc", Op::Dense(d), vec![f]).unwrap();
    g
}

fn predict(gpu: &Gpu, graph: &Graph, x: &Tensor) -> Vec<f32> {
    let mut plan = Predictor::new(&DeviceModel::new(gpu, graph.clone()), x.shape[0]).unwrap();
    plan.run(x).unwrap().data
}

fn differ(what: &str, a: &[f32], b: &[f32]) {
    assert!(
        a.iter().zip(b).any(|(x, y)| x != y),
        "{what}: Winograd gave the direct kernels' result bit for bit; was it run?"
    );
}

/// A random net, a batch of 3 inputs for it and the f64 reference of its output.
fn forward_case(seed: u64) -> (Graph, Tensor, Vec<f64>) {
    let mut rng = Rng::new(seed);
    let g = net(&mut rng);
    let x = rng.tensor(&[3, 64, 11, 13]);
    let mut want = reference_forward(&g, &x.to_f64());
    let out = std::mem::take(&mut want[g.output].data);
    (g, x, out)
}

#[test]
fn forward_matches_the_reference() {
    let (g, x, want) = forward_case(141);
    let on = predict(&device(true), &g, &x);
    assert_close("forward (Winograd)", &on, &want, 1e-5, 1e-4);
    let off = predict(&device(false), &g, &x);
    assert_close("forward (direct)", &off, &want, 1e-5, 1e-4);
    differ("forward", &on, &off);
}

#[test]
fn chunks_of_tiles_match_the_reference() {
    let (g, x, want) = forward_case(142);
    // 384 KiB bindings: the transformed weights (at most 16 × 64 × 68 floats) bind whole, and
    // conv1's 126 tiles × 64 input channels × 16 positions (504 KiB) run in two chunks.
    let small = Gpu::with_limits(Some(384 << 10))
        .unwrap()
        .with_flavor(KernelFlavor::Subgroup);
    let got = predict(&small, &g, &x);
    assert_close("chunked forward", &got, &want, 1e-5, 1e-4);
    let whole = predict(&device(true), &g, &x);
    assert_eq!(got, whole, "chunks change nothing but the scratch");
}

#[test]
fn lrp_rules_match_the_reference() {
    let mut rng = Rng::new(143);
    let g = net(&mut rng);
    let x = rng.tensor(&[2, 64, 11, 13]);
    let preset = |n| Composite::preset(n, Bound::Scalar(-1.0), Bound::Scalar(1.0)).unwrap();
    let composites = [
        ("z+ (epsilon-plus-flat)", preset("epsilon-plus-flat")),
        ("alpha2-beta1", preset("epsilon-alpha2-beta1")),
        ("gamma", Composite::uniform(Rule::Gamma { gamma: 0.25 })),
        (
            "epsilon",
            Composite::uniform(Rule::Epsilon { epsilon: 0.1 }),
        ),
    ];
    for (what, composite) in composites {
        let want = reference_relevance(&g, &composite, &x, &[Target::Predicted]);
        let scale = want.data.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        let mut maps = Vec::new();
        for winograd in [true, false] {
            let model = DeviceModel::new(&device(winograd), g.clone());
            let mut plan = LrpPlan::new(&model, &composite, 2, false).unwrap();
            let got = plan.run(&x, &[Target::Predicted]).unwrap().map.data;
            let what = format!("{what} (Winograd {winograd})");
            assert_close(&what, &got, &want.data, 1e-4 * scale + 1e-7, 1e-4);
            maps.push(got);
        }
        differ(what, &maps[0], &maps[1]);
    }
}

#[test]
fn gradient_matches_the_reference() {
    let mut rng = Rng::new(144);
    let g = net(&mut rng);
    let x = rng.tensor(&[2, 64, 11, 13]);
    let targets = [Target::Class(1), Target::Class(3)];
    let xs = x.to_f64();
    let start = explained_node(&g);
    let mut seed = Tensor::zeros(vec![2, 5]);
    seed.data[1] = 1.0;
    seed.data[5 + 3] = 1.0;
    let rules = gradient_rules(&g, GradMode::Gradient);
    let want = reference_backward(&g, &rules, &xs, start, &seed, None)[0]
        .clone()
        .unwrap();
    let scale = want.data.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    let mut maps = Vec::new();
    for winograd in [true, false] {
        let model = DeviceModel::new(&device(winograd), g.clone());
        let mut plan = GradientPlan::new(&model, GradientMap::Gradient, 2).unwrap();
        let got = plan.run(&x, &targets).unwrap().map.data;
        let what = format!("gradient (Winograd {winograd})");
        assert_close(&what, &got, &want.data, 1e-4 * scale + 1e-7, 1e-4);
        maps.push(got);
    }
    differ("gradient", &maps[0], &maps[1]);
}
