//! LRP cost: the time of forward + EpsilonPlusFlat backward (one submission) ÷ the forward time,
//! for the fixture models and VGG16 at batch 1 and 16 (goal: ≤ 2). Criterion times both plans;
//! the ratios are printed as a Markdown table. `GLIMPSE_BENCH_MODELS` and
//! `GLIMPSE_BENCH_BATCHES` pick others; `cargo test --benches` runs each once, VGG16 replaced
//! by the small VGG.

mod common;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use glimpse::explain::backward::lrp_floor;
use glimpse_cli::measure::kernels::ceiling_gflops;
use glimpse_cli::measure::table::model_table;
use glimpse_cli::measure::{bench_composite, ForwardBench, LrpBench, Row};

use common::{batches, configure, gpu, is_slow, models, timed, Times};

fn lrp(c: &mut Criterion) {
    let gpu = gpu();
    let composite = bench_composite();
    let mut rows = Vec::new();
    for model in models() {
        let dm = glimpse::DeviceModel::new(&gpu, model.graph.clone());
        let mut group = c.benchmark_group(format!("lrp/{}", model.name));
        configure(&mut group, is_slow(&model));
        for batch in batches() {
            group.throughput(Throughput::Elements(batch as u64));
            let mut f = ForwardBench::new(&dm, batch).expect("forward plan");
            let forward = Times::default();
            group.bench_function(format!("forward/batch{batch}"), |b| {
                b.iter_custom(timed(&forward, || f.run().expect("forward")))
            });
            let per_submission = f.per_submission();
            drop(f);
            let mut l = LrpBench::new(&dm, &composite, batch).expect("LRP plan");
            let explain = Times::default();
            group.bench_function(format!("epsilon-plus-flat/batch{batch}"), |b| {
                b.iter_custom(timed(&explain, || l.run().expect("LRP")))
            });
            rows.push(Row {
                model: model.name.clone(),
                batch,
                per_submission,
                macs_per_item: model.graph.macs_per_item(),
                forward: forward.median(),
                lrp: Some(explain.median()),
                floor: lrp_floor(&model.graph, &composite).expect("rules apply"),
            });
        }
        group.finish();
    }
    if common::test_mode() {
        return; // single runs: no numbers worth a table
    }
    let ceiling = ceiling_gflops(&gpu, 3).expect("ceiling");
    println!(
        "\nceiling: {ceiling:.1} GFLOP/s ({} kernels)\n\n{}",
        gpu.kernels().dense.flavor.name(),
        model_table(&rows, ceiling)
    );
}

criterion_group!(benches, lrp);
criterion_main!(benches);
