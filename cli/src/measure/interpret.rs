//! The cost of an activation-maximisation step: steps per second and the step's time ÷ the
//! time of one forward + input-gradient pass (saliency) of the same batch, for the table beside
//! the PyTorch loop (benches/peers/am_bench.py).

use std::time::Duration;

use super::models::BenchModel;
use super::timing::{bench_input, median_time};
use glimpse::error::Result;
use glimpse::explain::gradient::{GradientMap, GradientPlan};
use glimpse::explain::Target;
use glimpse::gpu::Gpu;
use glimpse::interpret::{
    ClassForm, Fourier, Maximizer, Objective, Optimizer, Penalties, Settings,
};

/// Steps per timed run by default: all in one submission.
pub const AM_STEPS: usize = 20;

/// One model at one batch size.
#[derive(Clone, Debug)]
pub struct InterpretRow {
    pub model: String,
    pub batch: usize,
    /// Forward + input gradient of the batch.
    pub gradient: Duration,
    /// One step (forward, objective, backward, penalties, Adam).
    pub step: Duration,
    /// One step in Lucid's decorrelated Fourier basis (RGB inputs; the image from the spectrum
    /// and the spectrum's adjoint added).
    pub fourier: Option<Duration>,
}

/// Times `steps` Adam steps on class 0's log-probability with an L2 penalty (median of
/// `reps` runs after a warm-up) and one saliency pass.
pub fn measure_interpret(
    gpu: &Gpu,
    model: &BenchModel,
    batch: usize,
    reps: usize,
    steps: usize,
) -> Result<InterpretRow> {
    let graph = &model.graph;
    let dm = glimpse::DeviceModel::new(gpu, graph.clone());
    let x = bench_input(graph, batch);
    let mut saliency = GradientPlan::new(&dm, GradientMap::Saliency, batch)?;
    let t = vec![Target::Class(0)];
    let gradient = median_time(reps, || saliency.run(&x, &t).map(|_| ()))?;
    drop(saliency);
    let settings = Settings {
        steps,
        every: steps,
        optimizer: Optimizer::adam(0.05),
        penalties: Penalties {
            l2: 1e-3,
            ..Penalties::default()
        },
        range: (-f32::MAX, f32::MAX),
        ..Settings::default()
    };
    let objectives = vec![
        Objective::Class {
            class: 0,
            form: ClassForm::LogSoftmax
        };
        batch
    ];
    let mut am = Maximizer::new(&dm, graph.output, batch, &settings)?;
    let run = median_time(reps, || am.run(&objectives).map(|_| ()))?;
    drop(am);
    let fourier = match graph.input_shape() {
        [3, _, _] => {
            let settings = Settings {
                fourier: Some(Fourier::default()),
                range: (-1.0, 1.0),
                ..settings
            };
            let mut am = Maximizer::new(&dm, graph.output, batch, &settings)?;
            let run = median_time(reps, || am.run(&objectives).map(|_| ()))?;
            Some(run / steps as u32)
        }
        _ => None,
    };
    Ok(InterpretRow {
        model: model.name.clone(),
        batch,
        gradient,
        step: run / steps as u32,
        fourier,
    })
}

/// The Markdown table of interpret rows.
pub fn interpret_table(rows: &[InterpretRow]) -> String {
    let mut s = String::from(
        "| model | batch | forward + gradient ms | AM step ms | steps/s | step ÷ (forward + gradient) | Fourier step ÷ (forward + gradient) |\n|---|---:|---:|---:|---:|---:|---:|\n",
    );
    for r in rows {
        let (g, st) = (r.gradient.as_secs_f64(), r.step.as_secs_f64());
        let fourier = r
            .fourier
            .map_or("–".into(), |f| format!("{:.2}", f.as_secs_f64() / g));
        s.push_str(&format!(
            "| {} | {} | {:.2} | {:.2} | {:.1} | {:.2} | {fourier} |\n",
            r.model,
            r.batch,
            g * 1e3,
            st * 1e3,
            1.0 / st,
            st / g
        ));
    }
    s
}
