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

/// A small Keras CNN through tf2onnx (scripts/make_keras_fixture.py): channels-last input,
/// BatchNorm, a depthwise convolution, a squeeze-excitation gate through a channels-last mean,
/// a residual sum; logits against onnxruntime, and LRP on the GPU against the f64 reference.
#[test]
fn a_keras_model_through_tf2onnx_matches_onnxruntime() {
    use super::golden_models::asset;
    use glimpse::explain::backward::reference_backward;
    use glimpse::explain::{LrpPlan, Target};
    use glimpse::io::npy::read_f32;
    let graph = load("keras_cnn");
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
    let e = LrpPlan::new(&model, &c, 4, false)
        .unwrap()
        .run(&x, &vec![Target::Class(3); 4])
        .unwrap();
    let xs = x.to_f64();
    let logits = glimpse::layers::reference_forward(&graph, &xs).swap_remove(graph.output);
    let mut seed = glimpse::Tensor::zeros(logits.shape.clone());
    (0..4).for_each(|i| seed.data[i * 10 + 3] = logits.data[i * 10 + 3]);
    let rules = c.node_rules(&graph, graph.output).unwrap();
    let flow = reference_backward(&graph, &rules, &xs, graph.output, &seed, None);
    let r = flow[0].as_ref().unwrap();
    let worst = r.data.iter().fold(0.0f64, |a, v| a.max(v.abs()));
    crate::common::assert_close("keras LRP", &e.map.data, &r.data, 1e-5 * worst, 1e-4);
}
