//! `glimpse evaluate` for the metrics beside the selectivity curves: the robustness metrics
//! (max/avg-sensitivity, local Lipschitz, continuity, Captum's sensitivity-max), which
//! re-explain perturbed copies with the run's methods, and the forward-only ones (module
//! `forward`: infidelity, faithfulness- and monotonicity-correlation, ROAD) against given or
//! computed maps.

use std::path::{Path, PathBuf};

use crate::run::prefetch::each_prefetched;
use glimpse::error::{Error, Result};
use glimpse::evaluate::robustness::{parse_shifts, quantus_shifts};
use glimpse::evaluate::{random_maps, Axis, RobustEvaluator, RobustOptions, Robustness, Summary};
use glimpse::io::inputs::load_items;
use glimpse::render::{line_plot, save_png, Labels, Series};
use glimpse::{Predictor, Target, Tensor};

use super::forward::Forward;
use super::output::{atomic, npy_path};
use super::{Maps, Run};
use crate::evaluate::EvaluateArgs;

/// True when `metric` is one this module evaluates.
pub fn handles(metric: &str) -> bool {
    super::forward::NAMES.contains(&metric) || glimpse::evaluate::ROBUSTNESS_NAMES.contains(&metric)
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

/// The metric of the run.
enum Family {
    Robust(RobustOptions),
    Forward(Forward),
}

impl Family {
    fn of(args: &EvaluateArgs, shape: &[usize]) -> Result<Family> {
        Ok(
            match super::forward::NAMES.contains(&args.metric.as_str()) {
                true => Family::Forward(Forward::from_args(args)?),
                false => Family::Robust(robust_options(args, shape)?),
            },
        )
    }

    /// The arrays each source writes besides its scores, with their shapes for `n` inputs.
    fn arrays(&self, n: usize, numel: usize) -> Vec<(&'static str, Vec<usize>)> {
        match self {
            Family::Robust(o) => {
                let s = o.metric.samples();
                let mut v = vec![("ratios", vec![n, s])];
                if let Robustness::Continuity { .. } = o.metric {
                    v.push(("outputs", vec![n, s + 1]));
                    v.push(("quadrants", vec![n, s, 4]));
                }
                v
            }
            Family::Forward(f) => f
                .widths(numel)
                .into_iter()
                .map(|(k, _)| (k, f.shape(k, n, numel)))
                .collect(),
        }
    }

    /// The plot of one source, if the metric draws one per source.
    fn plot_of(&self) -> Option<&'static str> {
        match self {
            Family::Robust(RobustOptions {
                metric: Robustness::Continuity { .. },
                ..
            }) => Some("continuity"),
            Family::Forward(Forward::Road(_)) => Some("road"),
            _ => None,
        }
    }
}

/// What one map source gathered: scores, then every array by kind.
struct Gathered {
    label: String,
    scores: Vec<f64>,
    arrays: Vec<(&'static str, Vec<f32>)>,
}

impl Gathered {
    fn push(&mut self, kind: &'static str, data: &[f32]) {
        match self.arrays.iter_mut().find(|(k, _)| *k == kind) {
            Some((_, v)) => v.extend_from_slice(data),
            None => self.arrays.push((kind, data.to_vec())),
        }
    }

