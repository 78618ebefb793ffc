//! Forward throughput of the fixture models and VGG16 at batch 1 and 16: images/s (criterion's
//! throughput), then GFLOP/s and the ratio to the engine's 1024³ matmul (the device's ceiling,
//! timed in the same run) as a Markdown table. `GLIMPSE_BENCH_MODELS` and
//! `GLIMPSE_BENCH_BATCHES` pick others; `cargo test --benches` runs each once, VGG16 replaced
//! by the small VGG.

mod common;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use glimpse_cli::measure::kernels::{vgg_conv_graph, CEILING_N};
use glimpse_cli::measure::table::model_table;
use glimpse_cli::measure::{ForwardBench, MatmulBench, Row};

use common::{batches, configure, gpu, is_slow, models, timed, Times};

fn forward(c: &mut Criterion) {
    let gpu = gpu();
    // The ceiling and the VGG conv3 shape in every flavor the device runs.
    let mut ceiling = 0.0;
    let mut group = c.benchmark_group("kernels");
    configure(&mut group, false);
    let conv = vgg_conv_graph().expect("conv graph");
    let conv_flops = 2 * conv.macs_per_item();
    for flavor in gpu.supported_flavors() {
        let g = gpu.with_flavor(flavor);
        let mut m = MatmulBench::new(&g, CEILING_N).expect("matmul plan");
        let times = Times::default();
        group.throughput(Throughput::Elements(m.flops() as u64));
        group.bench_function(format!("matmul{CEILING_N}/{}", flavor.name()), |b| {
            b.iter_custom(timed(&times, || m.run().expect("matmul")))
        });
        let gflops = m.flops() / times.median().as_secs_f64() / 1e9;
        if flavor == gpu.kernels().dense.flavor {
            ceiling = gflops;
        }
        let dm = glimpse::DeviceModel::new(&g, conv.clone());
        let mut f = ForwardBench::new(&dm, 1).expect("conv plan");
        let conv_times = Times::default();
        group.throughput(Throughput::Elements(conv_flops));
        group.bench_function(format!("vgg_conv3/{}", flavor.name()), |b| {
            b.iter_custom(timed(&conv_times, || f.run().expect("conv")))
        });
        let conv_gflops = conv_flops as f64 / conv_times.median().as_secs_f64() / 1e9;
        println!(
            "{}: matmul {CEILING_N}³ {gflops:.1} GFLOP/s, VGG conv3 {conv_gflops:.1} GFLOP/s",
            flavor.name()
        );
    }
    group.finish();

    let mut rows = Vec::new();
    for model in models() {
        let dm = glimpse::DeviceModel::new(&gpu, model.graph.clone());
        let mut group = c.benchmark_group(format!("forward/{}", model.name));
        configure(&mut group, is_slow(&model));
        for batch in batches() {
            let mut f = ForwardBench::new(&dm, batch).expect("forward plan");
            let times = Times::default();
            group.throughput(Throughput::Elements(batch as u64));
            group.bench_function(format!("batch{batch}"), |b| {
                b.iter_custom(timed(&times, || f.run().expect("forward")))
            });
            rows.push(Row {
                model: model.name.clone(),
                batch,
                per_submission: f.per_submission(),
                macs_per_item: model.graph.macs_per_item(),
                forward: times.median(),
                lrp: None,
                floor: None,
            });
        }
        group.finish();
    }
    if common::test_mode() {
        return; // single runs: no numbers worth a table
    }
    println!(
        "\nceiling: {ceiling:.1} GFLOP/s ({} kernels)\n\n{}",
        gpu.kernels().dense.flavor.name(),
        model_table(&rows, ceiling)
    );
}

criterion_group!(benches, forward);
criterion_main!(benches);
