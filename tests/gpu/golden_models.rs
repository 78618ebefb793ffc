//! What the goldens on small torchvision models share (scripts/golden_zennit_zoo.py,
//! golden_families.py, golden_vit.py, golden_convnext_swin.py): the inputs `zoo_x`, the targets,
//! the logits against onnxruntime, an LRP golden against glimpse's f64 reference and GPU plan,
//! and the gradient family against Captum.

use super::golden_captum::check_with_kinks;
use glimpse::explain::backward::reference_backward;
use glimpse::explain::gradient::{
    Baseline, GradientMap, GradientPlan, IntegratedGradients, Riemann,
};
use glimpse::explain::{Composite, LrpPlan, Target};
use glimpse::io::npy::read_f32;
use glimpse::layers::reference_forward;
use glimpse::{Graph, Tensor};

pub(super) fn asset(path: &str) -> String {
    format!("{}/{path}", env!("CARGO_MANIFEST_DIR"))
}

/// The inputs of every zoo golden, (8, 3, 64, 64).
pub(super) fn zoo_x() -> Tensor {
    read_f32(asset("assets/data/zoo_x.npy")).unwrap()
}

/// `assets/models/{file}.onnx`.
pub(super) fn load(file: &str) -> Graph {
    glimpse::load_model(asset(&format!("assets/models/{file}.onnx"))).unwrap()
}

/// `assets/golden/{name}.npy`.
pub(super) fn golden(name: &str) -> Tensor {
    read_f32(asset(&format!("assets/golden/{name}.npy"))).unwrap()
}

/// The goldens' targets: the predicted class (argmax of the onnxruntime logits) for inputs 0–3,
/// the next class for inputs 4–7.
pub(super) fn targets(model: &str) -> Vec<usize> {
    let logits = read_f32(asset(&format!("assets/reference/{model}_logits.npy"))).unwrap();
    let f = logits.shape[1];
    logits
        .data
        .chunks(f)
        .enumerate()
        .map(|(i, row)| {
            let k = glimpse::explain::argmax(row);
            if i < 4 {
                k
            } else {
                (k + 1) % f
            }
        })
        .collect()
}

/// The manifest's `stable_items` of a golden.
pub(super) fn stable_items(golden: &str) -> Vec<usize> {
    let text = std::fs::read_to_string(asset("assets/golden/manifest.json")).unwrap();
    let manifest: serde_json::Value = serde_json::from_str(&text).unwrap();
    manifest["files"][format!("assets/golden/{golden}.npy")]["stable_items"]
        .as_array()
        .unwrap_or_else(|| panic!("{golden}: no stable items in the manifest"))
        .iter()
        .map(|v| v.as_u64().unwrap() as usize)
        .collect()
}

/// Largest per-item error relative to the item's max |R|, per item.
pub(super) fn errors(got: &[f64], want: &[f32], item: usize) -> Vec<f64> {
    (0..want.len() / item)
        .map(|i| {
            let g = &got[i * item..(i + 1) * item];
            let w = &want[i * item..(i + 1) * item];
            let scale = w.iter().fold(0.0f64, |m, v| m.max(v.abs() as f64));
            let err = g
                .iter()
                .zip(w)
                .fold(0.0f64, |m, (a, b)| m.max((a - *b as f64).abs()));
            err / scale
        })
        .collect()
}

