//! `glimpse evaluate` for the robustness metrics (max/avg-sensitivity, local Lipschitz,
//! continuity, Captum's sensitivity-max, re-explaining perturbed copies with the run's
//! methods) and Captum's infidelity (forward passes against given or computed maps).

use std::path::{Path, PathBuf};

use glimpse::error::{Error, Result};
use glimpse::evaluate::robustness::{parse_shifts, quantus_shifts};
use glimpse::evaluate::{
    random_maps, Axis, Infidelity, RobustEvaluator, RobustOptions, Robustness, Summary,
};
use glimpse::render::{line_plot, save_png, Labels, Series};
use glimpse::{Predictor, Target, Tensor};

use super::output::{atomic, npy_path};
use super::{Maps, Run};
use crate::evaluate::EvaluateArgs;

/// True when `metric` is one this module evaluates.
pub fn handles(metric: &str) -> bool {
    metric == "infidelity" || glimpse::evaluate::ROBUSTNESS_NAMES.contains(&metric)
}

/// The robustness options the arguments describe, for inputs of `shape`.
pub fn robust_options(args: &EvaluateArgs, shape: &[usize]) -> Result<RobustOptions> {
    let axis = match args.axis.as_str() {
        "x" => Axis::X,
        "y" => Axis::Y,
        other => return Err(Error::Invalid(format!("--axis {other}: use x or y"))),
    };
    let extent = match (shape, axis) {
        ([_, _, w], Axis::X) => *w,
        ([_, h, _], Axis::Y) => *h,
        _ => 0,
    };
    let mut o = RobustOptions::defaults(&args.metric, extent.max(args.nr_steps))?;
    match &mut o.metric {
        Robustness::MaxSensitivity { samples, radius }
        | Robustness::AvgSensitivity { samples, radius }
        | Robustness::SensitivityMax { samples, radius } => {
            *samples = args.nr_samples.unwrap_or(*samples);
            *radius = args.radius.unwrap_or(*radius);
        }
        Robustness::LocalLipschitz { samples, std } => {
            *samples = args.nr_samples.unwrap_or(*samples);
            *std = args.noise_std.unwrap_or(*std);
        }
        Robustness::Continuity { shifts, axis: a } => {
            *a = axis;
            *shifts = match &args.shifts {
                Some(s) => parse_shifts(s)?,
                None => quantus_shifts(extent, args.nr_steps)?,
            };
        }
    }
    o.normalise = args.normalise.unwrap_or(o.normalise);
    o.abs = args.abs.unwrap_or(o.abs);
    o.seed = args.seed;
    Ok(o)
}

/// Captum's infidelity as the arguments describe it.
fn infidelity(args: &EvaluateArgs) -> Infidelity {
    Infidelity {
        samples: args.nr_samples.unwrap_or(10),
        std: args.noise_std.unwrap_or(0.1),
        normalize: args.normalize,
        seed: args.seed,
    }
}

/// What one map source gathered.
struct Gathered {
    label: String,
    scores: Vec<f64>,
    /// Per input and copy: the ratio (robustness) or Iᵀa (infidelity).
    per_copy: Vec<f32>,
    /// Continuity: the class score at the input and each shift; infidelity: Δ per copy.
    second: Vec<f32>,
    /// Continuity: the quadrants' relevance per shift.
    quadrants: Vec<f32>,
}

/// The kinds of .npy each source writes.
fn kinds(metric: &str) -> &'static [&'static str] {
    match metric {
        "continuity" => &["scores", "ratios", "outputs", "quadrants"],
        "infidelity" => &["scores", "explained", "changes"],
        _ => &["scores", "ratios"],
    }
}

/// Every file the run writes.
pub fn files(out: &Path, metric: &str, labels: &[String]) -> Vec<PathBuf> {
    let mut f = vec![out.join("summary.json")];
    for l in labels {
        for k in kinds(metric) {
            f.push(npy_path(out, k, l, labels.len()));
        }
        if metric == "continuity" {
            f.push(npy_path(out, "continuity", l, labels.len()).with_extension("png"));
        }
    }
    f
}

/// One map source at work: re-explaining, or maps for infidelity.
enum Worker<'m> {
    Robust(Box<RobustEvaluator<'m>>),
    Maps(Maps),
}

