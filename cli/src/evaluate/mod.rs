//! `glimpse evaluate`: selectivity curves of explanations — maps given as .npy or computed by
//! any glimpse method in the same run — streamed through the library's evaluator in chunks;
//! writes the curves, the scores, a summary and a plot. The robustness metrics and infidelity
//! (module `robust`) share the inputs, labels and methods.

mod forward;
mod output;
mod robust;

use std::path::PathBuf;

use clap::Args;
use glimpse::error::{Error, Result};
use glimpse::evaluate::{
    random_maps, Baseline, EvalOptions, Evaluator, Metric, Order, Recompute, Summary,
};
use glimpse::io::inputs::{list_inputs, load_items};
use glimpse::io::npy::NpyReader;
use glimpse::{DeviceModel, Explainer, Target};

use super::explain::{file_stem, method_from, ExplainArgs, MethodArgs};
use super::options::{floats, InputArgs};
use crate::run::prefetch::each_prefetched;
use output::{check_free, write_outputs, Source};

/// Inputs explained and evaluated together (bounds the memory of a long run).
pub(crate) const CHUNK: usize = 256;

const AFTER_HELP: &str = "\
Conventions: a map [N, 1, H, W] is broadcast over the channels. pixel-flipping removes single \
input values (channels apart, as Quantus); region-perturbation and selectivity remove square \
patches across all channels on a grid padded as Quantus pads it (floor/ceil halves). Regions go \
in order of their map sum; equal sums in index order. Baselines, Quantus's names: black = the \
input's minimum, white = its maximum, mean = the mean of the input as perturbed so far \
(recomputed before every step, as Quantus does), uniform = one U(LO, HI) draw per input and step \
(seeded), blur = the input blurred by a Gaussian (--blur-sigma), or a number. The class is the \
prediction unless --labels are given; the score followed is its softmax probability (Quantus's \
default) or, with --logits, its logit. Curves start at the unperturbed input (k = 0).

