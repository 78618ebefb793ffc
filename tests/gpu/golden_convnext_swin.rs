//! Small configurations of torchvision's ConvNeXt, Swin Transformer V1 and V2 and MaxViT
//! (scripts/golden_convnext_swin.py; assets/golden/README.md, "ConvNeXt and Swin"), from both
//! of PyTorch's exporters: logits against onnxruntime, ConvNeXt's LRP against Zennit (LayerNorm
//! by Zennit's Pass, the layer scale passing relevance as a BatchNorm does, residual sums in
//! proportion), the gradient family against Captum on all four, MaxViT's LRP against the f64
//! reference, and Swin V2's LRP under
//! AttnLRP (relevance through the cosine attention's L2 normalisations) against the f64
//! reference.
//!
//! Zennit's goldens are float64: glimpse's f64 reference must match them on every item, the GPU
//! on the items whose Zennit float32 run stays within 1e-5 of its float64 run (the manifest's
//! `stable_items`), both to 1e-4 of each map's max |R|.

use super::golden_models::{
    check_lrp, gradient_family_matches_captum, load, logits_match_onnxruntime,
    lrp_matches_reference, stable_items, targets, zoo_x,
};
use glimpse::explain::{Bound, Composite, Rule};
use glimpse::layers::LayerClass;

#[test]
fn both_exports_of_both_models_match_onnxruntime() {
    logits_match_onnxruntime("convnext_zoo", &["convnext_zoo", "convnext_zoo_dynamo"]);
    logits_match_onnxruntime("swin_zoo", &["swin_zoo", "swin_zoo_dynamo"]);
    logits_match_onnxruntime("swin_v2_zoo", &["swin_v2_zoo", "swin_v2_zoo_dynamo"]);
    logits_match_onnxruntime("maxvit_zoo", &["maxvit_zoo", "maxvit_zoo_dynamo"]);
}

/// MaxViT (MBConv with squeeze-excitation, block and grid attention from Einsum) under CP-LRP
/// with z⁺ on linear layers and ε = 1e-3 on residual sums, GPU against the f64 reference. With
/// the sums' default (in proportion, Norm) every item is ill-conditioned here: the two summands
/// nearly cancel, a branch receives more relevance than the sum (6.79e-3 of 5.89e-3 in the
/// first grid attention), and float32 rounding moves the maps by 7e-5 to 4e-4 of their max.
#[test]
fn maxvit_lrp_matches_the_reference() {
    let x = zoo_x();
    let t = targets("maxvit_zoo");
    let mut c = Composite::uniform(Rule::ZPlus);
    c.set(LayerClass::Sum, Rule::Epsilon { epsilon: 1e-3 })
        .unwrap();
    for file in ["maxvit_zoo", "maxvit_zoo_dynamo"] {
        let sums = lrp_matches_reference(file, &load(file), &c, &x, &t);
        println!("{file}: ΣR / logit {sums:.3?}");
    }
}

/// AttnLRP (the uniform rule on products, so relevance crosses the queries' and keys' L2
/// normalisations by their identity rule; z⁺ on the linear layers) on Swin V2, GPU against the
/// f64 reference on the well-conditioned items. With these random weights the ε-rule is
/// ill-conditioned on every item (float32 rounding of the input moves its map by 1e-4 to 1e-3
/// of the max); z⁺ is on six of eight, where the GPU is within 3.5e-5.
#[test]
fn swin_v2_attn_lrp_matches_the_reference() {
    let x = zoo_x();
    let t = targets("swin_v2_zoo");
    let mut c = Composite::uniform(Rule::ZPlus);
    c.set(LayerClass::Product, Rule::Uniform).unwrap();
    for file in ["swin_v2_zoo", "swin_v2_zoo_dynamo"] {
        let graph = load(file);
        let l2 = graph
            .nodes
            .iter()
            .filter(|n| n.op.kind() == "L2Norm")
            .count();
        assert_eq!(l2, 8, "{file}: queries and keys of 4 blocks");
        let sums = lrp_matches_reference(file, &graph, &c, &x, &t);
        println!("{file}: ΣR / logit {sums:.3?}");
    }
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
    gradient_family_matches_captum("swin_v2_zoo", &[]);
    gradient_family_matches_captum("maxvit_zoo", &[]);
}

/// A small Keras CNN through tf2onnx (scripts/make_keras_fixture.py): channels-last input,
/// BatchNorm, a depthwise convolution, Keras' hard swish (fused at import, so the LRP gate rule
/// has no product of two activations to refuse), a squeeze-excitation gate through a
/// channels-last mean,
/// a residual sum; logits against onnxruntime, and LRP on the GPU against the f64 reference.
#[test]
fn a_keras_model_through_tf2onnx_matches_onnxruntime() {
    use super::golden_models::asset;
    use glimpse::io::npy::read_f32;
    let graph = load("keras_cnn");
    assert!(graph.nodes.iter().any(|n| n.op.kind() == "HardSwish"));
    let x = read_f32(asset("assets/data/keras_x.npy")).unwrap();
    let want = read_f32(asset("assets/reference/keras_cnn_logits.npy")).unwrap();
    let model = crate::common::model(&graph);
    let got = glimpse::Predictor::new(&model, 4).unwrap().run(&x).unwrap();
    let scale = want.data.iter().fold(0.0f32, |a, v| a.max(v.abs()));
    let err = got
        .data
        .iter()
        .zip(&want.data)
        .fold(0.0f32, |a, (p, q)| a.max((p - q).abs()));
    println!("keras_cnn: max |Δlogit| {err:.2e} of max |logit| {scale:.3}");
    assert!(err <= 1e-5 * scale, "{err:.2e}");
    let c =
        Composite::preset("epsilon-plus-flat", Bound::Scalar(-1.0), Bound::Scalar(1.0)).unwrap();
    lrp_matches_reference("keras LRP", &graph, &c, &x, &[3; 4]);
}
