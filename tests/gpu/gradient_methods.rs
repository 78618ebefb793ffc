//! The gradient family on the GPU: gradients against central finite differences of the f64
//! reference through every layer kind, IG completeness and its one-step case, SmoothGrad's
//! zero-noise case, DeepLIFT's summation-to-delta with Captum's max-pool rule, Taylor's root
//! search, the continuity toy, CAM = Grad-CAM · HW on a GAP head (bad input: method_errors.rs).

use crate::common::{assert_close, gpu, Rng};
use glimpse::explain::cam::{CamKind, CamPlan};
use glimpse::explain::gradient::{
    Baseline, DeepLiftPlan, GradientMap, GradientPlan, IntegratedGradients, Riemann, RootPoint,
    SmoothGrad, SmoothKind, SmoothOptions, TaylorPlan,
};
use glimpse::explain::{LayerRef, Target};
use glimpse::layers::{reference_forward, BatchNorm, Conv2d, Dense, Pool2d};
use glimpse::model::{Graph, Op, Tensor};

pub(crate) fn conv(rng: &mut Rng, cout: usize, cin: usize, k: usize, pad: usize) -> Conv2d {
    Conv2d {
        weight: Tensor::new(
            vec![cout, cin, k, k],
            rng.vec(cout * cin * k * k)
                .iter()
                .map(|v| v * 0.5)
                .collect(),
        )
        .unwrap(),
        bias: Some(rng.vec(cout).iter().map(|v| v * 0.1).collect()),
        stride: [1, 1],
        pads: [pad; 4],
        dilation: [1, 1],
        groups: 1,
    }
}

pub(crate) fn pool(k: usize) -> Pool2d {
    Pool2d {
        kernel: [k, k],
        stride: [k, k],
        pads: [0; 4],
        count_include_pad: false,
        ceil_mode: false,
    }
}

/// Every layer kind the backward pass knows: conv → BN → ReLU → max pool → conv → Clip, a
/// residual Add, an average-pool branch, Concat, GAP, flatten, dense (optionally a softmax).
pub(crate) fn zoo(rng: &mut Rng, softmax: bool) -> Graph {
    let mut g = Graph::new(vec![2, 6, 6]).unwrap();
    let c1 = g
        .push("conv1", Op::Conv2d(conv(rng, 4, 2, 3, 1)), vec![0])
        .unwrap();
    let bn = BatchNorm {
        scale: vec![1.5, 0.5, -0.8, 1.1],
        shift: vec![0.1, -0.2, 0.3, 0.0],
    };
    let b = g.push("bn", Op::BatchNorm(bn), vec![c1]).unwrap();
    let r1 = g.push("relu1", Op::relu(), vec![b]).unwrap();
    let mp = g.push("maxpool", Op::max_pool(pool(2)), vec![r1]).unwrap();
    let c2 = g
        .push("conv2", Op::Conv2d(conv(rng, 4, 4, 3, 1)), vec![mp])
        .unwrap();
    let r2 = g.push("relu6", Op::clip(0.0, 0.6), vec![c2]).unwrap();
    let add = g
        .push("add", Op::Add(glimpse::layers::Add), vec![r2, mp])
        .unwrap();
    let ap = g.push("avgpool", Op::avg_pool(pool(2)), vec![r1]).unwrap();
    let cat = g
        .push(
            "concat",
            Op::Concat(glimpse::layers::Concat::channels()),
            vec![add, ap],
        )
        .unwrap();
    let gap = g
        .push(
            "gap",
            Op::GlobalAvgPool(glimpse::layers::GlobalAvgPool),
            vec![cat],
        )
        .unwrap();
    let flat = g.push_reshape("flatten", gap, vec![8]).unwrap();
    let d = Dense {
        weight: rng.tensor(&[5, 8]),
        bias: Some(rng.vec(5)),
    };
    let fc = g.push("fc", Op::Dense(d), vec![flat]).unwrap();
    if softmax {
        g.push(
            "softmax",
            Op::Softmax(glimpse::layers::Softmax::default()),
            vec![fc],
        )
        .unwrap();
    }
    g
}

/// The weighted logits `w · f(x)` of one item by the f64 reference.
fn score(graph: &Graph, x: &[f64], shape: &[usize], w: &[f32]) -> f64 {
    let mut s = vec![1];
    s.extend_from_slice(shape);
    let values = reference_forward(
        graph,
        &Tensor {
            shape: s,
            data: x.to_vec(),
        },
    );
    let logits = match graph.nodes[graph.output].op {
        Op::Softmax(_) => &values[graph.nodes[graph.output].inputs[0]],
        _ => &values[graph.output],
    };
    logits.data.iter().zip(w).map(|(a, b)| a * *b as f64).sum()
}

