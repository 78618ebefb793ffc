//! What `glimpse evaluate` writes: per map source its curves `[N, K + 1]` and scores `[N]` as
//! .npy, one summary.json with the options and per source the mean, standard error, AOPC and
//! mean curve, and curves.png — every file through a temporary one renamed into place.

use std::path::{Path, PathBuf};

use glimpse::error::{Error, Result};
use glimpse::evaluate::{CurveKind, EvalOptions, Evaluation, Metric, Summary};
use glimpse::render::{line_plot, save_png, Labels, Series};
use glimpse::Tensor;

use super::EvaluateArgs;

/// The curves and scores of one map source, gathered over the chunks.
pub struct Source {
    pub label: String,
    pub curves: Vec<f32>,
    pub scores: Vec<f64>,
    pub classes: Vec<usize>,
    points: usize,
}

impl Source {
    pub fn new(label: String, n: usize, points: usize) -> Self {
        Source {
            label,
            curves: Vec::with_capacity(n * points),
            scores: Vec::with_capacity(n),
            classes: Vec::with_capacity(n),
            points,
        }
    }

    pub fn push(&mut self, e: &Evaluation) {
        self.curves.extend_from_slice(&e.curves.data);
        self.scores.extend_from_slice(&e.scores);
        self.classes.extend_from_slice(&e.classes);
    }

    fn n(&self) -> usize {
        self.scores.len()
    }

    /// Mean and standard error of the curves at every point.
    fn band(&self) -> (Vec<f64>, Vec<f64>) {
        (0..self.points)
            .map(|k| {
                let v: Vec<f64> = (0..self.n())
                    .map(|i| self.curves[i * self.points + k] as f64)
                    .collect();
                let s = Summary::of(&v);
                (s.mean, s.standard_error)
            })
            .unzip()
    }
}

/// The files of `labels` (one source: `curves.npy`; several: `curves_<label>.npy`).
fn files(out: &Path, labels: &[String]) -> Vec<PathBuf> {
    let mut f = vec![out.join("summary.json"), out.join("curves.png")];
    for l in labels {
        for kind in ["curves", "scores"] {
            f.push(npy_path(out, kind, l, labels.len()));
        }
    }
    f
}

pub(crate) fn npy_path(out: &Path, kind: &str, label: &str, sources: usize) -> PathBuf {
    if sources == 1 {
        out.join(format!("{kind}.npy"))
    } else {
        out.join(format!("{kind}_{label}.npy"))
    }
}

/// Fails before any work when an output exists and `overwrite` is off.
pub fn check_free(out: &Path, labels: &[String], overwrite: bool) -> Result<()> {
    if overwrite {
        return Ok(());
    }
    match files(out, labels).into_iter().find(|f| f.exists()) {
        Some(f) => Err(Error::Invalid(format!(
            "{} exists; choose another --out or pass --overwrite",
            f.display()
        ))),
        None => Ok(()),
    }
}

/// Writes through `tmp` beside `path`, then renames it into place.
pub(crate) fn atomic(path: &Path, write: impl FnOnce(&Path) -> Result<()>) -> Result<()> {
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let tmp = path.with_file_name(format!(".{name}.partial"));
    write(&tmp)?;
    std::fs::rename(&tmp, path).map_err(|e| Error::io(path, e))
}

fn options_json(o: &EvalOptions) -> serde_json::Value {
    let mut j = serde_json::json!({
        "baseline": o.baseline.name(),
        "score": if o.probability { "probability" } else { "logit" },
    });
    match o.metric {
        Metric::PixelFlipping { features_in_step } => {
            j["features_in_step"] = features_in_step.into();
        }
        Metric::RegionPerturbation {
            patch,
            order,
            regions,
        } => {
            j["patch_size"] = patch.into();
            j["order"] = order.name().into();
            if let glimpse::evaluate::Order::Random { seed } = order {
                j["seed"] = seed.into();
            }
            j["regions"] = regions.into();
        }
        Metric::Selectivity { patch } => j["patch_size"] = patch.into(),
    }
    j
}

/// Writes every output of the run.
pub fn write_outputs(
    args: &EvaluateArgs,
    options: &EvalOptions,
    sources: &[Source],
    forward_passes: usize,
    seconds: f64,
) -> Result<()> {
    std::fs::create_dir_all(&args.out).map_err(|e| Error::io(&args.out, e))?;
    let metric = options.metric;
    let mut entries = Vec::new();
    let mut series = Vec::new();
    for s in sources {
        let n = s.n();
        let curves = Tensor::new(vec![n, s.points], s.curves.clone())?;
        let scores = Tensor::new(vec![n], s.scores.iter().map(|&v| v as f32).collect())?;
        for (kind, t) in [("curves", &curves), ("scores", &scores)] {
            let path = npy_path(&args.out, kind, &s.label, sources.len());
            atomic(&path, |tmp| glimpse::io::npy::write_f32(tmp, t))?;
        }
        let summary = Summary::of(&s.scores);
        let (mean, error) = s.band();
        let mut e = serde_json::json!({
            "maps": s.label, "inputs": n, "mean": summary.mean,
            "standard_error": summary.standard_error,
            "mean_curve": mean, "standard_error_curve": error,
        });
        if metric.curve_kind() == CurveKind::Drop {
            e["aopc"] = summary.mean.into();
        }
        entries.push(e);
        series.push(Series {
            label: s.label.clone(),
            mean,
            error,
        });
    }
    let score = match metric {
        Metric::RegionPerturbation { .. } => "aopc: mean over k = 0..K of f(x) - f(x_k)",
        _ => "area under f(x_k) over k = 1..K (trapezoids, as Quantus)",
    };
    let summary = serde_json::json!({
        "metric": metric.name(), "options": options_json(options), "recompute": args.recompute,
        "model": args.model.display().to_string(), "steps": sources[0].points - 1,
        "score": score, "forward_passes_per_source": forward_passes, "seconds": seconds,
        "results": entries,
    });
    let path = args.out.join("summary.json");
    atomic(&path, |tmp| {
        let text = serde_json::to_string_pretty(&summary).expect("JSON values serialise");
        std::fs::write(tmp, text + "\n").map_err(|e| Error::io(tmp, e))
    })?;
    let f = if options.probability { "p" } else { "f" };
    let y = match metric.curve_kind() {
        CurveKind::Drop => format!("{f}(x) - {f}(x_k), mean +- s.e."),
        CurveKind::Score => format!("{f}(x_k), mean +- s.e."),
    };
    let labels = Labels {
        title: format!("{} ({})", metric.name(), options.baseline.name()),
        x: "perturbation step k".into(),
        y,
        x_axis: None,
    };
    let plot = line_plot(&series, &labels)?;
    atomic(&args.out.join("curves.png"), |tmp| save_png(tmp, &plot))
}
