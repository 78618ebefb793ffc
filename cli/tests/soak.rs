//! A short soak (the full one is `scripts/soak.sh`): 5,000 LeNet explanations in one
//! process — its own test binary, so the resident memory it samples is its own — with plans for
//! three methods built, run and dropped every round. Nothing may stay behind on the device,
//! wgpu's allocator must come back to the same bytes, host memory must stay flat after warm-up,
//! and the first batch explained again at the end must give the same bits.

use glimpse::Gpu;
use glimpse_cli::measure::soak::{soak, SoakConfig};

#[test]
fn thousands_of_explanations_leave_memory_flat_and_results_identical() {
    let root = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/.."));
    let graph = glimpse::load_model(root.join("assets/models/lenet_mnist.onnx")).unwrap();
    let digits = glimpse::io::npy::read_f32(root.join("assets/data/mnist_test_x.npy")).unwrap();
    let config = SoakConfig {
        explanations: 5_000,
        batch: 16,
        batches_per_plan: 4,
        methods: ["lrp:epsilon-plus-flat", "gradient-x-input", "grad-cam"]
            .map(String::from)
            .to_vec(),
        warmup_rounds: 2,
    };
    let gpu = Gpu::new().unwrap();
    let report = soak(&gpu, graph, &digits, &config, |_| {}).unwrap();
    println!("{}", report.table());
    assert!(report.samples.len() >= 8, "{} rounds", report.samples.len());
    assert!(report.samples.last().unwrap().explanations >= 5_000);
    // Every plan was dropped before its sample: glimpse holds nothing on the device.
    for s in &report.samples {
        assert_eq!(s.glimpse_device, 0, "after {} explanations", s.explanations);
    }
    // wgpu's allocator gives every buffer back: after warm-up its live bytes do not move.
    assert_eq!(report.wgpu_growth(), 0, "{}", report.table());
    // Host memory after warm-up: a leak of 1 KiB per explanation (× 4,600) would pass 4 MiB,
    // a digit's map is 3 KiB; the growth measured here is 0.1 MiB.
    assert!(
        report.rss_growth() < 4 << 20,
        "resident memory grew {} bytes\n{}",
        report.rss_growth(),
        report.table()
    );
    assert!(report.all_identical(), "{}", report.table());
    assert_eq!(report.max_difference, 0.0);
}