/// Central differences of `w · f` at item `i` of `x`.
fn finite_gradient(graph: &Graph, x: &Tensor, i: usize, w: &[f32]) -> Vec<f64> {
    let d = x.numel() / x.shape[0];
    let x0: Vec<f64> = x.data[i * d..(i + 1) * d]
        .iter()
        .map(|&v| v as f64)
        .collect();
    let h = 1e-5;
    (0..d)
        .map(|k| {
            let (mut up, mut down) = (x0.clone(), x0.clone());
            up[k] += h;
            down[k] -= h;
            (score(graph, &up, &x.shape[1..], w) - score(graph, &down, &x.shape[1..], w))
                / (2.0 * h)
        })
        .collect()
}

#[test]
fn gradients_match_finite_differences_through_every_layer_kind() {
    let mut rng = Rng::new(7);
    for softmax in [false, true] {
        let graph = zoo(&mut rng, softmax);
        let x = rng.tensor(&[3, 2, 6, 6]);
        let targets = [
            Target::Class(2),
            Target::Weights(vec![1.0, -1.0, 0.0, 0.5, 0.0]),
            Target::Predicted,
        ];
        let mut plan =
            GradientPlan::new(&crate::common::model(&graph), GradientMap::Gradient, 2).unwrap();
        assert_eq!(plan.batch(), 2);
        let got = plan.run(&x, &targets).unwrap();
        let d = 72;
        for (i, target) in targets.iter().enumerate() {
            let f = got.outputs.shape[1];
            let w = target
                .weights_for(&got.outputs.data[i * f..(i + 1) * f])
                .unwrap();
            let want = finite_gradient(&graph, &x, i, &w);
            let scale = want.iter().fold(0.0f64, |m, v| m.max(v.abs()));
            assert_close(
                &format!("∂f/∂x item {i}, softmax {softmax}"),
                &got.map.data[i * d..(i + 1) * d],
                &want,
                1e-4 * scale,
                0.0,
            );
        }
        // The derived maps are the gradient, mapped.
        let g = got.map.data.clone();
        let derived = [
            (
                GradientMap::Saliency,
                g.iter().map(|v| v.abs() as f64).collect::<Vec<_>>(),
            ),
            (
                GradientMap::Sensitivity,
                g.iter().map(|v| (v * v) as f64).collect(),
            ),
            (
                GradientMap::GradientTimesInput,
                g.iter().zip(&x.data).map(|(a, b)| (a * b) as f64).collect(),
            ),
        ];
        for (map, want) in derived {
            let mut p = GradientPlan::new(&crate::common::model(&graph), map, 3).unwrap();
            let got = p.run(&x, &targets).unwrap();
            assert_close(&format!("{map:?}"), &got.map.data, &want, 1e-6, 1e-5);
        }
    }
}

pub(crate) fn fixture(name: &str) -> Graph {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("assets");
    glimpse::load_model(root.join(format!("models/{name}.onnx"))).unwrap()
}

pub(crate) fn mnist(n: usize) -> Tensor {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("assets");
    let all = glimpse::io::npy::read_f32(root.join("data/mnist_test_x.npy")).unwrap();
    Tensor::new(vec![n, 1, 28, 28], all.data[..n * 784].to_vec()).unwrap()
}

#[test]
fn integrated_gradients_are_complete_at_64_steps() {
    let graph = fixture("lenet_mnist");
    let x = mnist(6);
    let mut ig = IntegratedGradients::new(
        &crate::common::model(&graph),
        Baseline::Zero,
        64,
        Riemann::Middle,
        4,
    )
    .unwrap();
    let got = ig.run(&x, &[Target::Predicted]).unwrap();
    let refs = got.reference_scores.as_ref().unwrap();
    let residuals = got.residuals.as_ref().unwrap();
    let sums = got.sums();
    for i in 0..6 {
        let delta = got.scores[i] - refs[i];
        println!(
            "item {i}: f(x) − f(0) = {delta:.5}, ΣIG = {:.5}, residual {:.2e}",
            sums[i], residuals[i]
        );
        assert!((sums[i] - delta - -residuals[i]).abs() < 1e-9 * delta.abs().max(1.0));
        assert!(
            residuals[i].abs() <= 0.01 * delta.abs(),
            "item {i}: |ΣIG − Δf| = {:.3e} > 1% of {delta:.4}",
            residuals[i].abs()
        );
    }
}

