//! LRP and the gradient family against Zennit and Captum on small configurations of
//! torchvision's squeeze-excitation families (EfficientNet-B0, MobileNetV3-Small, RegNetY) and
//! ShuffleNetV2 (scripts/golden_families.py; assets/golden/README.md, "Squeeze-excitation
//! gates" and "ShuffleNetV2"), and ShuffleNetV2 from both of PyTorch's exporters against
//! onnxruntime.
//!
//! Zennit's goldens hold each gate constant (CP-LRP, glimpse's default rule for a product), in
//! float64 on exactly the exported function: glimpse's f64 reference must match them on every
//! item, the GPU on the items whose Zennit float32 run stays within 1e-5 of its float64 run (the
//! manifest's `stable_items`), both to 1e-4 of each map's max |R|. Captum's goldens (Saliency,
//! InputXGradient, IntegratedGradients) run on the true function, the gradient reaching the gates.

use super::golden_captum::{check as check_captum, check_with_kinks};
use super::golden_zennit_zoo::{check as check_zennit, targets};
use glimpse::explain::gradient::{
    Baseline, GradientMap, GradientPlan, IntegratedGradients, Riemann,
};
use glimpse::explain::Target;
use glimpse::io::npy::read_f32;
use glimpse::Tensor;

const MODELS: [&str; 4] = [
    "efficientnet_b0_zoo",
    "mobilenet_v3_zoo",
    "regnet_y_zoo",
    "shufflenet_v2_zoo",
];

/// Both exports of the same ShuffleNetV2 — TorchScript's (shape arithmetic on an open batch
/// size: Shape, Gather, Div, Slice, Unsqueeze, Concat folded at import) and dynamo's (Split) —
/// give onnxruntime's logits.
#[test]
fn shufflenet_from_both_exporters_matches_onnxruntime() {
    let x = read_f32(asset("assets/data/zoo_x.npy")).unwrap();
    let want = read_f32(asset("assets/reference/shufflenet_v2_zoo_logits.npy")).unwrap();
    let scale = want.data.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    for file in ["shufflenet_v2_zoo", "shufflenet_v2_zoo_dynamo"] {
        let graph = glimpse::load_model(asset(&format!("assets/models/{file}.onnx"))).unwrap();
        let got = glimpse::Predictor::new(&crate::common::model(&graph), 8)
            .unwrap()
            .run(&x)
            .unwrap();
        let err = got
            .data
            .iter()
            .zip(&want.data)
            .fold(0.0f32, |m, (a, b)| m.max((a - b).abs()));
        println!("{file}: max |Δlogit| {err:.2e} of max |logit| {scale:.3}");
        assert!(err <= 1e-5 * scale, "{file}: {err:.2e}");
    }
}

fn asset(path: &str) -> String {
    format!("{}/{path}", env!("CARGO_MANIFEST_DIR"))
}

/// The manifest's `stable_items` of a golden.
fn stable_items(golden: &str) -> Vec<usize> {
    let text = std::fs::read_to_string(asset("assets/golden/manifest.json")).unwrap();
    let manifest: serde_json::Value = serde_json::from_str(&text).unwrap();
    manifest["files"][format!("assets/golden/{golden}.npy")]["stable_items"]
        .as_array()
        .unwrap_or_else(|| panic!("{golden}: no stable items in the manifest"))
        .iter()
        .map(|v| v.as_u64().unwrap() as usize)
        .collect()
}

#[test]
fn the_families_match_zennit_with_the_gates_held_constant() {
    for m in MODELS {
        for composite in ["epsilon_plus_flat", "epsilon_gamma_box"] {
            check_zennit(
                m,
                composite,
                &stable_items(&format!("zennit_{m}_{composite}")),
            );
        }
    }
}

/// IG items no float32 engine can match to 1e-4: at one path point (trapezoid, 64 steps) a ReLU
/// pre-activation lies within one float32 ulp of its tensor's max |z| from 0 (checked by
/// `ig_items_off_by_more_than_1e_4_sit_on_a_relu_kink`; every other step's closest is ≥ 5e-6),
/// so the side of the kink is chance; that one step moves the map by 5e-3 to 5e-2, and the
/// average by up to 2e-3. (item, IG step, ReLU node, element of its input.)
const REGNET_IG_KINKS: [(usize, usize, &str, usize); 3] = [
    (0, 37, "/trunk_output/block1/block1-0/f/a/a.2/Relu", 3354),
    (5, 46, "/trunk_output/block1/block1-0/f/a/a.2/Relu", 9098),
    (6, 50, "/trunk_output/block2/block2-0/f/a/a.2/Relu", 5624),
];

#[test]
fn ig_items_off_by_more_than_1e_4_sit_on_a_relu_kink() {
    let graph = glimpse::load_model(asset("assets/models/regnet_y_zoo.onnx")).unwrap();
    let x = read_f32(asset("assets/data/zoo_x.npy")).unwrap();
    let d = x.numel() / x.shape[0];
    for (item, step, node, element) in REGNET_IG_KINKS {
        let alpha = step as f64 / 63.0;
        let point = Tensor {
            shape: vec![1, 3, 64, 64],
            data: x.data[item * d..(item + 1) * d]
                .iter()
                .map(|&v| alpha * v as f64)
                .collect(),
        };
        let values = glimpse::layers::reference_forward(&graph, &point);
        let k = graph.find(node).unwrap();
        assert_eq!(graph.nodes[k].op.kind(), "Relu");
        let z = &values[graph.nodes[k].inputs[0]];
        let max = z.data.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        let margin = z.data[element].abs() / max;
        println!("item {item} step {step}: {margin:.1e} of max |z| at '{node}'");
        assert!(
            margin < f32::EPSILON as f64,
            "item {item}: margin {margin:.1e}"
        );
    }
}

fn golden(name: &str) -> Tensor {
    read_f32(asset(&format!("assets/golden/{name}.npy"))).unwrap()
}

#[test]
fn the_families_match_captum() {
    let x = read_f32(asset("assets/data/zoo_x.npy")).unwrap();
    for m in MODELS {
        let graph = glimpse::load_model(asset(&format!("assets/models/{m}.onnx"))).unwrap();
        let model = crate::common::model(&graph);
        let t: Vec<Target> = targets(m).into_iter().map(Target::Class).collect();
        for (map, short) in [
            (GradientMap::Saliency, "saliency"),
            (GradientMap::GradientTimesInput, "input_x_gradient"),
        ] {
            let got = GradientPlan::new(&model, map, 8)
                .unwrap()
                .run(&x, &t)
                .unwrap();
            let name = format!("captum_{m}_{short}");
            check_captum(&name, &got.map, &golden(&name));
        }
        let mut ig =
            IntegratedGradients::new(&model, Baseline::Zero, 64, Riemann::Trapezoid, 8).unwrap();
        let got = ig.run(&x, &t).unwrap();
        let name = format!("captum_{m}_ig_trapezoid");
        let kinked: Vec<usize> = match m {
            "regnet_y_zoo" => REGNET_IG_KINKS.iter().map(|k| k.0).collect(),
            _ => vec![],
        };
        check_with_kinks(&name, &got.map, &golden(&name), &kinked);
    }
}
