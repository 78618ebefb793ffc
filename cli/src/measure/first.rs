//! First-explanation latency: what a user waits for before the first heatmap — the device
//! opened, the model loaded, the plan built (kernels compiled on first use), the first run —
//! and then a steady run, per model in one process: the first model pays for the kernels every
//! later plan of the process shares.

use std::fmt::Write;
use std::time::{Duration, Instant};

use super::models::named_model;
use super::timing::{median, LrpBench};
use glimpse::error::Result;
use glimpse::explain::Composite;
use glimpse::gpu::Gpu;
use glimpse::DeviceModel;

/// One model's first explanation, at batch 1.
#[derive(Clone, Debug)]
pub struct FirstRow {
    /// Model name.
    pub model: String,
    /// Reading (or building) the model.
    pub load: Duration,
    /// Recording the LRP plan and building it on the device (kernels compiled on first use).
    pub plan: Duration,
    /// The first explanation (weights uploaded, pipelines created).
    pub first_run: Duration,
    /// Median of `reps` later explanations.
    pub steady: Duration,
}

impl FirstRow {
    /// Load + plan + first run: the first-explanation latency.
    pub fn latency(&self) -> Duration {
        self.load + self.plan + self.first_run
    }
}

/// Times `name`'s first LRP explanation with `composite` on `gpu`, then `reps` steady ones.
pub fn measure_first(
    gpu: &Gpu,
    name: &str,
    composite: &Composite,
    reps: usize,
) -> Result<FirstRow> {
    let t = Instant::now();
    let model = named_model(name)?;
    let load = t.elapsed();
    let t = Instant::now();
    let dm = DeviceModel::new(gpu, model.graph);
    let mut plan = LrpBench::new(&dm, composite, 1)?;
    let planned = t.elapsed();
    let t = Instant::now();
    plan.run()?;
    let first_run = t.elapsed();
    let mut times = Vec::new();
    for _ in 0..reps.max(1) {
        let t = Instant::now();
        plan.run()?;
        times.push(t.elapsed());
    }
    Ok(FirstRow {
        model: model.name,
        load,
        plan: planned,
        first_run,
        steady: median(times),
    })
}

/// The rows as a Markdown table, after the device's opening time.
pub fn first_table(open: Duration, rows: &[FirstRow]) -> String {
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    let mut s = format!(
        "device opened in {:.1} ms\n\n| model (in process order) | load ms | plan ms | first run ms | first explanation ms | steady run ms |\n|---|---:|---:|---:|---:|---:|\n",
        ms(open)
    );
    for r in rows {
        let _ = writeln!(
            s,
            "| {} | {:.1} | {:.1} | {:.1} | {:.1} | {:.1} |",
            r.model,
            ms(r.load),
            ms(r.plan),
            ms(r.first_run),
            ms(r.latency()),
            ms(r.steady)
        );
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_latency_is_load_plan_and_first_run() {
        let ms = Duration::from_millis;
        let r = FirstRow {
            model: "m".into(),
            load: ms(10),
            plan: ms(200),
            first_run: ms(50),
            steady: ms(20),
        };
        assert_eq!(r.latency(), ms(260));
        let t = first_table(ms(5), &[r]);
        assert!(
            t.contains("| m | 10.0 | 200.0 | 50.0 | 260.0 | 20.0 |"),
            "{t}"
        );
        assert!(t.starts_with("device opened in 5.0 ms"), "{t}");
    }
}
