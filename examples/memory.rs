//! GPU memory of VGG16 (224², seeded weights) with an LRP, an integrated-gradients and a
//! SmoothGrad plan: each plan's own buffers and the device model's weights, each plan on a model
//! of its own, then all three on one model (whose weight store they share):
//! `cargo run --release -p glimpse-cli --example memory -- [BATCH]`.

use glimpse::{DeviceModel, Explainer, Gpu, Method};

fn mib(b: u64) -> f64 {
    b as f64 / (1 << 20) as f64
}

fn main() -> glimpse::Result<()> {
    let batch: usize = std::env::args()
        .nth(1)
        .map_or(1, |b| b.parse().expect("a batch size"));
    let gpu = Gpu::new()?;
    let graph = glimpse_cli::zoo::vgg16(glimpse_cli::measure::models::ZOO_SEED)?;
    let methods: Vec<Method> = [
        "lrp:epsilon-plus-flat",
        "integrated-gradients",
        "smoothgrad",
    ]
    .iter()
    .map(|m| m.parse())
    .collect::<glimpse::Result<_>>()?;
    println!("VGG16, batch {batch}: weights and buffers per plan (MiB)");
    let shared = DeviceModel::new(&gpu, graph.clone());
    let mut plans = Vec::new();
    for m in &methods {
        let own = DeviceModel::new(&gpu, graph.clone());
        let e = Explainer::new(&own, m, batch)?;
        println!(
            "{:<22} weights {:>8.1}  buffers {:>8.1}  total {:>8.1}",
            m.name(),
            mib(own.weight_bytes()),
            mib(e.memory_bytes()),
            mib(own.weight_bytes() + e.memory_bytes())
        );
        drop(e);
        plans.push(Explainer::new(&shared, m, batch)?);
    }
    let buffers: u64 = plans.iter().map(|p| p.memory_bytes()).sum();
    println!(
        "{:<22} weights {:>8.1}  buffers {:>8.1}  total {:>8.1}",
        "all three, one model",
        mib(shared.weight_bytes()),
        mib(buffers),
        mib(shared.weight_bytes() + buffers)
    );
    Ok(())
}
