//! Small configurations of torchvision's ConvNeXt and Swin Transformer
//! (scripts/golden_convnext_swin.py; assets/golden/README.md, "ConvNeXt and Swin"), from both
//! of PyTorch's exporters: logits against onnxruntime, ConvNeXt's LRP against Zennit (LayerNorm
//! by Zennit's Pass, the layer scale passing relevance as a BatchNorm does, residual sums in
//! proportion), the gradient family against Captum on both.
//!
//! Zennit's goldens are float64: glimpse's f64 reference must match them on every item, the GPU
//! on the items whose Zennit float32 run stays within 1e-5 of its float64 run (the manifest's
//! `stable_items`), both to 1e-4 of each map's max |R|.

use super::golden_models::{
    check_lrp, gradient_family_matches_captum, load, logits_match_onnxruntime, stable_items,
};
use glimpse::explain::{Bound, Composite, Rule};
use glimpse::layers::LayerClass;

#[test]
fn both_exports_of_both_models_match_onnxruntime() {
    logits_match_onnxruntime("convnext_zoo", &["convnext_zoo", "convnext_zoo_dynamo"]);
    logits_match_onnxruntime("swin_zoo", &["swin_zoo", "swin_zoo_dynamo"]);
}

#[test]
fn convnext_matches_zennit() {
    for file in ["convnext_zoo", "convnext_zoo_dynamo"] {
        let graph = load(file);
        for composite in ["epsilon_plus_flat", "epsilon_gamma_box"] {
            let golden = format!("zennit_convnext_zoo_{composite}");
            let preset = composite.replace('_', "-");
            let mut c =
                Composite::preset(&preset, Bound::Scalar(-1.0), Bound::Scalar(1.0)).unwrap();
            c.set(LayerClass::LayerNorm, Rule::Pass).unwrap();
            check_lrp(
                &graph,
                &c,
                "convnext_zoo",
                &golden,
                Some(&stable_items(&golden)),
            );
        }
    }
}

#[test]
fn convnext_and_swin_match_captum() {
    gradient_family_matches_captum("convnext_zoo", &[]);
    gradient_family_matches_captum("swin_zoo", &[]);
}
