//! Every gradient and CAM method against the goldens from Captum 0.9 and pytorch-grad-cam
//! 1.5.7 (assets/golden/, made by scripts/golden_captum.py) on the fixture models: each map
//! within 1e-4 of its largest |value|, per input.

mod common;

use std::path::Path;

use common::gpu;
use glimpse::explain::cam::{CamKind, CamPlan};
use glimpse::explain::gradient::{
    Baseline, DeepLiftPlan, GradientMap, GradientPlan, IntegratedGradients, Riemann, SmoothGrad,
    SmoothKind, SmoothOptions,
};
use glimpse::explain::{LayerRef, Target};
use glimpse::model::{Graph, Tensor};

const MODELS: [&str; 2] = ["lenet_mnist", "resnet_fashion"];
const TOLERANCE: f64 = 1e-4;

fn asset(rel: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("assets").join(rel)
}

/// The model as `glimpse explain` opens it (BatchNorms folded where possible).
fn model(name: &str) -> Graph {
    glimpse::cli::open_model(&asset(&format!("models/{name}.onnx"))).unwrap()
}

fn golden(name: &str) -> Tensor {
    glimpse::io::npy::read_f32(asset(&format!("golden/{name}.npy"))).unwrap()
}

/// The first 8 shipped test inputs of a model.
fn inputs(model: &str) -> Tensor {
    let file = if model == "lenet_mnist" { "mnist" } else { "fashion" };
    let all = glimpse::io::npy::read_f32(asset(&format!("data/{file}_test_x.npy"))).unwrap();
    let item: usize = all.shape[1..].iter().product();
    let mut shape = all.shape.clone();
    shape[0] = 8;
    Tensor::new(shape, all.data[..8 * item].to_vec()).unwrap()
}

/// The goldens' targets (assets/golden/README.md): predictions for 0–3, (label + 1) % 10 after.
fn targets(model: &str) -> Vec<Target> {
    let t: [usize; 8] = if model == "lenet_mnist" {
        [3, 8, 1, 0, 5, 1, 0, 4]
    } else {
        [9, 2, 1, 1, 7, 2, 5, 7]
    };
    t.iter().map(|&c| Target::Class(c)).collect()
}

/// Largest |got − golden| ÷ max |golden| over the items; asserts it is within [`TOLERANCE`].
fn check(name: &str, got: &Tensor, want: &Tensor) -> f64 {
    assert_eq!(got.shape, want.shape, "{name}: shape");
    let n = want.shape[0];
    let item = want.numel() / n;
    let mut worst = 0.0f64;
    for i in 0..n {
        let (g, w) = (&got.data[i * item..(i + 1) * item], &want.data[i * item..(i + 1) * item]);
        let scale = w.iter().fold(0.0f64, |m, &v| m.max((v as f64).abs()));
        let err = g
            .iter()
            .zip(w)
            .fold(0.0f64, |m, (&a, &b)| m.max((a as f64 - b as f64).abs()));
        let rel = err / scale.max(1e-30);
        println!("{name} item {i}: max error {err:.3e} / max |value| {scale:.3e} = {rel:.2e}");
        worst = worst.max(rel);
    }
    println!("{name}: worst {worst:.2e}");
    assert!(worst <= TOLERANCE, "{name}: error {worst:.2e} of the map's max |value|");
    worst
}

fn gradient_map(model_name: &str, map: GradientMap, golden_name: &str) {
    let graph = model(model_name);
    let mut plan = GradientPlan::new(gpu(), &graph, map, 8).unwrap();
    let got = plan.run(&inputs(model_name), &targets(model_name)).unwrap();
    check(golden_name, &got.map, &golden(golden_name));
}

#[test]
fn saliency_matches_captum() {
    for m in MODELS {
        gradient_map(m, GradientMap::Saliency, &format!("captum_{m}_saliency"));
    }
}

#[test]
fn gradient_x_input_matches_captum() {
    for m in MODELS {
        let name = format!("captum_{m}_input_x_gradient");
        gradient_map(m, GradientMap::GradientTimesInput, &name);
    }
}