/// Runs a robustness metric or infidelity over the run's inputs.
pub fn run(args: &EvaluateArgs, r: Run) -> Result<()> {
    let Run {
        model,
        items,
        shape,
        classes,
        labels,
        sources,
    } = r;
    let metric = args.metric.as_str();
    let n = items.len();
    let robust = match metric {
        "infidelity" => None,
        _ => Some(robust_options(args, &shape)?),
    };
    let copies = match &robust {
        Some(o) => o.metric.samples(),
        None => infidelity(args).samples,
    };
    let mut predictor = match robust {
        None => Some(Predictor::logits(&model, args.batch)?),
        Some(_) => None,
    };
    let mut workers = Vec::with_capacity(sources.len());
    for src in sources {
        workers.push(match (src, &robust) {
            (Maps::Method(e), Some(o)) => {
                Worker::Robust(Box::new(RobustEvaluator::new(&model, *e, o.clone())?))
            }
            (src, None) => Worker::Maps(src),
            (_, Some(_)) => {
                return Err(Error::Invalid(format!(
                    "{metric} re-explains perturbed inputs: give --method, not --maps or random"
                )))
            }
        });
    }
    let mut gathered: Vec<Gathered> = labels
        .iter()
        .map(|l| Gathered {
            label: l.clone(),
            scores: Vec::with_capacity(n),
            per_copy: Vec::with_capacity(n * copies),
            second: Vec::new(),
            quadrants: Vec::new(),
        })
        .collect();
    let bar = indicatif::ProgressBar::new((n * workers.len()) as u64);
    let started = std::time::Instant::now();
    let opts = args.input.image_options()?;
    for start in (0..n).step_by(super::CHUNK) {
        let end = (start + super::CHUNK).min(n);
        let x = glimpse::io::inputs::load_items(&items[start..end], &shape, &opts)?;
        let given = classes.as_ref().map(|c| &c[start..end]);
        for (w, g) in workers.iter_mut().zip(&mut gathered) {
            match w {
                Worker::Robust(ev) => {
                    let e = ev.evaluate(&x, given, start)?;
                    g.scores.extend(&e.scores);
                    g.per_copy.extend(&e.ratios.data);
                    g.second.extend(&e.outputs.data);
                    if let Some(q) = &e.quadrants {
                        g.quadrants.extend(&q.data);
                    }
                }
                Worker::Maps(src) => {
                    let p = predictor.as_mut().expect("made for infidelity");
                    let (maps, predicted) = match src {
                        Maps::File(m) => (super::slice(m, start, end)?, None),
                        Maps::Random => (random_maps(end - start, &shape, args.seed, start)?, None),
                        Maps::Method(e) => {
                            let got = e.explain(&x, &[Target::Predicted])?;
                            (got.map, Some(got.classes))
                        }
                    };
                    let cls = match (given, predicted) {
                        (Some(c), _) => c.to_vec(),
                        (None, Some(c)) => c,
                        (None, None) => predict(p, &x)?,
                    };
                    let e = infidelity(args).evaluate(&model, p, &x, &maps, &cls, start)?;
                    g.scores.extend(&e.scores);
                    g.per_copy.extend(&e.explained.data);
                    g.second.extend(&e.changes.data);
                }
            }
            bar.inc((end - start) as u64);
        }
    }
    bar.finish_and_clear();
    let seconds = started.elapsed().as_secs_f64();
    write(args, robust.as_ref(), &gathered, copies, seconds)?;
    say!(
        "{:<28} {:>12} {:>12} {:>6}",
        "maps",
        "mean",
        "std. error",
        "NaN"
    );
    for g in &gathered {
        let finite: Vec<f64> = g.scores.iter().copied().filter(|v| v.is_finite()).collect();
        let s = Summary::of(&finite);
        say!(
            "{:<28} {:>12.6} {:>12.6} {:>6}",
            g.label,
            s.mean,
            s.standard_error,
            g.scores.len() - finite.len()
        );
    }
    say!(
        "{metric} of {n} inputs, {copies} copies each: {seconds:.1} s; wrote {}",
        args.out.display()
    );
    Ok(())
}

fn predict(p: &mut Predictor, x: &Tensor) -> Result<Vec<usize>> {
    let y = p.run(x)?;
    let k = y.numel() / y.shape[0];
    Ok(y.data.chunks(k).map(glimpse::explain::argmax).collect())
}

