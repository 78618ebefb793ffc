//! The full soak (`scripts/soak.sh`): EXPLANATIONS explanations of LeNet digits (or of the
//! residual net's Fashion-MNIST images) in one process,
//! LRP, gradient × input and Grad-CAM in turn, each plan built, run for a stretch of batches and
//! dropped; prints memory after every round and whether the last explanation of the first batch
//! equals its first bit for bit:
//! `cargo run --release -p glimpse-cli --example soak -- [EXPLANATIONS] [BATCH] [lenet|resnet]`.

use glimpse::Gpu;
use glimpse_cli::measure::soak::{soak, SoakConfig};

fn main() -> glimpse::Result<()> {
    let arg = |k: usize, default: usize| {
        std::env::args()
            .nth(k)
            .map_or(default, |v| v.parse().expect("a count"))
    };
    let config = SoakConfig {
        explanations: arg(1, 10_000),
        batch: arg(2, 16),
        batches_per_plan: 8,
        methods: ["lrp:epsilon-plus-flat", "gradient-x-input", "grad-cam"]
            .map(String::from)
            .to_vec(),
        warmup_rounds: 2,
    };
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let (model, data) = match std::env::args().nth(3).as_deref() {
        None | Some("lenet") => ("lenet_mnist", "mnist_test_x"),
        Some("resnet") => ("resnet_fashion", "fashion_test_x"),
        Some(other) => {
            let message = format!("the model is lenet or resnet, not '{other}'");
            return Err(glimpse::Error::Invalid(message));
        }
    };
    let graph = glimpse::load_model(root.join(format!("assets/models/{model}.onnx")))?;
    let digits = glimpse::io::npy::read_f32(root.join(format!("assets/data/{data}.npy")))?;
    let gpu = Gpu::new()?;
    println!(
        "{}\n{config:?}",
        gpu.describe().lines().next().unwrap_or("")
    );
    let report = soak(&gpu, graph, &digits, &config, |s| {
        println!(
            "{:>6} explanations  {:>7.1} s  RSS {:>7.1} MiB  glimpse device {} B  wgpu {:?} / {:?} B",
            s.explanations,
            s.elapsed.as_secs_f64(),
            s.rss as f64 / (1 << 20) as f64,
            s.glimpse_device,
            s.wgpu_allocated,
            s.wgpu_reserved
        )
    })?;
    println!("\n{}", report.table());
    if !report.all_identical() {
        return Err(glimpse::Error::Invalid(
            "the last explanation differs from the first".into(),
        ));
    }
    Ok(())
}
