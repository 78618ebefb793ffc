//! A small torchvision VisionTransformer (scripts/golden_vit.py; assets/golden/README.md, "LXT")
//! from both of PyTorch's exporters: logits against onnxruntime, LRP against LXT (CP-LRP: the
//! attention weights held constant; AttnLRP: the uniform rule on both attention products, the
//! softmax crossed by its own rule), the gradient family against Captum.
//!
//! LXT's goldens are float64 gradient × input with LRP-0 on every linear layer (its ViT leaves
//! the attention's projections unhooked, which is LRP-0), LayerNorm's identity rule, GELU's
//! pass, and relevance in proportion (ε = 0) through the residual sums; glimpse's composite says
//! the same: ε = 0 on convolutions and dense layers, its defaults elsewhere, a stabiliser of
//! 1e-10 for the proportional rules. Both the f64 reference and the GPU must match every item
//! to 1e-4 of its map's max |R| (LXT's float32 run is within 7.5e-7 of its float64 one on every
//! item).

use super::golden_models::{
    check_lrp, gradient_family_matches_captum, load, logits_match_onnxruntime,
};
use glimpse::explain::{Composite, Rule};
use glimpse::layers::LayerClass;

const EXPORTS: [&str; 2] = ["vit_zoo", "vit_zoo_dynamo"];

#[test]
fn both_exports_match_onnxruntime() {
    logits_match_onnxruntime("vit_zoo", &EXPORTS);
}

/// LXT's rules: LRP-0 on every linear layer, the attention as `attention` says.
fn lxt_composite(attention: Rule) -> Composite {
    let mut c = Composite::uniform(Rule::Epsilon { epsilon: 0.0 });
    c.set(LayerClass::Product, attention).unwrap();
    c.stabilizer = 1e-10;
    c
}

#[test]
fn cp_lrp_matches_lxt() {
    for file in EXPORTS {
        let c = lxt_composite(Rule::ConstantGate);
        check_lrp(&load(file), &c, "vit_zoo", "lxt_vit_zoo_cp_lrp", None);
    }
}

#[test]
fn attn_lrp_matches_lxt() {
    for file in EXPORTS {
        let c = lxt_composite(Rule::Uniform);
        check_lrp(&load(file), &c, "vit_zoo", "lxt_vit_zoo_attn_lrp", None);
    }
}

#[test]
fn the_gradient_family_matches_captum() {
    gradient_family_matches_captum("vit_zoo", &[]);
}
