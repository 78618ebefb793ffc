//! Timing a model's forward and LRP plans on one batch size, and the numbers a table row shows.

use std::time::{Duration, Instant};

use super::models::BenchModel;
use crate::zoo::Normal;
use glimpse::error::Result;
use glimpse::explain::backward::lrp_floor;
use glimpse::explain::{Bound, Composite, LrpPlan, Target};
use glimpse::gpu::Gpu;
use glimpse::model::{Graph, Tensor};
use glimpse::{DeviceModel, Predictor};

/// The LRP composite benchmarks time: Zennit's EpsilonPlusFlat with box bounds [0, 1].
pub fn bench_composite() -> Composite {
    Composite::preset("epsilon-plus-flat", Bound::Scalar(0.0), Bound::Scalar(1.0))
        .expect("a built-in preset")
}

/// A seeded standard-normal batch `[batch, ...input]` for `graph`.
pub fn bench_input(graph: &Graph, batch: usize) -> Tensor {
    let shape = std::iter::once(batch)
        .chain(graph.input_shape().iter().copied())
        .collect();
    Normal::new(batch as u64).tensor(shape)
}

/// A forward plan with its input, ready to be run repeatedly.
pub struct ForwardBench {
    plan: Predictor,
    x: Tensor,
}

impl ForwardBench {
    /// Plans the model's forward pass for `batch` items.
    pub fn new(model: &DeviceModel, batch: usize) -> Result<Self> {
        Ok(ForwardBench {
            plan: Predictor::new(model, batch)?,
            x: bench_input(model.graph(), batch),
        })
    }

    /// Items per submission (fewer than the batch when the device's binding limit requires it).
    pub fn per_submission(&self) -> usize {
        self.plan.batch()
    }

    /// The program (to profile it).
    pub fn executable(&self) -> &glimpse::gpu::Executable {
        self.plan.executable()
    }

    /// Runs the batch once, outputs read back.
    pub fn run(&mut self) -> Result<()> {
        self.plan.run(&self.x).map(|_| ())
    }
}

/// An LRP plan (forward + backward in one submission) with its input, ready to be run repeatedly.
pub struct LrpBench {
    plan: LrpPlan,
    x: Tensor,
    targets: Vec<Target>,
}

impl LrpBench {
    /// Plans LRP with `composite` for `batch` items, explaining the predicted class.
    pub fn new(model: &DeviceModel, composite: &Composite, batch: usize) -> Result<Self> {
        Ok(LrpBench {
            plan: LrpPlan::new(model, composite, batch, false)?,
            x: bench_input(model.graph(), batch),
            targets: vec![Target::parse("pred")?],
        })
    }

    /// The program (to profile it).
    pub fn executable(&self) -> &glimpse::gpu::Executable {
        self.plan.executable()
    }

    /// Explains the batch once, relevance read back.
    pub fn run(&mut self) -> Result<()> {
        self.plan.run(&self.x, &self.targets).map(|_| ())
    }
}

/// Runs `f` once to warm up (pipelines, caches), then `reps` times; returns the median time.
pub fn median_time(reps: usize, mut f: impl FnMut() -> Result<()>) -> Result<Duration> {
    f()?;
    let mut times = Vec::with_capacity(reps.max(1));
    for _ in 0..reps.max(1) {
        let t = Instant::now();
        f()?;
        times.push(t.elapsed());
    }
    Ok(median(times))
}

/// One measured row: a model at one batch size.
#[derive(Clone, Debug)]
pub struct Row {
    /// Model name.
    pub model: String,
    /// Items per run.
    pub batch: usize,
    /// Items per GPU submission.
    pub per_submission: usize,
    /// Multiply-adds of one item's forward pass.
    pub macs_per_item: u64,
    /// Median forward time of the batch.
    pub forward: Duration,
    /// Median LRP time of the batch (forward + backward), when measured.
    pub lrp: Option<Duration>,
    /// The composite's multiply-add floor, in forward passes ([`lrp_floor`]), when LRP is timed.
    pub floor: Option<f64>,
}

impl Row {
    /// Forward throughput, items per second.
    pub fn images_per_s(&self) -> f64 {
        self.batch as f64 / self.forward.as_secs_f64()
    }

    /// Forward arithmetic rate, 2 FLOP per multiply-add of the items asked for.
    pub fn gflops(&self) -> f64 {
        2.0 * self.macs_per_item as f64 * self.batch as f64 / self.forward.as_secs_f64() / 1e9
    }

    /// LRP time ÷ forward time.
    pub fn lrp_ratio(&self) -> Option<f64> {
        self.lrp
            .map(|l| l.as_secs_f64() / self.forward.as_secs_f64())
    }
}

/// Times `model`'s forward pass (and LRP with `lrp`'s composite, if given) at `batch`: one
/// warm-up run each, then `reps` rounds that run forward and LRP alternately, so that both see
/// the same load on a shared machine; medians.
pub fn measure(
    gpu: &Gpu,
    model: &BenchModel,
    batch: usize,
    reps: usize,
    lrp: Option<&Composite>,
) -> Result<Row> {
    let dm = DeviceModel::new(gpu, model.graph.clone());
    let mut fwd = ForwardBench::new(&dm, batch)?;
    let mut exp = match lrp {
        Some(c) => Some(LrpBench::new(&dm, c, batch)?),
        None => None,
    };
    fwd.run()?;
    if let Some(e) = exp.as_mut() {
        e.run()?;
    }
    let (mut tf, mut tl) = (Vec::new(), Vec::new());
    for _ in 0..reps.max(1) {
        let t = Instant::now();
        fwd.run()?;
        tf.push(t.elapsed());
        if let Some(e) = exp.as_mut() {
            let t = Instant::now();
            e.run()?;
            tl.push(t.elapsed());
        }
    }
    Ok(Row {
        model: model.name.clone(),
        batch,
        per_submission: fwd.per_submission(),
        macs_per_item: model.graph.macs_per_item(),
        forward: median(tf),
        lrp: exp.map(|_| median(tl)),
        floor: match lrp {
            Some(c) => lrp_floor(&model.graph, c)?,
            None => None,
        },
    })
}

/// The median of some durations (zero for none).
pub fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v.get(v.len() / 2).copied().unwrap_or_default()
}
