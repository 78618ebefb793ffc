//! LRP against Zennit on the fixture models: golden files made by scripts/golden_zennit.py
//! (assets/golden/README.md says what each holds) must match to ≤ 1e-4 of each map's max |R|.

use crate::common::gpu;

use glimpse::explain::backward::reference_backward;
use glimpse::explain::{Bound, Composite, LayerRef, LrpPlan, Rule, Target};
use glimpse::io::npy::read_f32;
use glimpse::layers::reference_forward;
use glimpse::Tensor;

fn asset(path: &str) -> String {
    format!("{}/{path}", env!("CARGO_MANIFEST_DIR"))
}

/// Targets of the goldens: predicted class for inputs 0–3, (label + 1) % 10 for 4–7.
fn targets(model: &str) -> Vec<Target> {
    let t: &[usize] = match model {
        "lenet_mnist" => &[3, 8, 1, 0, 5, 1, 0, 4],
        _ => &[9, 2, 1, 1, 7, 2, 5, 7],
    };
    t.iter().map(|&k| Target::Class(k)).collect()
}

/// Our composite for a golden's composite name (Zennit gives max pooling no rule: its gradient).
fn composite(name: &str) -> Composite {
    let (name, bn_norm) = match name.strip_suffix("_bnnorm") {
        Some(n) => (n, true),
        None => (name, false),
    };
    let box01 = || (Bound::Scalar(0.0), Bound::Scalar(1.0));
    let mut c = match name.strip_prefix("rule_") {
        Some(rule) => Composite::uniform(match rule {
            "epsilon_0.25" => Rule::Epsilon { epsilon: 0.25 },
            "epsilon_1e-6" => Rule::Epsilon { epsilon: 1e-6 },
            "zplus" => Rule::ZPlus,
            "alpha2_beta1" => Rule::AlphaBeta {
                alpha: 2.0,
                beta: 1.0,
            },
            "gamma_0.25" => Rule::Gamma { gamma: 0.25 },
            "wsquare" => Rule::WSquare,
            "flat" => Rule::Flat,
            "zbox_0_1" => Rule::ZBox {
                low: Bound::Scalar(0.0),
                high: Bound::Scalar(1.0),
            },
            other => panic!("golden rule {other} has no mapping"),
        }),
        None => {
            let (low, high) = box01();
            Composite::preset(&name.replace('_', "-"), low, high).unwrap()
        }
    };
    if bn_norm {
        c.overrides.push((
            LayerRef::Name("/bn_final/BatchNormalization".into()),
            Rule::Norm,
        ));
    }
    c
}

/// Largest per-item error relative to the item's max |R|, over the items in `items`.
fn worst_error(got: &[f64], want: &[f32], item: usize, items: &[usize]) -> f64 {
    let mut worst = 0.0f64;
    for &i in items {
        let g = &got[i * item..(i + 1) * item];
        let w = &want[i * item..(i + 1) * item];
        let scale = w.iter().fold(0.0f64, |m, v| m.max(v.abs() as f64));
        let err = g
            .iter()
            .zip(w)
            .fold(0.0f64, |m, (a, b)| m.max((a - *b as f64).abs()));
        worst = worst.max(err / scale);
    }
    worst
}