fn write(
    args: &EvaluateArgs,
    robust: Option<&RobustOptions>,
    gathered: &[Gathered],
    copies: usize,
    seconds: f64,
) -> Result<()> {
    std::fs::create_dir_all(&args.out).map_err(|e| Error::io(&args.out, e))?;
    let metric = args.metric.as_str();
    let many = gathered.len();
    let mut results = Vec::new();
    for g in gathered {
        let n = g.scores.len();
        let mut arrays: Vec<(&str, Tensor)> = vec![(
            "scores",
            Tensor::new(vec![n], g.scores.iter().map(|&v| v as f32).collect())?,
        )];
        match metric {
            "continuity" => {
                arrays.push(("ratios", Tensor::new(vec![n, copies], g.per_copy.clone())?));
                arrays.push((
                    "outputs",
                    Tensor::new(vec![n, copies + 1], g.second.clone())?,
                ));
                arrays.push((
                    "quadrants",
                    Tensor::new(vec![n, copies, 4], g.quadrants.clone())?,
                ));
            }
            "infidelity" => {
                arrays.push((
                    "explained",
                    Tensor::new(vec![n, copies], g.per_copy.clone())?,
                ));
                arrays.push(("changes", Tensor::new(vec![n, copies], g.second.clone())?));
            }
            _ => arrays.push(("ratios", Tensor::new(vec![n, copies], g.per_copy.clone())?)),
        }
        for (kind, t) in &arrays {
            let path = npy_path(&args.out, kind, &g.label, many);
            atomic(&path, |tmp| glimpse::io::npy::write_f32(tmp, t))?;
        }
        let finite: Vec<f64> = g.scores.iter().copied().filter(|v| v.is_finite()).collect();
        let s = Summary::of(&finite);
        results.push(serde_json::json!({
            "maps": g.label, "inputs": n, "mean": s.mean, "standard_error": s.standard_error,
            "not_finite": n - finite.len(),
        }));
        if let Some(RobustOptions {
            metric: Robustness::Continuity { shifts, axis },
            ..
        }) = robust
        {
            let path = npy_path(&args.out, "continuity", &g.label, many).with_extension("png");
            continuity_plot(&path, g, shifts, *axis, copies)?;
        }
    }
    let options = match robust {
        Some(o) => robust_json(o),
        None => {
            let i = infidelity(args);
            serde_json::json!({"samples": i.samples, "std": i.std, "normalize": i.normalize,
                "seed": i.seed, "perturbation": "x - I, I ~ N(0, std^2) per input value"})
        }
    };
    let score = match metric {
        "avg-sensitivity" => "mean over copies of ||a - a'||_2 / ||a||_2",
        "max-sensitivity" | "sensitivity-max" => "max over copies of ||a - a'||_2 / ||a||_2",
        "local-lipschitz" => "max over copies of ||a - a'||_2 / (||x - x'||_2 + 1e-10)",
        "continuity" => "max over shifts of ||a - a_t||_1 / (||x - x_t||_2 + 1e-9)",
        _ => "mean over copies of (I.a - (f(x) - f(x - I)))^2 (Captum)",
    };
    let summary = serde_json::json!({
        "metric": metric, "options": options, "model": args.model.display().to_string(),
        "score": score, "copies_per_input": copies, "seconds": seconds, "results": results,
    });
    let path = args.out.join("summary.json");
    atomic(&path, |tmp| {
        let text = serde_json::to_string_pretty(&summary).expect("JSON values serialise");
        std::fs::write(tmp, text + "\n").map_err(|e| Error::io(tmp, e))
    })
}

fn robust_json(o: &RobustOptions) -> serde_json::Value {
    let mut j = serde_json::json!({"normalise": o.normalise, "abs": o.abs, "seed": o.seed});
    match &o.metric {
        Robustness::MaxSensitivity { samples, radius }
        | Robustness::AvgSensitivity { samples, radius }
        | Robustness::SensitivityMax { samples, radius } => {
            j["samples"] = (*samples).into();
            j["noise"] = format!("U(-{radius}, {radius}) per input value").into();
        }
        Robustness::LocalLipschitz { samples, std } => {
            j["samples"] = (*samples).into();
            j["noise"] = format!("N(0, {std}^2) per input value").into();
        }
        Robustness::Continuity { shifts, axis } => {
            j["shifts"] = shifts.clone().into();
            j["axis"] = if *axis == Axis::X { "x" } else { "y" }.into();
            j["fill"] = "the input's minimum (Quantus's black)".into();
        }
    }
    j
}

/// The paper's translation plot: f(xₜ) and the relevance of each quadrant against the shift,
/// means over the inputs with their standard errors.
fn continuity_plot(
    path: &Path,
    g: &Gathered,
    shifts: &[i64],
    axis: Axis,
    copies: usize,
) -> Result<()> {
    let n = g.scores.len();
    let band = |value: &dyn Fn(usize, usize) -> f32| -> (Vec<f64>, Vec<f64>) {
        (0..copies)
            .map(|k| {
                let v: Vec<f64> = (0..n).map(|i| value(i, k) as f64).collect();
                let s = Summary::of(&v);
                (s.mean, s.standard_error)
            })
            .unzip()
    };
    let mut series = Vec::new();
    let (mean, error) = band(&|i, k| g.second[i * (copies + 1) + 1 + k]);
    series.push(Series {
        label: "f(x_t)".into(),
        mean,
        error,
    });
    for (q, name) in ["top left", "top right", "bottom left", "bottom right"]
        .iter()
        .enumerate()
    {
        let (mean, error) = band(&|i, k| g.quadrants[(i * copies + k) * 4 + q]);
        series.push(Series {
            label: format!("R {name}"),
            mean,
            error,
        });
    }
    let step = if shifts.len() > 1 {
        (shifts[1] - shifts[0]) as f64
    } else {
        1.0
    };
    let labels = Labels {
        title: format!("continuity: {}", g.label),
        x: format!(
            "translation along {} (pixels)",
            if axis == Axis::X { "x" } else { "y" }
        ),
        y: "f(x_t) and relevance per quadrant, mean +- s.e.".into(),
        x_axis: Some((shifts.first().copied().unwrap_or(0) as f64, step)),
    };
    let plot = line_plot(&series, &labels)?;
    atomic(path, |tmp| save_png(tmp, &plot))
}
