//! LRP against Zennit on small configurations of torchvision's ResNet and MobileNetV2
//! (scripts/golden_zennit_zoo.py; assets/golden/README.md, "torchvision zoo"): random weights,
//! BatchNorms folded by the exporter, residual sums, depthwise convolutions, ReLU6.
//!
//! Each golden is Zennit's float64 run on exactly the exported function. glimpse's f64
//! reference must match it on every item, and the f32 GPU plan on the items whose Zennit f32 run
//! stays within 1e-5 of its f64 run (`stable_items` in the manifest), both to 1e-4 of each map's
//! max |R|. The other items sit on residual-sum kinks (a + b ≈ 0 ahead of a ReLU, or ahead of z⁺
//! on a signed input) where no float32 engine follows float64 to 1e-4.

use super::golden_models::{check_lrp, load};
use glimpse::explain::{Bound, Composite};

/// Checks one golden; returns the per-item errors of the f64 reference and of the GPU.
pub(super) fn check(model: &str, golden: &str, stable: &[usize]) -> (Vec<f64>, Vec<f64>) {
    let c = Composite::preset(
        &golden.replace('_', "-"),
        Bound::Scalar(-1.0),
        Bound::Scalar(1.0),
    )
    .unwrap();
    let name = format!("zennit_{model}_{golden}");
    check_lrp(&load(model), &c, model, &name, Some(stable))
}

#[test]
fn narrow_resnet18_matches_zennit() {
    // Zennit f32 vs f64 ≤ 6.7e-6 on every item: all stable.
    let all: Vec<usize> = (0..8).collect();
    check("resnet_zoo", "epsilon_plus_flat", &all);
    check("resnet_zoo", "epsilon_gamma_box", &all);
}

#[test]
fn mobilenet_v2_025_matches_zennit() {
    // Item 5 (both composites) and item 7 (EpsilonGammaBox) are unstable in Zennit's own f32 run
    // (2.0e-5, 4.0e-5, 5.7e-5): checked in f64 only.
    check(
        "mobilenet_v2_zoo",
        "epsilon_plus_flat",
        &[0, 1, 2, 3, 4, 6, 7],
    );
    check("mobilenet_v2_zoo", "epsilon_gamma_box", &[0, 1, 2, 3, 4, 6]);
}