#[test]
fn guided_backprop_matches_captum() {
    for m in MODELS {
        let name = format!("captum_{m}_guided_backprop");
        gradient_map(m, GradientMap::GuidedBackprop, &name);
    }
}

#[test]
fn deconvnet_matches_captum() {
    for m in MODELS {
        gradient_map(m, GradientMap::Deconvnet, &format!("captum_{m}_deconvolution"));
    }
}

#[test]
fn integrated_gradients_match_captum() {
    for m in MODELS {
        let graph = model(m);
        for (riemann, short) in [(Riemann::Trapezoid, "trapezoid"), (Riemann::Middle, "middle")] {
            let mut plan =
                IntegratedGradients::new(gpu(), &graph, Baseline::Zero, 64, riemann, 8).unwrap();
            let got = plan.run(&inputs(m), &targets(m)).unwrap();
            check(&format!("captum_{m}_ig_{short}"), &got.map, &golden(&format!("captum_{m}_ig_{short}")));
        }
    }
}

#[test]
fn deeplift_matches_captum() {
    for m in MODELS {
        let graph = model(m);
        let mut plan = DeepLiftPlan::new(gpu(), &graph, Baseline::Zero, 8).unwrap();
        let got = plan.run(&inputs(m), &targets(m)).unwrap();
        check(&format!("captum_{m}_deeplift"), &got.map, &golden(&format!("captum_{m}_deeplift")));
    }
}

#[test]
fn smoothgrad_with_captums_noise_matches_captum() {
    for m in MODELS {
        let graph = model(m);
        let options = SmoothOptions {
            kind: SmoothKind::Mean,
            samples: 16,
            noise: Some(golden("smoothgrad_noise")),
            abs: true,
            ..SmoothOptions::default()
        };
        let mut plan = SmoothGrad::new(gpu(), &graph, options, 8).unwrap();
        let got = plan.run(&inputs(m), &targets(m)).unwrap();
        check(&format!("captum_{m}_smoothgrad"), &got.map, &golden(&format!("captum_{m}_smoothgrad")));
    }
}

/// (model, layer as the goldens name it, ONNX node, whether the graph must stay unfolded).
const CAM_LAYERS: [(&str, &str, &str, bool); 3] = [
    ("lenet_mnist", "conv2", "/conv2/Conv", false),
    // Before bn2: folding would merge bn2 into this convolution's output.
    ("resnet_fashion", "block2_conv2", "/block2/conv2/Conv", true),
    ("resnet_fashion", "bn_final", "/bn_final/BatchNormalization", false),
];

fn cam(kind: CamKind, m: &str, node: &str, unfolded: bool) -> glimpse::explain::cam::CamMaps {
    let graph = if unfolded {
        glimpse::onnx::load(&asset(&format!("models/{m}.onnx"))).unwrap()
    } else {
        model(m)
    };
    let layer = LayerRef::Name(node.to_string());
    let mut plan = CamPlan::new(gpu(), &graph, kind, Some(&layer), 8).unwrap();
    plan.run(&inputs(m), &targets(m)).unwrap()
}

#[test]
fn grad_cam_matches_captum_and_pytorch_grad_cam() {
    for (m, tag, node, unfolded) in CAM_LAYERS {
        let got = cam(CamKind::GradCam, m, node, unfolded);
        let name = format!("captum_{m}_layergradcam_{tag}");
        check(&name, &got.raw, &golden(&name));
        let name = format!("gradcam_{m}_{tag}_raw");
        check(&name, &got.raw, &golden(&name));
        let name = format!("gradcam_{m}_{tag}_upsampled");
        check(&name, &got.map, &golden(&name));
    }
}

#[test]
fn grad_cam_plus_plus_matches_pytorch_grad_cam() {
    for (m, tag, node, unfolded) in CAM_LAYERS {
        let got = cam(CamKind::GradCamPlusPlus, m, node, unfolded);
        let name = format!("gradcampp_{m}_{tag}_raw");
        check(&name, &got.raw, &golden(&name));
        let name = format!("gradcampp_{m}_{tag}_upsampled");
        check(&name, &got.map, &golden(&name));
    }
}
