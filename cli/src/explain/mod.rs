//! `glimpse explain`: one loop for every method — inputs listed first, decoded lazily one batch
//! at a time, explained, and written (heatmaps, .npy, one summary line each), with a progress bar.

mod filter;
mod method;
mod output;
mod sliding;

use std::path::PathBuf;
use std::sync::Mutex;

use clap::Args;
use glimpse::error::{Error, Result};
use glimpse::explain::pool::Pooling;
use glimpse::explain::translate::{explain_translated, Translation};
use glimpse::explain::window::explain_windows;
use glimpse::io::inputs::{decode_each, list_inputs};
use glimpse::render::cmap::Cmap;
use glimpse::{DeviceModel, Explainer, Explanation, Target};

use super::classes::ClassNames;
use super::options::InputArgs;
use crate::run::pipeline::{self, Batch, Stages};
use crate::run::{self, RunArgs, RunFolder};
pub use filter::{FilterArgs, Filtering};
pub use method::{method_from, MethodArgs};
pub use output::file_stem;
use output::{print_conservation, Writer};

/// Arguments of `glimpse explain`.
#[derive(Args, Debug, serde::Serialize)]
pub struct ExplainArgs {
    /// The ONNX model.
    #[arg(long)]
    pub model: PathBuf,
    /// The method (the library's names: `glimpse::explain::METHOD_NAMES`).
    #[arg(long, default_value = "lrp", long_help = method::method_help())]
    pub method: String,
    /// LRP composite.
    #[arg(long, default_value = "epsilon-plus-flat", long_help = method::composite_help())]
    pub composite: String,
    /// One rule for every convolution and dense layer instead of a composite, e.g. epsilon:0.25.
    #[arg(long, long_help = method::rule_help())]
    pub rule: Option<String>,
    /// Rule for the first linear layer (on top of the composite).
    #[arg(long)]
    pub first_rule: Option<String>,
    /// Per-layer rule, by ONNX node name or node index: NAME=RULE (repeatable).
    #[arg(long = "layer-rule", value_name = "LAYER=RULE")]
    pub layer_rules: Vec<String>,
    /// Rule for max pooling: argmax (the window's first maximum, as Zennit, Captum and
    /// iNNvestigate) or winner-take-all (ties split equally).
    #[arg(long, default_value = "argmax")]
    pub max_pool_rule: String,
    /// Drop biases from every rule (relevance is then conserved).
    #[arg(long)]
    pub ignore_bias: bool,
    /// Lowest input value for box rules, one value or one per channel (default: from --range/--mean/--std).
    #[arg(long, value_name = "L[,L,L]")]
    pub low: Option<String>,
    /// Highest input value for box rules, one value or one per channel.
    #[arg(long, value_name = "H[,H,H]")]
    pub high: Option<String>,
    /// What to explain: pred, a class index, or comma-separated output weights.
    #[arg(long, default_value = "pred")]
    pub target: String,
    /// Colour map: gray, wred, wblue, hot, cold, coldnhot, bwr, france, seismic, coolio, coleus.
    #[arg(long, default_value = "coldnhot")]
    pub cmap: String,
    /// Output folder.
    #[arg(long, default_value = "out")]
    pub out: PathBuf,
    /// Items per GPU submission.
    #[arg(long, default_value_t = 8)]
    pub batch: usize,
    /// Print the relevance sum of every layer and its deviation from f(x).
    #[arg(long)]
    pub conservation: bool,
    /// The translation trick: the map averaged over N × N copies shifted by multiples of STEP
    /// pixels (default 1), centred on the input, each shifted back (pixels shifted in are 0;
    /// each pixel averages the copies that kept it), for any method.
    #[arg(long, value_name = "N[,STEP]")]
    pub translate: Option<String>,
    /// Relevance pooling: channel (per channel, or per feature of an `[F]` input),
    /// region:HxW (per tile), or groups:FILE.json (an object of group name → flat input
    /// indices; groups sorted by name). Written per input as NAME_pool.json, a bar chart
    /// NAME_pool.png and "pooled" in the summary.
    #[arg(long, value_name = "channel|region:HxW|groups:FILE")]
    pub pool: Option<String>,
    /// Sliding windows (with --window HxW / --stride S for any method but occlusion): the
    /// score explained is the sum of the windows' target scores, or their maximum (only the
    /// best window's map counts).
    #[arg(long, default_value = "sum", value_name = "sum|max")]
    pub window_score: String,
    /// Names of an `[F]` input's features, one per line (the bar charts' labels).
    #[arg(long, value_name = "FILE")]
    pub features: Option<PathBuf>,
    /// Class names, one per line (line k names class k), added to the summary as "name".
    #[arg(long)]
    pub classes: Option<PathBuf>,
    #[command(flatten)]
    pub methods: MethodArgs,
    #[command(flatten)]
    pub filtering: FilterArgs,
    #[command(flatten)]
    pub input: InputArgs,
    #[command(flatten)]
    #[serde(skip)]
    pub run: RunArgs,
}