#[test]
fn one_step_ig_from_zero_is_gradient_times_input_and_noiseless_smoothgrad_is_the_gradient() {
    let mut rng = Rng::new(11);
    let graph = zoo(&mut rng, false);
    let x = rng.tensor(&[2, 2, 6, 6]);
    let t = [Target::Class(1)];
    let gxi = GradientPlan::new(
        &crate::common::model(&graph),
        GradientMap::GradientTimesInput,
        2,
    )
    .unwrap()
    .run(&x, &t)
    .unwrap();
    let mut ig = IntegratedGradients::new(
        &crate::common::model(&graph),
        Baseline::Zero,
        1,
        Riemann::Right,
        2,
    )
    .unwrap();
    let got = ig.run(&x, &t).unwrap();
    let want: Vec<f64> = gxi.map.data.iter().map(|&v| v as f64).collect();
    assert_close("IG, 1 step", &got.map.data, &want, 1e-7, 1e-6);

    let grad = GradientPlan::new(&crate::common::model(&graph), GradientMap::Gradient, 2)
        .unwrap()
        .run(&x, &t)
        .unwrap();
    let options = SmoothOptions {
        samples: 1,
        sigma: 0.0,
        abs: false,
        ..SmoothOptions::default()
    };
    let got = SmoothGrad::new(&crate::common::model(&graph), options, 2)
        .unwrap()
        .run(&x, &t)
        .unwrap();
    let want: Vec<f64> = grad.map.data.iter().map(|&v| v as f64).collect();
    assert_close("SmoothGrad, σ = 0", &got.map.data, &want, 1e-7, 1e-6);
}

#[test]
fn smoothgrad_variants_are_moments_of_the_noisy_gradients() {
    let mut rng = Rng::new(12);
    let graph = zoo(&mut rng, false);
    let x = rng.tensor(&[2, 2, 6, 6]);
    let t = [Target::Class(0)];
    let noise = rng.tensor(&[3, 2, 2, 6, 6]);
    // The gradients at each noisy copy, from the plain gradient plan.
    let mut plain =
        GradientPlan::new(&crate::common::model(&graph), GradientMap::Gradient, 2).unwrap();
    let d = 72;
    let mut grads = Vec::new();
    for s in 0..3 {
        let mut xs = x.clone();
        for (k, v) in xs.data.iter_mut().enumerate() {
            *v += noise.data[s * 2 * d + k];
        }
        grads.push(plain.run(&xs, &t).unwrap().map.data);
    }
    // conv1's [4, 6, 6] output is the largest tensor: 576 bytes per item.
    let small = crate::common::limited(2 * 576);
    let mean = |f: &dyn Fn(f32) -> f64| -> Vec<f64> {
        (0..2 * d)
            .map(|k| grads.iter().map(|g| f(g[k])).sum::<f64>() / 3.0)
            .collect()
    };
    let m1 = mean(&|v| v.abs() as f64);
    let m2 = mean(&|v| (v * v) as f64);
    let var: Vec<f64> = m1.iter().zip(&m2).map(|(a, b)| b - a * a).collect();
    for (kind, want) in [
        (SmoothKind::Mean, m1),
        (SmoothKind::Squared, m2),
        (SmoothKind::Variance, var),
    ] {
        let options = SmoothOptions {
            kind,
            samples: 3,
            noise: Some(noise.clone()),
            ..SmoothOptions::default()
        };
        // Both inputs' 3 samples in one submission, one input's per submission, and (on a
        // device binding only 2 items of the largest tensor) one input's samples over two.
        for (device, batch) in [(gpu(), 6), (gpu(), 3), (&small, 6)] {
            let mut plan = SmoothGrad::new(
                &glimpse::DeviceModel::new(device, graph.clone()),
                options.clone(),
                batch,
            )
            .unwrap();
            let got = plan.run(&x, &t).unwrap();
            assert_close(
                &format!("{kind:?}, batch {batch}"),
                &got.map.data,
                &want,
                1e-6,
                1e-5,
            );
        }
    }
    // Seeded noise is reproducible and depends on the seed.
    let seeded = |seed| {
        let options = SmoothOptions {
            samples: 4,
            sigma: 0.2,
            seed,
            ..SmoothOptions::default()
        };
        SmoothGrad::new(&crate::common::model(&graph), options, 2)
            .unwrap()
            .run(&x, &t)
            .unwrap()
            .map
            .data
    };
    assert_eq!(seeded(5), seeded(5));
    assert_ne!(seeded(5), seeded(6));
}

