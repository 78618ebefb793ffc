//! The soak: many explanations in one process, watching for what only shows over thousands of
//! them — host memory that grows, device memory that is never given back, results that drift.
//! Rounds build one plan per method, explain a run of batches with it and drop it (so plan
//! building and dropping are soaked too, not just the run); after each round the process's
//! resident memory, glimpse's count of the device memory its plans hold and wgpu's allocator
//! report are sampled. The first batch of the first round is explained again at the end of
//! the last round and must give the same bits.

use std::time::{Duration, Instant};

use glimpse::error::{Error, Result};
use glimpse::{DeviceModel, Explainer, Gpu, Graph, Method, Target, Tensor};

/// What to soak.
#[derive(Clone, Debug)]
pub struct SoakConfig {
    /// Explanations in all (rounded up to whole batches of every method in every round).
    pub explanations: usize,
    pub batch: usize,
    /// Batches each method's plan explains before it is dropped.
    pub batches_per_plan: usize,
    pub methods: Vec<String>,
    /// Rounds counted as warm-up (kernels compiled, allocator pools grown) before flatness is judged.
    pub warmup_rounds: usize,
}

/// One sample, taken after a round, with its plans dropped.
#[derive(Clone, Copy, Debug)]
pub struct SoakSample {
    pub explanations: usize,
    pub elapsed: Duration,
    /// Resident set size of the process (VmRSS), bytes.
    pub rss: u64,
    /// Device bytes glimpse's plans hold (0 with every plan dropped).
    pub glimpse_device: u64,
    /// wgpu's allocator: bytes in live allocations and bytes reserved from the driver.
    pub wgpu_allocated: Option<u64>,
    pub wgpu_reserved: Option<u64>,
}

/// The soak's record.
#[derive(Clone, Debug)]
pub struct SoakReport {
    pub samples: Vec<SoakSample>,
    pub warmup_rounds: usize,
    /// Methods whose last explanation of the first batch equals its first bit for bit.
    pub identical: Vec<(String, bool)>,
    /// Largest |first − last| over all methods' maps (0 when identical).
    pub max_difference: f32,
}

impl SoakReport {
    fn after_warmup(&self) -> &[SoakSample] {
        &self.samples[self.warmup_rounds.min(self.samples.len() - 1)..]
    }

    /// Resident memory growth from the first sample after warm-up to the largest after it, bytes.
    pub fn rss_growth(&self) -> i64 {
        let s = self.after_warmup();
        s.iter().map(|x| x.rss).max().unwrap_or(0) as i64 - s[0].rss as i64
    }

    /// The same for wgpu's allocated bytes (0 where the backend keeps no report).
    pub fn wgpu_growth(&self) -> i64 {
        let s = self.after_warmup();
        let v = |x: &SoakSample| x.wgpu_allocated.unwrap_or(0) as i64;
        s.iter().map(v).max().unwrap_or(0) - v(&s[0])
    }

    /// Every method's last explanation equals its first.
    pub fn all_identical(&self) -> bool {
        self.identical.iter().all(|(_, same)| *same)
    }

    /// A table of the samples and the verdicts, for the script and BENCHMARKS.md.
    pub fn table(&self) -> String {
        let mib = |b: u64| b as f64 / (1 << 20) as f64;
        let opt = |b: Option<u64>| b.map_or("—".to_string(), |b| format!("{:.2}", mib(b)));
        let mut out = String::from(
            "| explanations | seconds | RSS MiB | glimpse device MiB | wgpu allocated MiB | wgpu reserved MiB |\n|---:|---:|---:|---:|---:|---:|\n",
        );
        for s in &self.samples {
            out += &format!(
                "| {} | {:.1} | {:.1} | {:.2} | {} | {} |\n",
                s.explanations,
                s.elapsed.as_secs_f64(),
                mib(s.rss),
                mib(s.glimpse_device),
                opt(s.wgpu_allocated),
                opt(s.wgpu_reserved)
            );
        }
        out += &format!(
            "\nafter {} warm-up rounds: RSS growth {:+.2} MiB, wgpu allocated growth {:+.2} MiB; first vs last explanation of the same batch: {} (max |Δ| {:e})\n",
            self.warmup_rounds,
            self.rss_growth() as f64 / (1 << 20) as f64,
            self.wgpu_growth() as f64 / (1 << 20) as f64,
            self.identical
                .iter()
                .map(|(m, same)| format!("{m} {}", if *same { "bit-identical" } else { "DIFFERENT" }))
                .collect::<Vec<_>>()
                .join(", "),
            self.max_difference
        );
        out
    }
}

