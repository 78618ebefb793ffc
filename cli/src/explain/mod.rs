//! `glimpse explain`: one loop for every method — inputs listed first, decoded lazily one batch
//! at a time, explained, and written (heatmaps, .npy, one summary line each), with a progress bar.

mod method;
mod output;

use std::io::Write;
use std::path::PathBuf;

use clap::Args;
use glimpse::error::{Error, Result};
use glimpse::io::inputs::{list_inputs, load_items};
use glimpse::render::cmap::Cmap;
use glimpse::{DeviceModel, Explainer, Gpu, Target};

use super::classes::ClassNames;
use super::options::InputArgs;
pub use method::{method_from, MethodArgs};
pub use output::file_stem;
use output::{print_conservation, Writer};

/// Arguments of `glimpse explain`.
#[derive(Args, Debug)]
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
    /// Class names, one per line (line k names class k), added to the summary as "name".
    #[arg(long)]
    pub classes: Option<PathBuf>,
    #[command(flatten)]
    pub methods: MethodArgs,
    #[command(flatten)]
    pub input: InputArgs,
}

/// Runs `glimpse explain`.
pub fn run(args: &ExplainArgs) -> Result<()> {
    let kind: glimpse::Method = args.method.parse()?;
    let graph = glimpse::load_model_with(&args.model, &kind.load_options())?;
    let method = method_from(args, &graph)?;
    let target = Target::parse(&args.target)?;
    let cmap = Cmap::from_name(&args.cmap)?;
    let class_names = ClassNames::load_optional(args.classes.as_deref(), graph.output_len())?;
    target.check(graph.output_len())?;
    let opts = args.input.image_options()?;
    let shape = graph.input_shape().to_vec();
    let items = list_inputs(&args.input.inputs, &shape)?;
    if items.is_empty() {
        return Err(Error::Invalid("no inputs given".into()));
    }
    let model = DeviceModel::new(&Gpu::new()?, graph);
    let mut explainer = Explainer::new(&model, &method, args.batch)?;
    std::fs::create_dir_all(&args.out).map_err(|e| Error::io(&args.out, e))?;
    let summary_path = args.out.join("summary.jsonl");
    let mut summary =
        std::fs::File::create(&summary_path).map_err(|e| Error::io(&summary_path, e))?;
    let writer = Writer {
        out: &args.out,
        cmap: &cmap,
        bgr: args.input.bgr,
        method: method.name(),
    };
    let bar = indicatif::ProgressBar::new(items.len() as u64);
    if items.len() <= explainer.batch() {
        bar.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    for chunk in items.chunks(explainer.batch()) {
        let x = load_items(chunk, &shape, &opts)?;
        let e = explainer.explain(&x, std::slice::from_ref(&target))?;
        for (i, it) in chunk.iter().enumerate() {
            let mut line = writer.item(&it.name, &x, &e, i)?;
            if let Some(c) = &class_names {
                c.label(&mut line);
            }
            writeln!(summary, "{line}").map_err(|err| Error::io(&summary_path, err))?;
            if args.conservation {
                print_conservation(&it.name, &e, i)?;
            }
        }
        bar.inc(chunk.len() as u64);
    }
    bar.finish_and_clear();
    say!(
        "wrote {} {} explanations to {}",
        items.len(),
        method.name(),
        args.out.display()
    );
    Ok(())
}
