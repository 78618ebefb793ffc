//! Small configurations of torchvision's ConvNeXt and Swin Transformer
//! (scripts/golden_convnext_swin.py; assets/golden/README.md, "ConvNeXt and Swin"), from both
//! of PyTorch's exporters: logits against onnxruntime, ConvNeXt's LRP against Zennit (LayerNorm
//! by Zennit's Pass, the layer scale passing relevance as a BatchNorm does, residual sums in
//! proportion), the gradient family against Captum on both.
//!
//! Zennit's goldens are float64: glimpse's f64 reference must match them on every item, the GPU
//! on the items whose Zennit float32 run stays within 1e-5 of its float64 run (the manifest's
//! `stable_items`), both to 1e-4 of each map's max |R|.

use super::golden_captum::check as check_captum;
use super::golden_zennit_zoo::{errors, targets};
use glimpse::explain::backward::reference_backward;
use glimpse::explain::gradient::{
    Baseline, GradientMap, GradientPlan, IntegratedGradients, Riemann,
};
use glimpse::explain::{Bound, Composite, LrpPlan, Rule, Target};
use glimpse::io::npy::read_f32;
use glimpse::layers::{reference_forward, LayerClass};
use glimpse::Tensor;

fn asset(path: &str) -> String {
    format!("{}/{path}", env!("CARGO_MANIFEST_DIR"))
}

fn zoo_x() -> Tensor {
    read_f32(asset("assets/data/zoo_x.npy")).unwrap()
}

fn load(file: &str) -> glimpse::Graph {
    glimpse::load_model(asset(&format!("assets/models/{file}.onnx"))).unwrap()
}

#[test]
fn both_exports_of_both_models_match_onnxruntime() {
    for m in ["convnext_zoo", "swin_zoo"] {
        let want = read_f32(asset(&format!("assets/reference/{m}_logits.npy"))).unwrap();
        let scale = want.data.iter().fold(0.0f32, |a, v| a.max(v.abs()));
        for file in [m.to_string(), format!("{m}_dynamo")] {
            let got = glimpse::Predictor::new(&crate::common::model(&load(&file)), 8)
                .unwrap()
                .run(&zoo_x())
                .unwrap();
            let err = got
                .data
                .iter()
                .zip(&want.data)
                .fold(0.0f32, |a, (p, q)| a.max((p - q).abs()));
            println!("{file}: max |Δlogit| {err:.2e} of max |logit| {scale:.3}");
            assert!(err <= 1e-5 * scale, "{file}: {err:.2e}");
        }
    }
}

/// The manifest's `stable_items` of a golden.
fn stable_items(golden: &str) -> Vec<usize> {
    let text = std::fs::read_to_string(asset("assets/golden/manifest.json")).unwrap();
    let manifest: serde_json::Value = serde_json::from_str(&text).unwrap();
    manifest["files"][format!("assets/golden/{golden}.npy")]["stable_items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap() as usize)
        .collect()
}

#[test]
fn convnext_matches_zennit() {
    let x = zoo_x();
    let item: usize = x.shape[1..].iter().product();
    let t = targets("convnext_zoo");
    for file in ["convnext_zoo", "convnext_zoo_dynamo"] {
        let graph = load(file);
        for composite in ["epsilon_plus_flat", "epsilon_gamma_box"] {
            let golden = format!("zennit_convnext_zoo_{composite}");
            let want = read_f32(asset(&format!("assets/golden/{golden}.npy"))).unwrap();
            let mut c = Composite::preset(
                &composite.replace('_', "-"),
                Bound::Scalar(-1.0),
                Bound::Scalar(1.0),
            )
            .unwrap();
            c.set(LayerClass::LayerNorm, Rule::Pass).unwrap();
            let xs = x.to_f64();
            let logits = reference_forward(&graph, &xs).swap_remove(graph.output);
            let f = logits.shape[1];
            let mut seed = Tensor::zeros(logits.shape.clone());
            for (i, &k) in t.iter().enumerate() {
                seed.data[i * f + k] = logits.data[i * f + k];
            }
            let rules = c.node_rules(&graph, graph.output).unwrap();
            let r = reference_backward(&graph, &rules, &xs, graph.output, &seed, None);
            let reference = errors(&r[0].as_ref().unwrap().data, &want.data, item);
            let mut plan = LrpPlan::new(&crate::common::model(&graph), &c, 8, false).unwrap();
            let targets: Vec<Target> = t.iter().map(|&k| Target::Class(k)).collect();
            let got = plan.run(&x, &targets).unwrap();
            let got: Vec<f64> = got.map.data.iter().map(|&v| v as f64).collect();
            let on_gpu = errors(&got, &want.data, item);
            let fmt = |v: &[f64]| {
                v.iter()
                    .map(|e| format!("{e:.1e}"))
                    .collect::<Vec<_>>()
                    .join(" ")
            };
            println!("{file} {composite}: f64 reference {}", fmt(&reference));
            println!("{file} {composite}: GPU           {}", fmt(&on_gpu));
            let worst = reference.iter().cloned().fold(0.0, f64::max);
            assert!(
                worst <= 1e-4,
                "{file} {composite}: f64 reference off by {worst:.3e}"
            );
            for i in stable_items(&golden) {
                assert!(
                    on_gpu[i] <= 1e-4,
                    "{file} {composite}: GPU off by {:.3e} on item {i}",
                    on_gpu[i]
                );
            }
        }
    }
}

#[test]
fn convnext_and_swin_match_captum() {
    let x = zoo_x();
    let golden = |name: &str| read_f32(asset(&format!("assets/golden/{name}.npy"))).unwrap();
    for m in ["convnext_zoo", "swin_zoo"] {
        let t: Vec<Target> = targets(m).into_iter().map(Target::Class).collect();
        let model = crate::common::model(&load(m));
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
        check_captum(&name, &got.map, &golden(&name));
    }
}