/// For goldens that Zennit itself cannot reproduce in f32 (relevance divides by sums near zero):
/// the f64 reference must match the f64 golden on `reference_items`, and the f32 GPU result on
/// `stable_items`, those whose Zennit f32 run stays within 1e-5 of its f64 run (manifest).
fn check_ill_conditioned(
    model: &str,
    golden: &str,
    reference_items: &[usize],
    stable_items: &[usize],
) -> (f64, f64) {
    let graph = glimpse::load_model(std::path::Path::new(&asset(&format!(
        "assets/models/{model}.onnx"
    ))))
    .unwrap();
    let (x, want, item) = inputs_and_golden(model, golden);
    let c = composite(golden);
    let xs = x.to_f64();
    let values = reference_forward(&graph, &xs);
    let logits = &values[graph.output];
    let mut seed = Tensor::zeros(logits.shape.clone());
    for (i, t) in targets(model).iter().enumerate() {
        let Target::Class(k) = t else { unreachable!() };
        seed.data[i * 10 + k] = logits.data[i * 10 + k];
    }
    let rules = c.node_rules(&graph, graph.output).unwrap();
    let r = reference_backward(&graph, &rules, &xs, graph.output, &seed, None);
    let reference_err = worst_error(
        &r[0].as_ref().unwrap().data,
        &want.data,
        item,
        reference_items,
    );
    assert!(
        reference_err <= 1e-4,
        "{model} {golden}: f64 reference off by {reference_err:.3e}"
    );
    let mut plan = LrpPlan::new(&crate::common::model(&graph), &c, 8, false).unwrap();
    let got = plan.run(&x, &targets(model)).unwrap();
    let got: Vec<f64> = got.map.data.iter().map(|&v| v as f64).collect();
    let gpu_err = worst_error(&got, &want.data, item, stable_items);
    assert!(
        gpu_err <= 1e-4,
        "{model} {golden}: GPU off by {gpu_err:.3e} on the stable items"
    );
    (reference_err, gpu_err)
}

fn inputs_and_golden(model: &str, golden: &str) -> (Tensor, Tensor, usize) {
    let data = if model == "lenet_mnist" {
        "mnist"
    } else {
        "fashion"
    };
    let all = read_f32(asset(&format!("assets/data/{data}_test_x.npy"))).unwrap();
    let item: usize = all.shape[1..].iter().product();
    let x = Tensor::new(
        vec![8, all.shape[1], all.shape[2], all.shape[3]],
        all.data[..8 * item].to_vec(),
    )
    .unwrap();
    let want = read_f32(asset(&format!("assets/golden/zennit_{model}_{golden}.npy"))).unwrap();
    (x, want, item)
}

fn check(model: &str, golden: &str) -> f64 {
    let graph = glimpse::load_model(std::path::Path::new(&asset(&format!(
        "assets/models/{model}.onnx"
    ))))
    .unwrap();
    let (x, want, item) = inputs_and_golden(model, golden);
    let mut plan =
        LrpPlan::new(&crate::common::model(&graph), &composite(golden), 8, false).unwrap();
    let got = plan.run(&x, &targets(model)).unwrap();
    let got: Vec<f64> = got.map.data.iter().map(|&v| v as f64).collect();
    let worst = worst_error(&got, &want.data, item, &(0..8).collect::<Vec<_>>());
    assert!(
        worst <= 1e-4,
        "{model} {golden}: max error {worst:.3e} of the map's max |R|"
    );
    worst
}

#[test]
fn lenet_presets_match_zennit() {
    for g in [
        "epsilon_plus",
        "epsilon_plus_flat",
        "epsilon_gamma_box",
        "epsilon_alpha2_beta1",
        "epsilon_alpha2_beta1_flat",
    ] {
        let e = check("lenet_mnist", g);
        println!("lenet_mnist {g}: {e:.2e}");
    }
}

/// LeNet's convolution biases make MNIST's black background constant, so its max-pool windows
/// tie: the presets give a window to its first maximum by default, as Zennit does (the goldens
/// above); splitting ties equally, still available, differs from Zennit measurably.
#[test]
fn max_pool_ties_go_to_the_first_maximum_by_default() {
    use glimpse::layers::LayerClass;
    let graph = glimpse::load_model(asset("assets/models/lenet_mnist.onnx")).unwrap();
    let (x, want, item) = inputs_and_golden("lenet_mnist", "epsilon_plus_flat");
    let m = glimpse::DeviceModel::new(gpu(), graph);
    let preset = composite("epsilon_plus_flat");
    assert_eq!(preset.rule_of(LayerClass::MaxPool), Rule::ArgMax);
    let split = preset
        .with(LayerClass::MaxPool, Rule::WinnerTakeAll)
        .unwrap();
    let got = LrpPlan::new(&m, &split, 8, false)
        .unwrap()
        .run(&x, &targets("lenet_mnist"))
        .unwrap();
    let got: Vec<f64> = got.map.data.iter().map(|&v| v as f64).collect();
    let worst = worst_error(&got, &want.data, item, &(0..8).collect::<Vec<_>>());
    println!("lenet_mnist epsilon_plus_flat with ties split: {worst:.2e} of max |R| from Zennit");
    assert!(
        worst > 1e-3,
        "tie-splitting should differ from Zennit, got {worst:.2e}"
    );
}