/// The process's resident set size (Linux `/proc/self/status`), bytes.
pub fn resident_bytes() -> Result<u64> {
    let path = "/proc/self/status";
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    text.lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map(|kb| kb * 1024)
        .ok_or_else(|| Error::Invalid(format!("{path} has no VmRSS line")))
}

/// Soaks `graph` with `inputs` (`[M, ...]`, cycled through batch by batch); `progress` sees
/// each sample as it is taken.
pub fn soak(
    gpu: &Gpu,
    graph: Graph,
    inputs: &Tensor,
    config: &SoakConfig,
    mut progress: impl FnMut(&SoakSample),
) -> Result<SoakReport> {
    let methods: Vec<Method> = config
        .methods
        .iter()
        .map(|m| m.parse())
        .collect::<Result<_>>()?;
    let (b, per_plan) = (config.batch, config.batches_per_plan);
    if methods.is_empty() || b == 0 || per_plan == 0 {
        return Err(Error::Invalid(
            "a soak needs a method, a batch and batches per plan".into(),
        ));
    }
    let item: usize = inputs.shape[1..].iter().product();
    let available = inputs.shape[0] / b;
    if available == 0 {
        return Err(Error::Invalid(format!(
            "a soak needs at least one batch of {b} inputs; {} given",
            inputs.shape[0]
        )));
    }
    let batch_of = |k: usize| -> Result<Tensor> {
        let at = (k % available) * b * item;
        let mut shape = inputs.shape.clone();
        shape[0] = b;
        Tensor::new(shape, inputs.data[at..at + b * item].to_vec())
    };
    let per_round = methods.len() * per_plan * b;
    let rounds = config
        .explanations
        .div_ceil(per_round)
        .max(config.warmup_rounds + 2);
    let model = DeviceModel::new(gpu, graph);
    let start = Instant::now();
    let mut firsts = Vec::new();
    // Compared as they come, so the last sample does not count maps the soak itself keeps.
    let (mut identical, mut max_difference) = (Vec::new(), 0f32);
    let mut samples = Vec::with_capacity(rounds);
    let mut next = 0;
    for round in 0..rounds {
        for method in &methods {
            let mut plan = Explainer::new(&model, method, b)?;
            for k in 0..per_plan {
                // Every round starts at batch 0, so the first and the last round see it both.
                let x = batch_of(if k == 0 { 0 } else { next })?;
                next += 1;
                let map = plan.explain(&x, &[Target::Predicted])?.map;
                if k == 0 && round == 0 {
                    firsts.push(map);
                } else if k == 0 && round == rounds - 1 {
                    let first: &Tensor = &firsts[identical.len()];
                    for (p, q) in first.data.iter().zip(&map.data) {
                        // f32::max drops NaN; a NaN on either side is the largest difference.
                        let d = (p - q).abs();
                        max_difference = if d.is_nan() || max_difference.is_nan() {
                            f32::NAN
                        } else {
                            max_difference.max(d)
                        };
                    }
                    let same = first.shape == map.shape
                        && first
                            .data
                            .iter()
                            .zip(&map.data)
                            .all(|(p, q)| p.to_bits() == q.to_bits());
                    identical.push((config.methods[identical.len()].clone(), same));
                }
            }
        }
        gpu.wait()?;
        let (wgpu_allocated, wgpu_reserved) = gpu.driver_memory().unzip();
        let sample = SoakSample {
            explanations: (round + 1) * per_round,
            elapsed: start.elapsed(),
            rss: resident_bytes()?,
            glimpse_device: gpu.allocated_bytes(),
            wgpu_allocated,
            wgpu_reserved,
        };
        progress(&sample);
        samples.push(sample);
    }
    Ok(SoakReport {
        samples,
        warmup_rounds: config.warmup_rounds,
        identical,
        max_difference,
    })
}
