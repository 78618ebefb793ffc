//! The fixture models on the GPU: logits equal onnxruntime's reference logits (≤ 1e-4 relative),
//! and the planner shares buffers on real models.

use glimpse::io::npy::read_f32;
use glimpse::Predictor;

fn asset(path: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

/// Runs the model on its shipped inputs; returns the worst |gpu − ort| / (1e-4 + 1e-4·|ort|)
/// (≤ 1 passes) and asserts it.
fn check(model: &str, inputs: &str, reference: &str, batch: usize) {
    let graph = glimpse::load_model(asset(&format!("assets/models/{model}.onnx"))).unwrap();
    let x = read_f32(asset(inputs)).unwrap();
    let want = read_f32(asset(reference)).unwrap();
    let mut plan = Predictor::new(&crate::common::model(&graph), batch).unwrap();
    let got = plan.run(&x).unwrap();
    assert_eq!(got.shape, want.shape, "{model}");
    let mut worst = 0.0f64;
    for (g, w) in got.data.iter().zip(&want.data) {
        let ratio = (*g as f64 - *w as f64).abs() / (1e-4 * (1.0 + w.abs() as f64));
        worst = worst.max(ratio);
    }
    assert!(
        worst <= 1.0,
        "{model}: worst error is {worst:.2} × (1e-4 + 1e-4·|ref|)"
    );
    println!(
        "{model}: worst error {worst:.3} of the tolerance; {} buffers, {} bytes",
        plan.executable().buffer_count(),
        plan.executable().buffer_bytes()
    );
}

#[test]
fn lenet_logits_equal_onnxruntime() {
    check(
        "lenet_mnist",
        "assets/data/mnist_test_x.npy",
        "assets/reference/lenet_mnist_logits.npy",
        64,
    );
}

#[test]
fn residual_net_logits_equal_onnxruntime_with_bn_kept_and_folded() {
    check(
        "resnet_fashion",
        "assets/data/fashion_test_x.npy",
        "assets/reference/resnet_fashion_logits.npy",
        64,
    );
    check(
        "resnet_fashion_folded",
        "assets/data/fashion_test_x.npy",
        "assets/reference/resnet_fashion_folded_logits.npy",
        64,
    );
}

#[test]
fn efficientnet_lite0_logits_equal_onnxruntime_on_the_photographs() {
    check(
        "efficientnet_lite0",
        "assets/data/photos_x.npy",
        "assets/reference/efficientnet_lite0_logits.npy",
        4,
    );
}

#[test]
fn ops_zoo_outputs_equal_onnxruntime_in_both_opsets() {
    check(
        "ops_zoo",
        "assets/data/ops_zoo_x.npy",
        "assets/reference/ops_zoo_out.npy",
        3,
    );
    check(
        "ops_zoo_v11",
        "assets/data/ops_zoo_x.npy",
        "assets/reference/ops_zoo_out.npy",
        4,
    );
}

#[test]
fn folding_removes_the_adjacent_batch_norms_and_buffers_are_shared() {
    let mut graph = glimpse::onnx::load(&asset("assets/models/resnet_fashion.onnx")).unwrap();
    let before = graph
        .nodes
        .iter()
        .filter(|n| n.op.kind() == "BatchNorm")
        .count();
    let folded = glimpse::model::fold_batch_norm(&mut graph);
    let after = graph
        .nodes
        .iter()
        .filter(|n| n.op.kind() == "BatchNorm")
        .count();
    assert_eq!((before, folded, after), (7, 6, 1));
    let plan = Predictor::new(&crate::common::model(&graph), 4).unwrap();
    let tensors = graph
        .nodes
        .iter()
        .filter(|n| n.op.kind() != "Reshape")
        .count();
    assert!(
        plan.executable().buffer_count() < tensors / 2,
        "{} buffers for {tensors} tensors",
        plan.executable().buffer_count()
    );
}