/// input [1,4,4] → conv 1→2 (pad 1) → max pool 2 (reads a conv, so Captum's max-pool rule
/// applies) → ReLU → flatten → dense 8→3.
pub(crate) fn pool_after_conv(rng: &mut Rng) -> Graph {
    let mut g = Graph::new(vec![1, 4, 4]).unwrap();
    let c = g
        .push("conv", Op::Conv2d(conv(rng, 2, 1, 3, 1)), vec![0])
        .unwrap();
    let p = g.push("pool", Op::max_pool(pool(2)), vec![c]).unwrap();
    let r = g.push("relu", Op::relu(), vec![p]).unwrap();
    let f = g.push_reshape("flatten", r, vec![8]).unwrap();
    let d = Dense {
        weight: rng.tensor(&[3, 8]),
        bias: Some(rng.vec(3)),
    };
    g.push("fc", Op::Dense(d), vec![f]).unwrap();
    g
}

/// Summation-to-delta, Σ attr = f(x) − f(x′), holds for Captum's max-pool rule with any
/// reference, and for a max pool fed by a ReLU (which, as in Captum, passes the plain gradient)
/// when the reference is constant over each pooling window, as a zero input makes it.
#[test]
fn deeplift_sums_to_the_output_difference() {
    let mut rng = Rng::new(21);
    let with_conv_pool = pool_after_conv(&mut rng);
    let random = Baseline::Tensor(rng.tensor(&[1, 1, 4, 4]));
    for (graph, baseline) in [
        (with_conv_pool, random),
        (zoo(&mut rng, false), Baseline::Zero),
    ] {
        let mut xs = vec![3];
        xs.extend(graph.input_shape());
        let x = rng.tensor(&xs);
        let mut plan = DeepLiftPlan::new(&crate::common::model(&graph), baseline, 2).unwrap();
        let got = plan
            .run(&x, &[Target::Class(1), Target::Predicted, Target::Class(0)])
            .unwrap();
        assert_complete(&format!("{} nodes", graph.nodes.len()), &got);
    }
}

/// DeepLIFT's completeness: every item's map sums to f(x) − f(x′) within 1e-5 of the difference.
fn assert_complete(what: &str, got: &glimpse::Explanation) {
    let residuals = got.residuals.as_ref().unwrap();
    for (i, r) in residuals.iter().enumerate() {
        let delta = got.scores[i] - got.reference_scores.as_ref().unwrap()[i];
        println!("{what}, item {i}: residual {r:.3e} of Δf {delta:.4}");
        assert!(
            r.abs() < 1e-5 * delta.abs().max(1.0),
            "{what}, item {i}: residual {r:.3e}"
        );
    }
}

/// The same completeness on the shipped ImageNet model: DeepLIFT's backward runs through its 16
/// depthwise and 33 other convolutions, 33 ReLU6 and 9 residual sums.
#[test]
fn deeplift_is_complete_on_efficientnet_lite0() {
    let graph = fixture("efficientnet_lite0");
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("assets");
    let photos = glimpse::io::npy::read_f32(root.join("data/photos_x.npy")).unwrap();
    let item: usize = photos.shape[1..].iter().product();
    let x = Tensor::new(vec![2, 3, 224, 224], photos.data[..2 * item].to_vec()).unwrap();
    let mut plan = DeepLiftPlan::new(&crate::common::model(&graph), Baseline::Zero, 2).unwrap();
    let got = plan
        .run(&x, &[Target::Predicted, Target::Predicted])
        .unwrap();
    assert_eq!(got.classes, [285, 967]);
    assert_complete("efficientnet_lite0", &got);
}

