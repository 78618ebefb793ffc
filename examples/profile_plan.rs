//! Wall time per GPU pass of a model's forward and LRP plans, summed by pass label (for finding
//! what is slow): `cargo run --release --example profile_plan -- MODEL.onnx [BATCH] [--each]`
//! (`--each`: also every forward pass in order).

use std::collections::BTreeMap;
use std::time::Duration;

use glimpse::explain::{LrpPlan, Target};
use glimpse::{DeviceModel, Gpu, Predictor};
use glimpse_cli::measure::{bench_composite, bench_input};

fn summarise(what: &str, passes: Vec<(String, Duration)>) {
    let total: Duration = passes.iter().map(|(_, d)| *d).sum();
    let mut by_label: BTreeMap<String, (usize, Duration)> = BTreeMap::new();
    for (label, d) in passes {
        let e = by_label.entry(label).or_default();
        e.0 += 1;
        e.1 += d;
    }
    let mut rows: Vec<_> = by_label.into_iter().collect();
    rows.sort_by_key(|r| std::cmp::Reverse(r.1 .1));
    println!("{what}: {:.1} ms in all", total.as_secs_f64() * 1e3);
    for (label, (n, d)) in rows {
        println!("  {:>8.1} ms  {n:>4} × {label}", d.as_secs_f64() * 1e3);
    }
}

fn main() -> glimpse::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let path = args.get(1).expect("usage: profile_plan MODEL.onnx [BATCH]");
    let batch: usize = args
        .get(2)
        .filter(|a| !a.starts_with("--"))
        .map_or(1, |b| b.parse().expect("a batch size"));
    let graph = glimpse::load_model(std::path::Path::new(path))?;
    let x = bench_input(&graph, batch);
    let model = DeviceModel::new(&Gpu::new()?, graph);
    let mut fwd = Predictor::new(&model, batch)?;
    fwd.run(&x)?;
    let passes = fwd.executable().profile()?;
    if args.iter().any(|a| a == "--each") {
        for (label, d) in &passes {
            println!("  {:>8.2} ms  {label}", d.as_secs_f64() * 1e3);
        }
    }
    summarise("forward", passes);
    let mut lrp = LrpPlan::new(&model, &bench_composite(), batch, false)?;
    lrp.run(&x, &[Target::Predicted])?;
    summarise("LRP (EpsilonPlusFlat)", lrp.executable().profile()?);
    Ok(())
}