/// Runs `glimpse explain`: the inputs this process owes (its shard, less those a resumed run
/// finished) streamed through decoder threads, the GPU and writer threads into the run folder.
pub fn run(args: &ExplainArgs) -> Result<()> {
    let kind: glimpse::Method = args.method.parse()?;
    let graph = glimpse::load_model_with(&args.model, &kind.load_options())?;
    let method = method_from(args, &graph)?;
    let target = Target::parse(&args.target)?;
    let translation = args
        .translate
        .as_deref()
        .map(Translation::parse)
        .transpose()?;
    let pooling = args.pool.as_deref().map(Pooling::parse).transpose()?;
    let features = read_features(args.features.as_deref(), &graph)?;
    let cmap = Cmap::from_name(&args.cmap)?;
    let class_names = ClassNames::load_optional(args.classes.as_deref(), graph.output_len())?;
    let filtering = args.filtering.resolve(&graph)?;
    match &filtering {
        Some(f) if f.start_target.is_some() && args.target != "pred" => {
            return Err(Error::Invalid(
                "--target weights the model's output; with --start (or --init) the start node's selection is what is explained".into(),
            ))
        }
        Some(_) if translation.is_some() => {
            return Err(Error::Invalid(
                "--translate does not combine with filtering (--start, --condition, --record)"
                    .into(),
            ))
        }
        _ => target.check(graph.output_len())?,
    }
    let opts = args.input.image_options()?;
    let sliding = sliding::sliding_from(args, &method, graph.input_shape())?;
    if sliding.is_some() && (filtering.is_some() || translation.is_some()) {
        return Err(Error::Invalid(
            "sliding windows (--window, --stride) do not combine with --translate or filtering"
                .into(),
        ));
    }
    // The inputs' shape: the model's, or the larger one the windows slide over.
    let shape = match &sliding {
        Some((_, canvas)) => canvas.clone(),
        None => graph.input_shape().to_vec(),
    };
    if let Some(p) = &pooling {
        // A CAM's map is one channel at the input's size.
        match (&method, shape.as_slice()) {
            (glimpse::Method::Cam { .. }, [_, h, w]) => p.check(&[1, *h, *w])?,
            _ => p.check(&shape)?,
        }
    }
    let shard = args.run.shard()?;
    let listed = list_inputs(&args.input.inputs, &shape)?;
    if listed.is_empty() {
        return Err(Error::Invalid("no inputs given".into()));
    }
    // The plan is built (and every method option checked) before the run folder is touched.
    let model = DeviceModel::new(&crate::tune::open_device()?, graph);
    let filter = filtering
        .as_ref()
        .map(|f| f.filter.clone())
        .unwrap_or_default();
    let per_input = filtering.as_ref().map_or(1, Filtering::per_input);
    // Never more batch slots than explanations (one photograph at --batch 8 ran 8 slots); the
    // listing, not what is left to do, bounds it, so a resumed run plans what the first did.
    // Windows and shifted copies multiply the items, so those keep --batch.
    let plan_batch = match (&sliding, translation) {
        (None, None) => args
            .batch
            .min(listed.len().saturating_mul(per_input))
            .max(1),
        _ => args.batch,
    };
    let mut explainer = Explainer::with_filter(&model, &method, plan_batch, filter)?;
    let (items, dir) = run::take_shard(listed, shard, &args.out);
    let names: Vec<String> = items.iter().map(|it| it.name.clone()).collect();
    let options = run::options_json(args, &["model", "out", "input.inputs"]);
    let manifest = run::manifest(
        "explain",
        &args.model,
        options,
        &args.input.inputs,
        shard,
        items.len(),
    )?;
    let folder = RunFolder::open(&dir, &manifest, &names, args.run.start())?;
    let pending: Vec<_> = items
        .iter()
        .filter(|it| !folder.is_done(&it.name))
        .cloned()
        .collect();
    if folder.done_count() > 0 {
        say!(
            "resuming {}: {} of {} inputs done, {} to go",
            dir.display(),
            folder.done_count(),
            items.len(),
            pending.len()
        );
    }
    let writer = Writer {
        out: &dir,
        cmap: &cmap,
        bgr: args.input.bgr,
        method: method.name(),
        pool: args.pool.as_deref().zip(pooling.as_ref()),
        features: features.as_deref(),
        inner_start: args.filtering.start.is_some(),
        given_start: filtering.as_ref().is_some_and(|f| f.filter.given_start),
    };
    let bar = indicatif::ProgressBar::new(pending.len() as u64);
    if pending.len() <= explainer.batch() {
        bar.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    let stages = Stages {
        // Each input is explained once per condition set, all in one call.
        batch: (explainer.batch() / per_input).max(1),
        decoders: args.run.decoders,
        writers: args.run.writers,
        fail_fast: args.run.fail_fast,
    };
    let folder = Mutex::new(folder);
    let write = |b: &Batch<Explanation>| -> Result<Vec<serde_json::Value>> {
        let mut lines = Vec::with_capacity(b.items.len());
        for (i, it) in b.items.iter().enumerate() {
            let mut line = match &filtering {
                Some(f) if !f.sets.is_empty() => {
                    let mut each = Vec::with_capacity(per_input);
                    for j in 0..per_input {
                        let mut l =
                            writer.item(it, &b.x, i, &b.result, i * per_input + j, &f.tag(j))?;
                        l["condition"] = f.texts[j].clone().into();
                        each.push(l);
                    }
                    serde_json::json!({"input": it.name, "method": method.name(), "conditions": each})
                }
                _ => writer.item(it, &b.x, i, &b.result, i, "")?,
            };
            if let Some(f) = &filtering {
                if let Some(start) = &args.filtering.start {
                    line["start"] = start.clone().into();
                }
                line["exclude_parallel"] = (f.filter.exclude_parallel && !f.sets.is_empty()).into();
            }
            if let Some(c) = &class_names {
                c.label(&mut line);
            }
            if args.conservation {
                for j in 0..per_input {
                    let tag = filtering.as_ref().map(|f| f.tag(j)).unwrap_or_default();
                    let name = format!("{}{tag}", it.name);
                    print_conservation(&name, &b.result, i * per_input + j)?;
                }
            }
            lines.push(line);
        }
        Ok(lines)
    };
    let finished = pipeline::run(
        &pending,
        &shape,
        &stages,
        &folder,
        &|chunk| decode_each(chunk, &shape, &opts),
        // Windows, filtering and translation exclude each other (checked above).
        |x| match (&sliding, &filtering, translation) {
            (Some((s, _)), _, _) => explain_windows(&mut explainer, x, &target, s),
            (None, Some(f), _) => {
                let (xs, targets, sets) = f.expand(x, &target)?;
                explainer.explain_filtered(&xs, &targets, &sets)
            }
            (None, None, Some(t)) => {
                explain_translated(&mut explainer, x, std::slice::from_ref(&target), t)
            }
            (None, None, None) => explainer.explain(x, std::slice::from_ref(&target)),
        },
        &write,
        &|n| bar.inc(n),
    );
    bar.finish_and_clear();
    let folder = RunFolder::conclude(folder, &names, finished)?;
    let failed = folder.failed();
    say!(
        "wrote {} {} explanations to {}",
        items.len() - failed,
        method.name(),
        dir.display()
    );
    if failed > 0 {
        return Err(Error::Invalid(format!(
            "{failed} of {} inputs could not be explained: see {}",
            items.len(),
            dir.join(run::folder::ERRORS).display()
        )));
    }
    Ok(())
}

/// `--features`: one name per feature of an `[F]` input.
fn read_features(
    path: Option<&std::path::Path>,
    graph: &glimpse::Graph,
) -> Result<Option<Vec<String>>> {
    let Some(path) = path else { return Ok(None) };
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    let names: Vec<String> = text
        .lines()
        .map(|l| l.trim().to_string())
        .filter(|l| !l.is_empty())
        .collect();
    match graph.input_shape() {
        [f] if *f == names.len() => Ok(Some(names)),
        shape => Err(Error::Invalid(format!(
            "--features {}: {} names for inputs of shape {shape:?} (one name per feature of an [F] input)",
            path.display(),
            names.len()
        ))),
    }
}