#[test]
fn taylor_expands_at_zero_a_given_point_or_a_root_on_the_segment() {
    let graph = fixture("lenet_mnist");
    let x = mnist(3);
    let t = [Target::Predicted];
    // At zero: R = ∇f(0) ⊙ x.
    let got = TaylorPlan::new(&crate::common::model(&graph), RootPoint::Zero, 3)
        .unwrap()
        .run(&x, &t)
        .unwrap();
    let zero = Tensor::zeros(x.shape.clone());
    let mut grad =
        GradientPlan::new(&crate::common::model(&graph), GradientMap::Gradient, 3).unwrap();
    let classes: Vec<Target> = got.classes.iter().map(|&c| Target::Class(c)).collect();
    let g0 = grad.run(&zero, &classes).unwrap();
    let want: Vec<f64> = g0
        .map
        .data
        .iter()
        .zip(&x.data)
        .map(|(g, v)| (g * v) as f64)
        .collect();
    assert_close("Taylor at 0", &got.map.data, &want, 1e-6, 1e-5);
    // A given point equal to x: nothing to explain, the residual is f(x).
    let same = TaylorPlan::new(
        &crate::common::model(&graph),
        RootPoint::Given(Baseline::Tensor(x.clone())),
        3,
    )
    .unwrap()
    .run(&x, &t)
    .unwrap();
    assert!(same.map.data.iter().all(|&v| v == 0.0));
    for i in 0..3 {
        assert!((same.residuals.as_ref().unwrap()[i] - same.scores[i]).abs() < 1e-9);
    }
    // The root search finds f(t·x) ≈ 0 where f changes sign on the segment.
    let found = TaylorPlan::new(&crate::common::model(&graph), RootPoint::Search, 3)
        .unwrap()
        .run(&x, &t)
        .unwrap();
    let at_zero = got.reference_scores.as_ref().unwrap();
    let roots = found.reference_scores.as_ref().unwrap();
    let sums = found.sums();
    for i in 0..3 {
        println!(
            "item {i}: f(x) = {:.4}, f(0) = {:.4}, f(x̃) = {:.2e}, ΣR = {:.4}, residual {:.4}",
            found.scores[i],
            at_zero[i],
            roots[i],
            sums[i],
            found.residuals.as_ref().unwrap()[i]
        );
        if (found.scores[i] > 0.0) != (at_zero[i] > 0.0) {
            assert!(
                roots[i].abs() < 1e-3 * found.scores[i].abs(),
                "item {i}: f(x̃) = {}",
                roots[i]
            );
        }
        let r = found.scores[i] - sums[i];
        assert!((found.residuals.as_ref().unwrap()[i] - r).abs() < 1e-9);
    }
}

/// f(x) = max(x1, x2) for x ≥ 0 as a ReLU network: ½(relu(x1−x2) + relu(x2−x1) + relu(x1+x2)).
pub(crate) fn max_net() -> Graph {
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
    let w2 = Tensor::new(vec![1, 3], vec![0.5; 3]).unwrap();
    g.push(
        "out",
        Op::Dense(Dense {
            weight: w2,
            bias: None,
        }),
        vec![r],
    )
    .unwrap();
    g
}

#[test]
fn continuity_toy_sensitivity_and_gradient_times_input_jump_where_x1_equals_x2() {
    let g = max_net();
    let d = 1e-3f32;
    // Just above and just below the diagonal x1 = x2: f moves by d only.
    let x = Tensor::new(vec![2, 2], vec![1.0 + d, 1.0, 1.0 - d, 1.0]).unwrap();
    for map in [GradientMap::Sensitivity, GradientMap::GradientTimesInput] {
        let got = GradientPlan::new(&crate::common::model(&g), map, 2)
            .unwrap()
            .run(&x, &[Target::Class(0)])
            .unwrap();
        assert_close(
            "f = max",
            &got.outputs.data,
            &[1.0 + d as f64, 1.0],
            1e-6,
            1e-6,
        );
        let r = &got.map.data;
        let jump = (r[0] - r[2]).abs().max((r[1] - r[3]).abs());
        println!("{map:?}: {r:?}, jump {jump}");
        assert!(jump > 0.9, "{map:?} should jump across x1 = x2: {r:?}");
    }
}

#[test]
fn cam_is_grad_cam_times_the_pooled_area_on_a_gap_dense_head() {
    let graph = fixture("resnet_fashion");
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("assets");
    let all = glimpse::io::npy::read_f32(root.join("data/fashion_test_x.npy")).unwrap();
    let x = Tensor::new(vec![2, 1, 28, 28], all.data[..2 * 784].to_vec()).unwrap();
    let t = [Target::Predicted];
    let cam = CamPlan::new(&crate::common::model(&graph), CamKind::Cam, None, 2)
        .unwrap()
        .run(&x, &t)
        .unwrap();
    let c = cam.cam.as_ref().unwrap();
    let layer = LayerRef::Index(c.layer);
    let grad_cam = CamPlan::new(
        &crate::common::model(&graph),
        CamKind::GradCam,
        Some(&layer),
        2,
    )
    .unwrap()
    .run(&x, &t)
    .unwrap();
    assert_eq!(graph.nodes[c.layer].name, "/bn_final/BatchNormalization");
    let gc = grad_cam.cam.as_ref().unwrap();
    let want: Vec<f64> = gc.raw.data.iter().map(|&v| v as f64 * 49.0).collect();
    assert_close("CAM", &c.raw.data, &want, 1e-5, 1e-4);
    assert_eq!(cam.map.shape, vec![2, 1, 28, 28]);
    assert!(cam.map.data.iter().all(|v| (0.0..=1.0).contains(v)));
}
