//! The cost of a selectivity curve beside the forward passes it needs: a sweep's time ÷
//! (forward passes × the batched forward time per item), for pixel flipping and region
//! perturbation, so perturbing on the GPU is seen to cost (nearly) nothing.

use std::time::Duration;

use super::models::BenchModel;
use super::timing::{bench_input, median_time};
use crate::zoo::Normal;
use glimpse::error::Result;
use glimpse::evaluate::{Baseline, EvalOptions, Evaluator, Metric, Order};
use glimpse::gpu::Gpu;
use glimpse::{DeviceModel, Predictor};

/// One model, one metric, one forward batch.
#[derive(Clone, Debug)]
pub struct MetricRow {
    pub model: String,
    pub metric: String,
    pub batch: usize,
    pub inputs: usize,
    pub steps: usize,
    /// One batched forward pass (outputs read back), per item.
    pub forward_per_item: Duration,
    /// The whole evaluation (rankings, fills, sweep, readback).
    pub evaluation: Duration,
}

impl MetricRow {
    /// evaluation ÷ (inputs · (K + 1) · forward per item).
    pub fn overhead(&self) -> f64 {
        let passes = (self.inputs * (self.steps + 1)) as f64;
        self.evaluation.as_secs_f64() / (passes * self.forward_per_item.as_secs_f64())
    }
}

/// The two metrics at the patch size Quantus's examples use for the input size: 4 px below
/// 64 px, else 8 px; K = 49 / 100 regions, and pixel flipping in as many steps.
fn metrics(shape: &[usize]) -> Vec<Metric> {
    let numel: usize = shape.iter().product();
    let small = shape.get(1).is_some_and(|&h| h < 64);
    let (patch, regions) = if small { (4, 49) } else { (8, 100) };
    vec![
        Metric::PixelFlipping {
            features_in_step: numel.div_ceil(regions),
        },
        Metric::RegionPerturbation {
            patch,
            order: Order::Morf,
            regions,
        },
    ]
}

/// Times both metrics on enough inputs for sixteen forward batches (median of `reps` runs
/// after a warm-up) beside the batched forward pass.
pub fn measure_metrics(
    gpu: &Gpu,
    model: &BenchModel,
    batch: usize,
    reps: usize,
) -> Result<Vec<MetricRow>> {
    let dm = DeviceModel::new(gpu, model.graph.clone());
    let shape = model.graph.input_shape().to_vec();
    let x = bench_input(&model.graph, batch);
    let mut forward = Predictor::logits(&dm, batch)?;
    let f = median_time(reps, || forward.run(&x).map(|_| ()))?;
    drop(forward);
    let mut rows = Vec::new();
    for metric in metrics(&shape) {
        let options = EvalOptions {
            metric,
            baseline: Baseline::Black,
            probability: true,
        };
        let mut ev = Evaluator::new(&dm, options, batch)?;
        let k = ev.steps();
        let inputs = (16 * batch).div_ceil(k + 1).max(1);
        let xs = bench_input(&model.graph, inputs);
        let mut maps = Normal::new(7).tensor(xs.shape.clone());
        maps.data.iter_mut().for_each(|v| *v = v.abs());
        let classes = vec![0; inputs];
        let t = median_time(reps, || ev.evaluate(&xs, &maps, Some(&classes)).map(|_| ()))?;
        rows.push(MetricRow {
            model: model.name.clone(),
            metric: metric.name().into(),
            batch,
            inputs,
            steps: k,
            forward_per_item: f / batch as u32,
            evaluation: t,
        });
    }
    Ok(rows)
}

/// The Markdown table of metric rows.
pub fn metric_table(rows: &[MetricRow]) -> String {
    let mut s = String::from(
        "| model | metric | batch | inputs × (K + 1) | forward ms / item | curve ms / input | overhead |\n|---|---|---:|---:|---:|---:|---:|\n",
    );
    for r in rows {
        s.push_str(&format!(
            "| {} | {} | {} | {} × {} | {:.3} | {:.1} | {:.2} |\n",
            r.model,
            r.metric,
            r.batch,
            r.inputs,
            r.steps + 1,
            r.forward_per_item.as_secs_f64() * 1e3,
            r.evaluation.as_secs_f64() * 1e3 / r.inputs as f64,
            r.overhead()
        ));
    }
    s
}