Robustness (re-explaining, --method only): max-sensitivity and avg-sensitivity (Quantus: \
--nr-samples 200 copies x + U(-r, r), --radius 0.2; max or mean of ||a - a'|| / ||a||), \
sensitivity-max (Captum's: 10 copies, r = 0.02), local-lipschitz (Quantus: 200 copies x + \
N(0, s^2), --noise-std 0.1; max of ||a - a'|| / ||x - x'||), continuity (Quantus: the input \
translated along --axis by --nr-steps 28 shifts, or by --shifts FROM:TO[:STEP], the gap filled \
with the input's minimum; max of ||a - a_t||_1 / ||x - x_t||_2; also writes f(x_t) and the \
relevance of the four quadrants per shift, and their plot: the paper's translation experiment). \
Explanations are normalised per input by their largest |value| where Quantus normalises \
(local-lipschitz, continuity; --normalise to change) and made absolute for continuity (--abs). \
Noise is seeded: input i, copy s draw the same values in any run. infidelity (Captum's, with \
--maps or --method): mean over --nr-samples 10 draws I ~ N(0, s^2) (--noise-std 0.1) of \
(I.a - (f(x) - f(x - I)))^2 on the class logit; --normalize scales a by the best beta first.

Faithfulness (Quantus's, with --maps or --method): faithfulness-correlation (--nr-runs 100 \
seeded random subsets of --subset-size 224 values set to --baseline black; Pearson of their \
attribution sum and the logit's drop), monotonicity-correlation (values replaced \
--features-in-step at a time in order of increasing |a| (equal values in index order), each \
step --nr-samples 100 times by a seeded uniform value; Spearman of the steps' attribution and \
the variance of the probability they cause over f(x)^2), road (the top --percentages 1:99:2 % \
of pixels, ranked by the map summed over channels, imputed by the weighted mean of their \
neighbours, solved exactly, plus N(0, 0.01^2) noise; 1 while the class is still predicted). \
Quantus 0.6.0 ranks colour maps' C*H*W values as H*W pixels, which fails on colour images.";

/// Arguments of `glimpse evaluate`.
#[derive(Args, Debug)]
#[command(after_long_help = AFTER_HELP)]
pub struct EvaluateArgs {
    /// The ONNX model.
    #[arg(long)]
    pub model: PathBuf,
    /// pixel-flipping, region-perturbation, selectivity; max-sensitivity, avg-sensitivity,
    /// sensitivity-max, local-lipschitz, continuity; infidelity, faithfulness-correlation,
    /// monotonicity-correlation, road.
    #[arg(long)]
    pub metric: String,
    /// Robustness metrics, infidelity, monotonicity-correlation: perturbed copies per input
    /// (per step for monotonicity; default: the peer's).
    #[arg(long)]
    pub nr_samples: Option<usize>,
    /// max-/avg-sensitivity, sensitivity-max: the bound r of the uniform noise.
    #[arg(long)]
    pub radius: Option<f64>,
    /// local-lipschitz, infidelity, road: σ of the Gaussian noise (road: Quantus's 0.01).
    #[arg(long)]
    pub noise_std: Option<f32>,
    /// continuity: shifts in pixels, `FROM:TO[:STEP]` or `A,B,…` (default: Quantus's schedule).
    #[arg(long, allow_hyphen_values = true)]
    pub shifts: Option<String>,
    /// continuity: Quantus's number of shifts when --shifts is not given.
    #[arg(long, default_value_t = 28)]
    pub nr_steps: usize,
    /// continuity: translate along x (the width) or y.
    #[arg(long, default_value = "x")]
    pub axis: String,
    /// Robustness metrics: divide each explanation by its largest |value| (default: Quantus's).
    #[arg(long)]
    pub normalise: Option<bool>,
    /// Robustness and correlation metrics: compare |a| (default: Quantus's).
    #[arg(long)]
    pub abs: Option<bool>,
    /// faithfulness-correlation: random subsets per input (Quantus: 100).
    #[arg(long)]
    pub nr_runs: Option<usize>,
    /// faithfulness-correlation: values per subset (Quantus: 224).
    #[arg(long)]
    pub subset_size: Option<usize>,
    /// road: percentages of the pixels imputed, `FROM:TO[:STEP]` or `A,B,…` (Quantus: 1:99:2).
    #[arg(long)]
    pub percentages: Option<String>,
    /// infidelity: Captum's normalize (scale the maps by the best β first).
    #[arg(long)]
    pub normalize: bool,
    /// selectivity: re-explain the perturbed input after every step and remove the most
    /// relevant remaining patch of the new map (min(--regions, all) steps; --method only).
    #[arg(long)]
    pub recompute: bool,
    /// pixel-flipping, monotonicity-correlation: input values removed per step.
    #[arg(long, default_value_t = 1)]
    pub features_in_step: usize,
    /// region-perturbation, selectivity: side of a patch in pixels.
    #[arg(long, default_value_t = 8)]
    pub patch_size: usize,
    /// region-perturbation: morf (most relevant first), lerf, or random (seeded by --seed).
    #[arg(long, default_value = "morf")]
    pub order: String,
    /// region-perturbation: patches removed (K).
    #[arg(long, default_value_t = 100)]
    pub regions: usize,
    /// What removed regions become: black, white, mean, uniform, blur, or a number
    /// (default: black; uniform for monotonicity-correlation, as Quantus).
    #[arg(long)]
    pub baseline: Option<String>,
    /// --baseline uniform: the range drawn from.
    #[arg(long, value_name = "LO,HI", default_value = "0,1")]
    pub uniform: String,
    /// --baseline blur: σ of the Gaussian in pixels.
    #[arg(long, default_value_t = 5.0)]
    pub blur_sigma: f32,
    /// Seed of --order random, --baseline uniform, --method random and the robustness noise.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Follow the class logit instead of its softmax probability.
    #[arg(long)]
    pub logits: bool,
    /// Precomputed maps, [N, …input] or [N, 1, H, W], one per input in order.
    #[arg(long, value_name = "R.npy", conflicts_with = "methods")]
    pub maps: Option<PathBuf>,
    /// Explain with this method in the same run (repeatable: one curve each): a name of
    /// `glimpse explain --method`, lrp:COMPOSITE, lrp-rule:RULE[/FIRST-LAYER-RULE] (e.g.
    /// lrp-rule:gamma:0.1/zbox), or random (uniform noise, the control).
    #[arg(long = "method", value_name = "METHOD")]
    pub methods: Vec<String>,
    /// Class per input (.npy of integers) instead of the prediction.
    #[arg(long, value_name = "y.npy")]
    pub labels: Option<PathBuf>,
    /// Output folder.
    #[arg(long)]
    pub out: PathBuf,
    /// Replace files an earlier run left in the output folder.
    #[arg(long)]
    pub overwrite: bool,
    /// Perturbed inputs per forward pass.
    #[arg(long, default_value_t = 64)]
    pub batch: usize,
    /// Inputs per explanation submission.
    #[arg(long, default_value_t = 8)]
    pub explain_batch: usize,
    /// LRP: lowest input value for box rules (default: from --range/--mean/--std).
    #[arg(long, value_name = "L[,L,L]")]
    pub low: Option<String>,
    /// LRP: highest input value for box rules.
    #[arg(long, value_name = "H[,H,H]")]
    pub high: Option<String>,
    /// integrated-gradients: points on the path.
    #[arg(long, default_value_t = 64)]
    pub steps: usize,
    /// Reference input of integrated-gradients and deeplift (zero or FILE.npy), taylor's root
    /// point (search, zero or FILE.npy).
    #[arg(long, value_name = "zero|search|FILE.npy")]
    pub reference: Option<String>,
    /// smoothgrad family: noisy copies per input.
    #[arg(long, default_value_t = 16)]
    pub samples: usize,
    /// smoothgrad family: noise σ as a fraction of each input's value range.
    #[arg(long, default_value_t = 0.15)]
    pub sigma: f32,
    /// cam family: the feature map, by ONNX node name or index.
    #[arg(long, value_name = "NAME|INDEX")]
    pub layer: Option<String>,
    #[command(flatten)]
    pub input: InputArgs,
}

/// The options the arguments describe.
pub fn options(args: &EvaluateArgs) -> Result<EvalOptions> {
    let metric = match args.metric.as_str() {
        "pixel-flipping" => Metric::PixelFlipping {
            features_in_step: args.features_in_step,
        },
        "region-perturbation" => Metric::RegionPerturbation {
            patch: args.patch_size,
            order: Order::parse(&args.order, args.seed)?,
            regions: args.regions,
        },
        "selectivity" => Metric::Selectivity {
            patch: args.patch_size,
        },
        other => {
            return Err(Error::Invalid(format!(
                "--metric {other}: use one of {}",
                glimpse::evaluate::METRIC_NAMES.join(", ")
            )))
        }
    };
    let baseline = baseline(args, args.baseline.as_deref().unwrap_or("black"))?;
    Ok(EvalOptions {
        metric,
        baseline,
        probability: !args.logits,
    })
}

/// A file-name-safe label for a --method spec (`lrp-rule:gamma:0.1/zbox:0,1` →
/// `lrp-rule_gamma_0.1_zbox_0_1`): every character but letters, digits, `-`, `_` and `.`
/// becomes `_`.
fn method_label(spec: &str) -> String {
    spec.chars()
        .map(|c| match c {
            c if c.is_alphanumeric() || "-_.".contains(c) => c,
            _ => '_',
        })
        .collect()
}

/// The baseline `name` with its options (--uniform, --blur-sigma, --seed).
pub(crate) fn baseline(args: &EvaluateArgs, name: &str) -> Result<Baseline> {
    let mut baseline = Baseline::parse(name, args.seed, args.blur_sigma)?;
    if let Baseline::Uniform { low, high, .. } = &mut baseline {
        let r = floats(&args.uniform, "uniform")?;
        let [lo, hi] = r[..] else {
            return Err(Error::Invalid("--uniform: expected LO,HI".into()));
        };
        if lo >= hi || !lo.is_finite() || !hi.is_finite() {
            return Err(Error::Invalid(format!(
                "--uniform {lo},{hi}: LO must be below HI"
            )));
        }
        (*low, *high) = (lo, hi);
    }
    if args.blur_sigma.is_nan() || args.blur_sigma <= 0.0 {
        return Err(Error::Invalid("--blur-sigma must be positive".into()));
    }
    Ok(baseline)
}

/// The `glimpse explain` arguments one `--method` stands for.
fn explain_args(args: &EvaluateArgs, spec: &str) -> ExplainArgs {
    let (method, composite) = match spec.split_once(':') {
        Some(("lrp", c)) => ("lrp", c),
        Some(("lrp-rule", _)) => ("lrp", "epsilon-plus-flat"),
        _ => (spec, "epsilon-plus-flat"),
    };
    // lrp-rule:RULE[/FIRST]: one rule everywhere, optionally another on the first layer.
    let (rule, first_rule) = match spec.strip_prefix("lrp-rule:") {
        Some(r) => match r.split_once('/') {
            Some((all, first)) => (Some(all.to_string()), Some(first.to_string())),
            None => (Some(r.to_string()), None),
        },
        None => (None, None),
    };
    ExplainArgs {
        model: args.model.clone(),
        method: method.into(),
        composite: composite.into(),
        rule,
        first_rule,
        layer_rules: Vec::new(),
        max_pool_rule: "argmax".into(),
        ignore_bias: false,
        low: args.low.clone(),
        high: args.high.clone(),
        target: "pred".into(),
        cmap: "coldnhot".into(),
        out: args.out.clone(),
        batch: args.explain_batch,
        conservation: false,
        translate: None,
        pool: None,
        features: None,
        classes: None,
        filtering: Default::default(),
        window_score: "sum".into(),
        methods: MethodArgs {
            steps: args.steps,
            riemann: "middle".into(),
            baseline: args.reference.clone(),
            samples: args.samples,
            sigma: args.sigma,
            seed: args.seed,
            noise: None,
            layer: args.layer.clone(),
            window: None,
            stride: None,
        },
        input: args.input.clone(),
        run: Default::default(),
    }
}

/// Where one curve's maps come from.
pub(crate) enum Maps {
    /// A precomputed `.npy`, read a chunk of rows at a time.
    File(NpyReader),
    Random,
    Method(Box<Explainer>),
}

/// What every metric's run shares: the model on the device, the inputs, the labels, and one
/// map source per label.
pub(crate) struct Run {
    pub model: DeviceModel,
    pub items: Vec<glimpse::io::inputs::InputItem>,
    pub shape: Vec<usize>,
    pub classes: Option<Vec<usize>>,
    pub labels: Vec<String>,
    pub sources: Vec<Maps>,
}

/// Runs `glimpse evaluate`.
pub fn run(args: &EvaluateArgs) -> Result<()> {
    if robust::handles(&args.metric) {
        let r = setup(args, |shape, labels| {
            check_files(&robust::files(args, shape, labels)?, args.overwrite)
        })?;
        return robust::run(args, r);
    }
    let options = options(args)?;
    let r = setup(args, |_, labels| {
        check_free(&args.out, labels, args.overwrite)
    })?;
    selectivity(args, options, r)
}

/// Fails before any work when one of `files` exists and `overwrite` is off.
fn check_files(files: &[PathBuf], overwrite: bool) -> Result<()> {
    match files.iter().find(|f| !overwrite && f.exists()) {
        Some(f) => Err(Error::Invalid(format!(
            "{} exists; choose another --out or pass --overwrite",
            f.display()
        ))),
        None => Ok(()),
    }
}

/// Loads what every metric needs, after `check` has found the outputs free.
fn setup(
    args: &EvaluateArgs,
    check: impl FnOnce(&[usize], &[String]) -> Result<()>,
) -> Result<Run> {
    if args.maps.is_none() && args.methods.is_empty() {
        return Err(Error::Invalid(
            "give the maps (--maps R.npy) or a method to compute them (--method)".into(),
        ));
    }
    let labels: Vec<String> = match &args.maps {
        Some(p) => vec![file_stem(
            &p.file_stem().unwrap_or_default().to_string_lossy(),
        )],
        None => args.methods.iter().map(|m| method_label(m)).collect(),
    };
    if let Some(dup) = labels
        .iter()
        .enumerate()
        .find(|(i, l)| labels[..*i].contains(l))
    {
        return Err(Error::Invalid(format!("--method {} is given twice", dup.1)));
    }
    // CAMs need the unfolded model; every other method sees the same function either way.
    let cam = args.methods.iter().any(|m| m.contains("cam"));
    let graph = glimpse::load_model_with(
        &args.model,
        &glimpse::LoadOptions {
            fold_batch_norm: !cam,
        },
    )?;
    let shape = graph.input_shape().to_vec();
    check(&shape, &labels)?;
    let items = list_inputs(&args.input.inputs, &shape)?;
    if items.is_empty() {
        return Err(Error::Invalid("no inputs given".into()));
    }
    let n = items.len();
    let classes = match &args.labels {
        Some(p) => Some(read_labels(p, n, graph.output_len())?),
        None => None,
    };
    let mut sources: Vec<Maps> = Vec::new();
    let model = DeviceModel::new(&crate::tune::open_device()?, graph);
    match &args.maps {
        Some(p) => {
            let m = NpyReader::open(p)?;
            if m.shape().first() != Some(&n) {
                return Err(Error::Shape(format!(
                    "{}: maps of shape {:?} for {n} inputs",
                    p.display(),
                    m.shape()
                )));
            }
            // Checked whole before any work, a chunk at a time (never held whole).
            for start in (0..n).step_by(CHUNK) {
                let rows = m.read_rows(start, CHUNK.min(n - start))?;
                rows.check_finite(&format!("{} (rows {start}..)", p.display()))?;
            }
            sources.push(Maps::File(m));
        }
        None => {
            for spec in &args.methods {
                if spec == "random" {
                    sources.push(Maps::Random);
                    continue;
                }
                let e = explain_args(args, spec);
                let method = method_from(&e, model.graph())?;
                sources.push(Maps::Method(Box::new(Explainer::new(
                    &model,
                    &method,
                    args.explain_batch,
                )?)));
            }
        }
    }
    Ok(Run {
        model,
        items,
        shape,
        classes,
        labels,
        sources,
    })
}

/// Runs a selectivity metric.
fn selectivity(args: &EvaluateArgs, options: EvalOptions, r: Run) -> Result<()> {
    let Run {
        model,
        items,
        shape,
        classes,
        labels,
        mut sources,
    } = r;
    let n = items.len();
    let opts = args.input.image_options()?;
    let mut evaluator = Evaluator::new(&model, options, args.batch)?;
    let mut recompute = match args.recompute {
        true => Some(recomputing(args, &options, &model, &mut sources)?),
        false => None,
    };
    let k = match &recompute {
        Some(r) => r[0].steps(),
        None => evaluator.steps(),
    };
    let mut results: Vec<Source> = labels
        .iter()
        .map(|l| Source::new(l.clone(), n, k + 1))
        .collect();
    let bar = indicatif::ProgressBar::new((n * sources.len()) as u64);
    let started = std::time::Instant::now();
    let chunks = n.div_ceil(CHUNK);
    let load = |k: usize| load_items(&items[k * CHUNK..(n.min((k + 1) * CHUNK))], &shape, &opts);
    each_prefetched(chunks, load, |k, x| {
        let (start, end) = (k * CHUNK, n.min((k + 1) * CHUNK));
        let given = classes.as_ref().map(|c| &c[start..end]);
        if let Some(rc) = recompute.as_mut() {
            for (r, out) in rc.iter_mut().zip(&mut results) {
                out.push(&r.evaluate(&x, given, start)?);
                bar.inc((end - start) as u64);
            }
            return Ok(());
        }
        for (src, out) in sources.iter_mut().zip(&mut results) {
            let (maps, predicted) = match src {
                Maps::File(m) => (m.read_rows(start, end - start)?, None),
                Maps::Random => (random_maps(end - start, &shape, args.seed, start)?, None),
                Maps::Method(e) => {
                    let got = e.explain(&x, &[Target::Predicted])?;
                    (got.map, Some(got.classes))
                }
            };
            let cls = given.or(predicted.as_deref());
            let ev = evaluator.evaluate(&x, &maps, cls)?;
            out.push(&ev);
            bar.inc((end - start) as u64);
        }
        Ok(())
    })?;
    bar.finish_and_clear();
    let seconds = started.elapsed().as_secs_f64();
    let passes = match &recompute {
        Some(r) => r[0].explanations(n),
        None => evaluator.forward_items(n),
    };
    write_outputs(args, &options, &results, passes, seconds)?;
    say!("{:<28} {:>12} {:>12}", "maps", "mean", "std. error");
    for r in &results {
        let s = Summary::of(&r.scores);
        say!(
            "{:<28} {:>12.6} {:>12.6}",
            r.label,
            s.mean,
            s.standard_error
        );
    }
    say!(
        "{} of {n} inputs, K = {k}: {:.1} s; wrote {}",
        options.metric.name(),
        seconds,
        args.out.display()
    );
    Ok(())
}

/// `selectivity --recompute`: one re-explaining selectivity per --method, removing
/// min(--regions, all) patches.
fn recomputing<'m>(
    args: &EvaluateArgs,
    options: &EvalOptions,
    model: &'m DeviceModel,
    sources: &mut Vec<Maps>,
) -> Result<Vec<Recompute<'m>>> {
    let Metric::Selectivity { patch } = options.metric else {
        return Err(Error::Invalid(
            "--recompute applies to --metric selectivity".into(),
        ));
    };
    let count = glimpse::evaluate::Grid::new(
        model.graph().input_shape(),
        glimpse::evaluate::Regions::Patches { size: patch },
    )?
    .count();
    let mut out = Vec::new();
    for src in sources.drain(..) {
        let Maps::Method(e) = src else {
            return Err(Error::Invalid(
                "--recompute re-explains every perturbed input: give --method, not --maps or random"
                    .into(),
            ));
        };
        out.push(Recompute::new(
            model,
            *e,
            patch,
            args.regions.min(count),
            options.baseline,
            options.probability,
        )?);
    }
    Ok(out)
}

fn read_labels(path: &std::path::Path, n: usize, classes: usize) -> Result<Vec<usize>> {
    let y = glimpse::io::npy::read_i64(path)?;
    if y.numel() != n {
        return Err(Error::Shape(format!(
            "{}: {} labels for {n} inputs",
            path.display(),
            y.numel()
        )));
    }
    y.data
        .iter()
        .map(|&v| {
            usize::try_from(v)
                .ok()
                .filter(|&c| c < classes)
                .ok_or_else(|| {
                    Error::Invalid(format!(
                        "{}: label {v} is not a class of the model ({classes} outputs)",
                        path.display()
                    ))
                })
        })
        .collect()
}