    fn array(&self, kind: &str) -> &[f32] {
        self.arrays
            .iter()
            .find(|(k, _)| *k == kind)
            .map_or(&[], |(_, v)| v)
    }
}

/// Every file the run writes.
pub fn files(args: &EvaluateArgs, shape: &[usize], labels: &[String]) -> Result<Vec<PathBuf>> {
    let family = Family::of(args, shape)?;
    let out = &args.out;
    let mut f = vec![out.join("summary.json")];
    let numel = shape.iter().product();
    for l in labels {
        f.push(npy_path(out, "scores", l, labels.len()));
        for (k, _) in family.arrays(1, numel) {
            f.push(npy_path(out, k, l, labels.len()));
        }
        if let Some(p) = family.plot_of() {
            f.push(npy_path(out, p, l, labels.len()).with_extension("png"));
        }
    }
    Ok(f)
}

/// One map source at work: re-explaining, or maps for a forward-only metric.
enum Worker<'m> {
    Robust(Box<RobustEvaluator<'m>>),
    Maps(Maps),
}

/// Runs a robustness or forward-only metric over the run's inputs.
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
    let numel: usize = shape.iter().product();
    let family = Family::of(args, &shape)?;
    let mut predictor = match &family {
        Family::Forward(_) => Some(Predictor::logits(&model, args.batch)?),
        Family::Robust(_) => None,
    };
    let mut workers = Vec::with_capacity(sources.len());
    for src in sources {
        workers.push(match (src, &family) {
            (Maps::Method(e), Family::Robust(o)) => {
                Worker::Robust(Box::new(RobustEvaluator::new(&model, *e, o.clone())?))
            }
            (src, Family::Forward(_)) => Worker::Maps(src),
            (_, Family::Robust(_)) => {
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
            arrays: Vec::new(),
        })
        .collect();
    let bar = indicatif::ProgressBar::new((n * workers.len()) as u64);
    let started = std::time::Instant::now();
    let opts = args.input.image_options()?;
    let chunk = super::CHUNK;
    let load = |k: usize| load_items(&items[k * chunk..n.min((k + 1) * chunk)], &shape, &opts);
    each_prefetched(n.div_ceil(chunk), load, |k, x| {
        let (start, end) = (k * chunk, n.min((k + 1) * chunk));
        let given = classes.as_ref().map(|c| &c[start..end]);
        for (w, g) in workers.iter_mut().zip(&mut gathered) {
            match (w, &family) {
                (Worker::Robust(ev), _) => {
                    let e = ev.evaluate(&x, given, start)?;
                    g.scores.extend(&e.scores);
                    g.push("ratios", &e.ratios.data);
                    if let Some(q) = &e.quadrants {
                        g.push("outputs", &e.outputs.data);
                        g.push("quadrants", &q.data);
                    }
                }
                (Worker::Maps(src), Family::Forward(f)) => {
                    let p = predictor.as_mut().expect("made for forward-only metrics");
                    let (maps, predicted) = match src {
                        Maps::File(m) => (m.read_rows(start, end - start)?, None),
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
                    let chunk = f.evaluate(&model, p, &x, &maps, &cls, start)?;
                    g.scores.extend(&chunk.scores);
                    for (kind, data) in &chunk.arrays {
                        g.push(kind, data);
                    }
                }
                (Worker::Maps(_), Family::Robust(_)) => unreachable!("refused above"),
            }
            bar.inc((end - start) as u64);
        }
        Ok(())
    })?;
    bar.finish_and_clear();
    let seconds = started.elapsed().as_secs_f64();
    write(args, &family, &gathered, numel, seconds)?;
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
        "{metric} of {n} inputs: {seconds:.1} s; wrote {}",
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
    family: &Family,
    gathered: &[Gathered],
    numel: usize,
    seconds: f64,
) -> Result<()> {
    std::fs::create_dir_all(&args.out).map_err(|e| Error::io(&args.out, e))?;
    let metric = args.metric.as_str();
    let many = gathered.len();
    let mut results = Vec::new();
    for g in gathered {
        let n = g.scores.len();
        let scores = Tensor::new(vec![n], g.scores.iter().map(|&v| v as f32).collect())?;
        let path = npy_path(&args.out, "scores", &g.label, many);
        atomic(&path, |tmp| glimpse::io::npy::write_f32(tmp, &scores))?;
        for (kind, shape) in family.arrays(n, numel) {
            let t = Tensor::new(shape, g.array(kind).to_vec())?;
            let path = npy_path(&args.out, kind, &g.label, many);
            atomic(&path, |tmp| glimpse::io::npy::write_f32(tmp, &t))?;
        }
        let finite: Vec<f64> = g.scores.iter().copied().filter(|v| v.is_finite()).collect();
        let s = Summary::of(&finite);
        results.push(serde_json::json!({
            "maps": g.label, "inputs": n, "mean": s.mean, "standard_error": s.standard_error,
            "not_finite": n - finite.len(),
        }));
        if let Some(p) = family.plot_of() {
            let path = npy_path(&args.out, p, &g.label, many).with_extension("png");
            match family {
                Family::Robust(RobustOptions {
                    metric: Robustness::Continuity { shifts, axis },
                    ..
                }) => continuity_plot(&path, g, shifts, *axis)?,
                Family::Forward(Forward::Road(r)) => road_plot(&path, g, &r.percentages)?,
                _ => {}
            }
        }
    }
    let (options, score) = match family {
        Family::Robust(o) => (robust_json(o), robust_score(&o.metric)),
        Family::Forward(f) => (f.json(), f.score_text()),
    };
    let summary = serde_json::json!({
        "metric": metric, "options": options, "model": args.model.display().to_string(),
        "score": score, "seconds": seconds, "results": results,
    });
    let path = args.out.join("summary.json");
    atomic(&path, |tmp| {
        let text = serde_json::to_string_pretty(&summary).expect("JSON values serialise");
        std::fs::write(tmp, text + "\n").map_err(|e| Error::io(tmp, e))
    })
}

fn robust_score(m: &Robustness) -> &'static str {
    match m {
        Robustness::AvgSensitivity { .. } => "mean over copies of ||a - a'||_2 / ||a||_2",
        Robustness::MaxSensitivity { .. } | Robustness::SensitivityMax { .. } => {
            "max over copies of ||a - a'||_2 / ||a||_2"
        }
        Robustness::LocalLipschitz { .. } => {
            "max over copies of ||a - a'||_2 / (||x - x'||_2 + 1e-10)"
        }
        Robustness::Continuity { .. } => {
            "max over shifts of ||a - a_t||_1 / (||x - x_t||_2 + 1e-9)"
        }
    }
}

/// ROAD's curve of one source: the fraction of inputs still predicted at each percentage.
fn road_plot(path: &Path, g: &Gathered, percentages: &[f64]) -> Result<()> {
    let p = percentages.len();
    let curves = g.array("curves");
    let n = curves.len() / p.max(1);
    let (mean, error) = (0..p)
        .map(|j| {
            let v: Vec<f64> = (0..n).map(|i| curves[i * p + j] as f64).collect();
            let s = Summary::of(&v);
            (s.mean, s.standard_error)
        })
        .unzip();
    let step = if p > 1 {
        percentages[1] - percentages[0]
    } else {
        1.0
    };
    let labels = Labels {
        title: format!("road: {}", g.label),
        x: "pixels imputed (%)".into(),
        y: "class still predicted, fraction of inputs +- s.e.".into(),
        x_axis: Some((percentages[0], step)),
    };
    let series = [Series {
        label: g.label.clone(),
        mean,
        error,
    }];
    let plot = line_plot(&series, &labels)?;
    atomic(path, |tmp| save_png(tmp, &plot))
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
fn continuity_plot(path: &Path, g: &Gathered, shifts: &[i64], axis: Axis) -> Result<()> {
    let n = g.scores.len();
    let copies = shifts.len();
    let (outputs, quadrants) = (g.array("outputs"), g.array("quadrants"));
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
    let (mean, error) = band(&|i, k| outputs[i * (copies + 1) + 1 + k]);
    series.push(Series {
        label: "f(x_t)".into(),
        mean,
        error,
    });
    for (q, name) in ["top left", "top right", "bottom left", "bottom right"]
        .iter()
        .enumerate()
    {
        let (mean, error) = band(&|i, k| quadrants[(i * copies + k) * 4 + q]);
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