#[test]
fn lenet_single_rules_match_zennit() {
    for g in [
        "rule_epsilon_0.25",
        "rule_epsilon_1e-6",
        "rule_zplus",
        "rule_alpha2_beta1",
        "rule_gamma_0.25",
        "rule_wsquare",
        "rule_flat",
    ] {
        let e = check("lenet_mnist", g);
        println!("lenet_mnist {g}: {e:.2e}");
    }
}

#[test]
fn residual_net_presets_match_zennit() {
    for g in [
        "epsilon_plus_bnnorm",
        "epsilon_plus_flat_bnnorm",
        "epsilon_gamma_box_bnnorm",
        "epsilon_alpha2_beta1_bnnorm",
        "epsilon_alpha2_beta1_flat_bnnorm",
    ] {
        let e = check("resnet_fashion", g);
        println!("resnet_fashion {g}: {e:.2e}");
    }
}

#[test]
fn ill_conditioned_goldens_match_in_f64_and_on_stable_items() {
    // Zennit's own f32 run deviates from f64 by up to 8e-5 on items 0, 5, 6 (zᴮ on every layer).
    let all: Vec<usize> = (0..8).collect();
    let (r, g) = check_ill_conditioned("lenet_mnist", "rule_zbox_0_1", &all, &[1, 2, 3, 4, 7]);
    println!("lenet_mnist rule_zbox_0_1: f64 reference {r:.2e}, GPU on stable items {g:.2e}");
    // Not compared: the ResNet goldens without `_bnnorm`. Passing relevance through the BatchNorm
    // after the last ReLU sends it to dead units and the residual Norm then divides by a + b ≈ 0;
    // Zennit's own f32 run deviates from its f64 golden by 1.5e-5 to 3.6e-2 on every item, and
    // our f64 reference, given f32-rounded folded weights, cannot follow either. The `_bnnorm`
    // variants (Norm on that BatchNorm) are stable and are held to 1e-4 above.
}

/// The shipped ImageNet model on the four photographs, each for its predicted class (Egyptian
/// cat, espresso, bobsled, missile): depthwise and strided convolutions with asymmetric pads,
/// 49 folded BatchNorms, ReLU6, nine residual sums — scripts/golden_zennit_lite0.py.
#[test]
fn efficientnet_lite0_photos_match_zennit() {
    let graph = glimpse::load_model(std::path::Path::new(&asset(
        "assets/models/efficientnet_lite0.onnx",
    )))
    .unwrap();
    let x = read_f32(asset("assets/data/photos_x.npy")).unwrap();
    let item: usize = x.shape[1..].iter().product();
    let targets: Vec<Target> = [285, 967, 450, 657].map(Target::Class).to_vec();
    // EfficientNet-Lite's input range: (pixel − 127) / 128 for pixels 0..255.
    let (low, high) = (Bound::Scalar(-0.9921875), Bound::Scalar(1.0));
    for golden in ["epsilon_plus_flat", "epsilon_gamma_box"] {
        let want = read_f32(asset(&format!(
            "assets/golden/zennit_efficientnet_lite0_{golden}.npy"
        )))
        .unwrap();
        let c = Composite::preset(&golden.replace('_', "-"), low.clone(), high.clone()).unwrap();
        let mut plan = LrpPlan::new(&crate::common::model(&graph), &c, 4, false).unwrap();
        let got = plan.run(&x, &targets).unwrap();
        let got: Vec<f64> = got.map.data.iter().map(|&v| v as f64).collect();
        let worst = worst_error(&got, &want.data, item, &[0, 1, 2, 3]);
        println!("efficientnet_lite0 {golden}: {worst:.2e}");
        assert!(
            worst <= 1e-4,
            "efficientnet_lite0 {golden}: max error {worst:.3e} of the map's max |R|"
        );
    }
}
