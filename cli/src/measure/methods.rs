//! The cost of the gradient and CAM family as ratios to the forward pass of the same batch, for
//! the table beside Captum's (benches/peers/captum_bench.py times the same set on PyTorch).

use std::time::Duration;

use super::models::BenchModel;
use super::timing::{bench_input, median_time, ForwardBench};
use glimpse::error::Result;
use glimpse::explain::cam::{CamKind, CamPlan};
use glimpse::explain::gradient::{
    Baseline, GradientMap, GradientPlan, IntegratedGradients, Riemann, SmoothGrad, SmoothKind,
    SmoothOptions,
};
use glimpse::explain::Target;
use glimpse::gpu::Gpu;

/// Path points of integrated gradients in the table (as the Captum script).
pub const IG_STEPS: usize = 32;
/// Noisy copies of SmoothGrad in the table (as the Captum script).
pub const SG_SAMPLES: usize = 16;
/// Column names, in order.
pub const METHOD_COLUMNS: [&str; 5] = [
    "Saliency",
    "IG (32 steps)",
    "SmoothGrad (16)",
    "GuidedBackprop",
    "Grad-CAM",
];

/// One model at one batch size: the forward time and each method's time ÷ it.
#[derive(Clone, Debug)]
pub struct MethodRow {
    pub model: String,
    pub batch: usize,
    pub forward: Duration,
    /// Ratios in the order of [`METHOD_COLUMNS`]; `None` where not measured.
    pub ratios: Vec<Option<f64>>,
}

/// Multiply-adds per item above which IG and SmoothGrad are timed per sample (batch 1) only:
/// on a CPU rasteriser a VGG16 batch of 16 × 32 path points takes many minutes.
pub const PER_SAMPLE_ABOVE_MACS: u64 = 1_000_000_000;

/// Times the five methods on `model` at `batch` (median of `reps` after a warm-up each); IG and
/// SmoothGrad on models above [`PER_SAMPLE_ABOVE_MACS`] only at batch 1.
pub fn measure_methods(
    gpu: &Gpu,
    model: &BenchModel,
    batch: usize,
    reps: usize,
) -> Result<MethodRow> {
    let graph = &model.graph;
    let dm = glimpse::DeviceModel::new(gpu, graph.clone());
    let mut fwd = ForwardBench::new(&dm, batch)?;
    let forward = median_time(reps, || fwd.run())?;
    drop(fwd);
    let x = bench_input(graph, batch);
    let t = vec![Target::Predicted];
    // Gradients per submission: the batch, or all steps / samples of one input and more.
    let per = (batch * IG_STEPS).min(64).max(batch);
    let mut saliency = GradientPlan::new(&dm, GradientMap::Saliency, batch)?;
    let mut guided = GradientPlan::new(&dm, GradientMap::GuidedBackprop, batch)?;
    let mut cam = CamPlan::new(&dm, CamKind::GradCam, None, batch)?;
    let per_sample = batch == 1 || graph.macs_per_item() <= PER_SAMPLE_ABOVE_MACS;
    let (ig, smooth) = if per_sample {
        let zero = Baseline::parse("zero")?;
        let mut ig = IntegratedGradients::new(&dm, zero, IG_STEPS, Riemann::Middle, per)?;
        let options = SmoothOptions {
            kind: SmoothKind::Mean,
            samples: SG_SAMPLES,
            sigma: 0.1,
            abs: true,
            ..SmoothOptions::default()
        };
        let mut smooth = SmoothGrad::new(&dm, options, per)?;
        (
            Some(median_time(reps, || ig.run(&x, &t).map(|_| ()))?),
            Some(median_time(reps, || smooth.run(&x, &t).map(|_| ()))?),
        )
    } else {
        (None, None)
    };
    let times = [
        Some(median_time(reps, || saliency.run(&x, &t).map(|_| ()))?),
        ig,
        smooth,
        Some(median_time(reps, || guided.run(&x, &t).map(|_| ()))?),
        Some(median_time(reps, || cam.run(&x, &t).map(|_| ()))?),
    ];
    let ratio = |d: &Option<Duration>| d.map(|d| d.as_secs_f64() / forward.as_secs_f64());
    Ok(MethodRow {
        model: model.name.clone(),
        batch,
        forward,
        ratios: times.iter().map(ratio).collect(),
    })
}

/// The Markdown table of method rows.
pub fn method_table(rows: &[MethodRow]) -> String {
    let mut s = format!(
        "| model | batch | forward ms | {} |\n|---|---:|---:|",
        METHOD_COLUMNS.join(" | ")
    );
    s.push_str(&"---:|".repeat(METHOD_COLUMNS.len()));
    s.push('\n');
    for r in rows {
        let cells: Vec<String> = r
            .ratios
            .iter()
            .map(|v| v.map_or("–".into(), |v| format!("{v:.2}")))
            .collect();
        s.push_str(&format!(
            "| {} | {} | {:.1} | {} |\n",
            r.model,
            r.batch,
            r.forward.as_secs_f64() * 1e3,
            cells.join(" | ")
        ));
    }
    s
}