/// Each of `files` (exports of `model`) gives onnxruntime's logits on zoo_x to 1e-5 of the
/// largest.
pub(super) fn logits_match_onnxruntime(model: &str, files: &[&str]) {
    let want = read_f32(asset(&format!("assets/reference/{model}_logits.npy"))).unwrap();
    let scale = want.data.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    for file in files {
        let got = glimpse::Predictor::new(&crate::common::model(&load(file)), 8)
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

/// An LRP golden (`assets/golden/{golden}.npy`, explaining `model`'s targets) against glimpse's
/// f64 reference on every item and its GPU plan on the items `stable` (all when `None`), both
/// to 1e-4 of each map's max |R|; returns both per-item errors.
pub(super) fn check_lrp(
    graph: &Graph,
    c: &Composite,
    model: &str,
    golden_name: &str,
    stable: Option<&[usize]>,
) -> (Vec<f64>, Vec<f64>) {
    let x = zoo_x();
    let item: usize = x.shape[1..].iter().product();
    let want = golden(golden_name);
    let t = targets(model);
    let xs = x.to_f64();
    let logits = reference_forward(graph, &xs).swap_remove(graph.output);
    let f = logits.shape[1];
    let mut seed = Tensor::zeros(logits.shape.clone());
    for (i, &k) in t.iter().enumerate() {
        seed.data[i * f + k] = logits.data[i * f + k];
    }
    let rules = c.node_rules(graph, graph.output).unwrap();
    let r = reference_backward(graph, &rules, &xs, graph.output, &seed, None);
    let reference = errors(&r[0].as_ref().unwrap().data, &want.data, item);
    let mut plan = LrpPlan::new(&crate::common::model(graph), c, 8, false).unwrap();
    let targets: Vec<Target> = t.iter().map(|&k| Target::Class(k)).collect();
    let got = plan.run(&x, &targets).unwrap();
    let got: Vec<f64> = got.map.data.iter().map(|&v| v as f64).collect();
    let on_gpu = errors(&got, &want.data, item);
    println!("{golden_name}: f64 reference {}", fmt(&reference));
    println!("{golden_name}: GPU           {}", fmt(&on_gpu));
    let worst = reference.iter().cloned().fold(0.0, f64::max);
    assert!(
        worst <= 1e-4,
        "{golden_name}: f64 reference off by {worst:.3e}"
    );
    let all: Vec<usize> = (0..on_gpu.len()).collect();
    for &i in stable.unwrap_or(&all) {
        assert!(
            on_gpu[i] <= 1e-4,
            "{golden_name}: GPU off by {:.3e} on item {i}",
            on_gpu[i]
        );
    }
    (reference, on_gpu)
}

/// glimpse's f64 reference LRP of `targets` on `x`, seeded with the targets' logits: the map
/// and the seeds.
fn reference_lrp(
    graph: &Graph,
    c: &Composite,
    x: &Tensor<f64>,
    targets: &[usize],
) -> (Tensor<f64>, Vec<f64>) {
    let logits = reference_forward(graph, x).swap_remove(graph.output);
    let f = logits.shape[1];
    let mut seed = Tensor::zeros(logits.shape.clone());
    for (i, &k) in targets.iter().enumerate() {
        seed.data[i * f + k] = logits.data[i * f + k];
    }
    let rules = c.node_rules(graph, graph.output).unwrap();
    let mut flow = reference_backward(graph, &rules, x, graph.output, &seed, None);
    let seeds = targets
        .iter()
        .enumerate()
        .map(|(i, &k)| seed.data[i * f + k])
        .collect();
    (flow[0].take().unwrap(), seeds)
}

fn fmt(v: &[f64]) -> String {
    v.iter()
        .map(|e| format!("{e:.1e}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// LRP of `targets` on `x` by the GPU plan against glimpse's f64 reference, to 1e-4 of each
/// item's max |R| (as the goldens), on every item whose float32 computation is well
/// conditioned: the GPU map moves by at most a third of that (3e-5 of its max) when `x` moves
/// by float32's rounding (relative noise of 2e-7). With random weights, LRP's denominators come near zero
/// on some items, and there float32 itself cannot hold 1e-4; at least half the items must be
/// checked. Returns the reference's relevance sum per item over the explained logit.
pub(super) fn lrp_matches_reference(
    what: &str,
    graph: &Graph,
    c: &Composite,
    x: &Tensor,
    targets: &[usize],
) -> Vec<f64> {
    let n = x.shape[0];
    let model = crate::common::model(graph);
    let t: Vec<Target> = targets.iter().map(|&k| Target::Class(k)).collect();
    let mut plan = LrpPlan::new(&model, c, n, false).unwrap();
    let e = plan.run(x, &t).unwrap();
    let mut noisy = x.clone();
    let mut rng = crate::common::Rng::new(9);
    noisy
        .data
        .iter_mut()
        .for_each(|v| *v *= 1.0 + 2e-7 * rng.next());
    let moved = plan.run(&noisy, &t).unwrap();
    let (r, seeds) = reference_lrp(graph, c, &x.to_f64(), targets);
    let item = r.data.len() / n;
    let got: Vec<f64> = e.map.data.iter().map(|&v| v as f64).collect();
    let moved: Vec<f64> = moved.map.data.iter().map(|&v| v as f64).collect();
    let sensitivity = errors(&moved, &e.map.data, item);
    let want: Vec<f32> = r.data.iter().map(|&v| v as f32).collect();
    let err = errors(&got, &want, item);
    println!(
        "{what}: GPU against the f64 reference, per item {}",
        fmt(&err)
    );
    println!(
        "{what}: GPU under float32 input noise,   per item {}",
        fmt(&sensitivity)
    );
    let checked: Vec<usize> = (0..n).filter(|&i| sensitivity[i] <= 3e-5).collect();
    assert!(
        2 * checked.len() >= n,
        "{what}: only items {checked:?} are well conditioned"
    );
    for &i in &checked {
        assert!(err[i] <= 1e-4, "{what}: item {i} off by {:.1e}", err[i]);
    }
    (0..n)
        .map(|i| r.data[i * item..(i + 1) * item].iter().sum::<f64>() / seeds[i])
        .collect()
}

/// Saliency, InputXGradient and IntegratedGradients (trapezoid, 64 steps, zero baseline) on
/// `model`'s TorchScript export against `captum_{model}_*`; IG items `kinked` (on a ReLU kink at
/// one path point) only as the same map.
pub(super) fn gradient_family_matches_captum(model: &str, kinked: &[usize]) {
    let x = zoo_x();
    let t: Vec<Target> = targets(model).into_iter().map(Target::Class).collect();
    let m = crate::common::model(&load(model));
    for (map, short) in [
        (GradientMap::Saliency, "saliency"),
        (GradientMap::GradientTimesInput, "input_x_gradient"),
    ] {
        let got = GradientPlan::new(&m, map, 8).unwrap().run(&x, &t).unwrap();
        let name = format!("captum_{model}_{short}");
        check_with_kinks(&name, &got.map, &golden(&name), &[]);
    }
    let mut ig = IntegratedGradients::new(&m, Baseline::Zero, 64, Riemann::Trapezoid, 8).unwrap();
    let got = ig.run(&x, &t).unwrap();
    let name = format!("captum_{model}_ig_trapezoid");
    check_with_kinks(&name, &got.map, &golden(&name), kinked);
}
