//! Shared by the criterion benches: which models and batches to time, criterion settings that
//! suit seconds-long VGG16 runs, and per-iteration times kept for the summary tables.
#![allow(dead_code)]

use std::cell::RefCell;
use std::time::{Duration, Instant};

use criterion::{BenchmarkGroup, SamplingMode};
use glimpse::Gpu;
use glimpse_cli::measure::models::{named_model, BenchModel, DEFAULT_MODELS};

/// The device every bench of this binary shares; no adapter is a failure, never a skip.
pub fn gpu() -> Gpu {
    Gpu::new().unwrap_or_else(|e| panic!("benches need an adapter: {e}"))
}

/// `cargo test --benches` runs each bench once: VGG16 (seconds per image on lavapipe) is then
/// replaced by the small VGG so the test suite stays quick.
pub fn test_mode() -> bool {
    let args: Vec<String> = std::env::args().collect();
    !args.iter().any(|a| a == "--bench") || args.iter().any(|a| a == "--test")
}

/// Models to time: `GLIMPSE_BENCH_MODELS` (comma-separated names or .onnx paths) or lenet,
/// resnet and vgg16.
pub fn models() -> Vec<BenchModel> {
    let names: Vec<String> = match std::env::var("GLIMPSE_BENCH_MODELS") {
        Ok(s) if !s.trim().is_empty() => s.split(',').map(|m| m.trim().to_string()).collect(),
        _ => DEFAULT_MODELS.iter().map(|m| m.to_string()).collect(),
    };
    names
        .iter()
        .map(|m| {
            if test_mode() && m == "vgg16" {
                "vgg-small"
            } else {
                m.as_str()
            }
        })
        .map(|m| named_model(m).unwrap_or_else(|e| panic!("{e}")))
        .collect()
}

/// Batch sizes: `GLIMPSE_BENCH_BATCHES` or 1 and 16.
pub fn batches() -> Vec<usize> {
    match std::env::var("GLIMPSE_BENCH_BATCHES") {
        Ok(s) if !s.trim().is_empty() => s
            .split(',')
            .map(|b| b.trim().parse().expect("GLIMPSE_BENCH_BATCHES: sizes"))
            .collect(),
        _ => vec![1, 16],
    }
}

/// Few samples of single runs for models that take seconds per run, the usual otherwise.
pub fn configure<M: criterion::measurement::Measurement>(
    group: &mut BenchmarkGroup<M>,
    slow: bool,
) {
    if slow {
        group
            .sample_size(10)
            .warm_up_time(Duration::from_millis(1))
            .measurement_time(Duration::from_secs(5))
            .sampling_mode(SamplingMode::Flat);
    } else {
        group
            .sample_size(20)
            .warm_up_time(Duration::from_millis(500))
            .measurement_time(Duration::from_secs(3));
    }
}

/// Whether a model is slow enough for [`configure`]'s short settings (≥ 1 GMAC per item).
pub fn is_slow(model: &BenchModel) -> bool {
    model.graph.macs_per_item() >= 1_000_000_000
}

/// Per-iteration times of one benchmark, recorded by [`timed`].
#[derive(Default)]
pub struct Times(RefCell<Vec<Duration>>);

impl Times {
    /// The median per-iteration time recorded so far.
    pub fn median(&self) -> Duration {
        let mut v = self.0.borrow().clone();
        v.sort();
        v.get(v.len() / 2).copied().unwrap_or_default()
    }
}

/// A routine for `Bencher::iter_custom` that runs `f` `iters` times and records the mean.
pub fn timed<'a>(times: &'a Times, mut f: impl FnMut() + 'a) -> impl FnMut(u64) -> Duration + 'a {
    move |iters| {
        let start = Instant::now();
        for _ in 0..iters {
            f();
        }
        let d = start.elapsed();
        times.0.borrow_mut().push(d / iters.max(1) as u32);
        d
    }
}
