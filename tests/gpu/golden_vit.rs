//! A small torchvision VisionTransformer (scripts/golden_vit.py; assets/golden/README.md,
//! "Vision transformer") from both of PyTorch's exporters: logits against onnxruntime, LRP
//! against LXT (CP-LRP: the attention weights held constant; AttnLRP: the uniform rule on both
//! attention products, the softmax crossed by its own rule), the gradient family against Captum.
//!
//! LXT's goldens are float64 gradient × input with LRP-0 on every linear layer (its ViT leaves
//! the attention's projections unhooked, which is LRP-0), LayerNorm's identity rule, GELU's
//! pass, and relevance in proportion (ε = 0) through the residual sums; glimpse's composite says
//! the same: ε = 0 on convolutions and dense layers, its defaults elsewhere, a stabiliser of
//! 1e-10 for the proportional rules. Both the f64 reference and the GPU must match every item
//! to 1e-4 of its map's max |R| (LXT's float32 run is within 7.5e-7 of its float64 one on every
//! item).

use super::golden_captum::check as check_captum;
use super::golden_zennit_zoo::{errors, targets};
use glimpse::explain::backward::reference_backward;
use glimpse::explain::gradient::{
    Baseline, GradientMap, GradientPlan, IntegratedGradients, Riemann,
};
use glimpse::explain::{Composite, LrpPlan, Rule, Target};
use glimpse::io::npy::read_f32;
use glimpse::layers::{reference_forward, LayerClass};
use glimpse::Tensor;

const EXPORTS: [&str; 2] = ["vit_zoo", "vit_zoo_dynamo"];

fn asset(path: &str) -> String {
    format!("{}/{path}", env!("CARGO_MANIFEST_DIR"))
}

fn zoo_x() -> Tensor {
    read_f32(asset("assets/data/zoo_x.npy")).unwrap()
}

#[test]
fn both_exports_match_onnxruntime() {
    let want = read_f32(asset("assets/reference/vit_zoo_logits.npy")).unwrap();
    let scale = want.data.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    for file in EXPORTS {
        let graph = glimpse::load_model(asset(&format!("assets/models/{file}.onnx"))).unwrap();
        let got = glimpse::Predictor::new(&crate::common::model(&graph), 8)
            .unwrap()
            .run(&zoo_x())
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

/// LXT's rules: LRP-0 on every linear layer, the attention as `attention` says.
fn lxt_composite(attention: Rule) -> Composite {
    let mut c = Composite::uniform(Rule::Epsilon { epsilon: 0.0 });
    c.set(LayerClass::Product, attention).unwrap();
    c.stabilizer = 1e-10;
    c
}

fn check_lxt(file: &str, golden: &str, attention: Rule) {
    let graph = glimpse::load_model(asset(&format!("assets/models/{file}.onnx"))).unwrap();
    let x = zoo_x();
    let item: usize = x.shape[1..].iter().product();
    let want = read_f32(asset(&format!("assets/golden/lxt_vit_zoo_{golden}.npy"))).unwrap();
    let c = lxt_composite(attention);
    let t = targets("vit_zoo");
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
    println!("{file} {golden}: f64 reference {}", fmt(&reference));
    println!("{file} {golden}: GPU           {}", fmt(&on_gpu));
    for (what, errs) in [("f64 reference", &reference), ("GPU", &on_gpu)] {
        let worst = errs.iter().cloned().fold(0.0, f64::max);
        assert!(worst <= 1e-4, "{file} {golden}: {what} off by {worst:.3e}");
    }
}

#[test]
fn cp_lrp_matches_lxt() {
    for file in EXPORTS {
        check_lxt(file, "cp_lrp", Rule::ConstantGate);
    }
}

#[test]
fn attn_lrp_matches_lxt() {
    for file in EXPORTS {
        check_lxt(file, "attn_lrp", Rule::Uniform);
    }
}

#[test]
fn the_gradient_family_matches_captum() {
    let x = zoo_x();
    let t: Vec<Target> = targets("vit_zoo").into_iter().map(Target::Class).collect();
    let golden = |name: &str| read_f32(asset(&format!("assets/golden/{name}.npy"))).unwrap();
    let graph = glimpse::load_model(asset("assets/models/vit_zoo.onnx")).unwrap();
    let model = crate::common::model(&graph);
    for (map, short) in [
        (GradientMap::Saliency, "saliency"),
        (GradientMap::GradientTimesInput, "input_x_gradient"),
    ] {
        let got = GradientPlan::new(&model, map, 8)
            .unwrap()
            .run(&x, &t)
            .unwrap();
        let name = format!("captum_vit_zoo_{short}");
        check_captum(&name, &got.map, &golden(&name));
    }
    let mut ig =
        IntegratedGradients::new(&model, Baseline::Zero, 64, Riemann::Trapezoid, 8).unwrap();
    let got = ig.run(&x, &t).unwrap();
    check_captum(
        "captum_vit_zoo_ig_trapezoid",
        &got.map,
        &golden("captum_vit_zoo_ig_trapezoid"),
    );
}
