//! `glimpse explain`: relevance maps as PNG heatmaps and .npy, plus a JSON-lines summary.

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::Args;

use super::classes::ClassNames;
use super::load_batch;
use super::options::{floats, InputArgs};
use glimpse::error::{Error, Result};
use glimpse::explain::{
    Bound, Composite, Explanation, FirstLayer, LayerRef, LrpPlan, Rule, Target,
};
use glimpse::gpu::Gpu;
use glimpse::model::{Graph, Tensor};
use glimpse::render::cmap::Cmap;
use glimpse::render::heatmap::{
    heatmap, input_image, mask_input, overlay, save_png, HeatmapOptions,
};

/// Arguments of `glimpse explain`.
#[derive(Args, Debug)]
pub struct ExplainArgs {
    /// The ONNX model.
    #[arg(long)]
    pub model: PathBuf,
    /// The method: lrp, gradient, sensitivity, gradient-x-input, taylor, deeplift, deconvnet,
    /// guided-backprop, integrated-gradients, smoothgrad, smoothgrad-squared, vargrad, cam,
    /// grad-cam, grad-cam++.
    #[arg(long, default_value = "lrp")]
    pub method: String,
    /// LRP composite (see `--help` of glimpse for the list).
    #[arg(long, default_value = "epsilon-plus-flat")]
    pub composite: String,
    /// One rule for every convolution and dense layer instead of a composite, e.g. epsilon:0.25.
    #[arg(long)]
    pub rule: Option<String>,
    /// Rule for the first linear layer (on top of the composite).
    #[arg(long)]
    pub first_rule: Option<String>,
    /// Per-layer rule, by ONNX node name or node index: NAME=RULE (repeatable).
    #[arg(long = "layer-rule", value_name = "LAYER=RULE")]
    pub layer_rules: Vec<String>,
    /// Rule for max pooling: winner-take-all (ties split) or argmax (first maximum, as Zennit).
    #[arg(long, default_value = "winner-take-all")]
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
    pub methods: super::attribution::MethodArgs,
    #[command(flatten)]
    pub input: InputArgs,
}

/// Builds the composite the arguments describe.
pub fn composite_from(args: &ExplainArgs, graph: &Graph) -> Result<Composite> {
    let channels = graph.input_shape()[0];
    let opts = args.input.image_options()?;
    let bound = |given: &Option<String>, pixel: f32, what: &str| -> Result<Bound> {
        if let Some(s) = given {
            let v = floats(s, what)?;
            return Ok(if v.len() == 1 {
                Bound::Scalar(v[0])
            } else {
                Bound::PerChannel(v)
            });
        }
        // The normalised value of the darkest / brightest pixel, per channel.
        let per: Vec<f32> = (0..channels)
            .map(|c| {
                let m = opts
                    .mean
                    .get(c)
                    .or(opts.mean.first())
                    .copied()
                    .unwrap_or(0.0);
                let s = opts.std.get(c).or(opts.std.first()).copied().unwrap_or(1.0);
                (pixel - m) / s
            })
            .collect();
        Ok(if per.iter().all(|&v| v == per[0]) {
            Bound::Scalar(per[0])
        } else {
            Bound::PerChannel(per)
        })
    };
    let low = bound(&args.low, opts.range.0, "low")?;
    let high = bound(&args.high, opts.range.1, "high")?;
    let mut c = match &args.rule {
        Some(r) => Composite::uniform(with_bounds(Rule::parse(r)?, &low, &high)),
        None => Composite::preset(&args.composite, low.clone(), high.clone())?,
    };
    if let Some(r) = &args.first_rule {
        c.first = Some((
            with_bounds(Rule::parse(r)?, &low, &high),
            FirstLayer::Linear,
        ));
    }
    for spec in &args.layer_rules {
        let (layer, rule) = spec
            .split_once('=')
            .ok_or_else(|| Error::Invalid(format!("--layer-rule {spec}: expected LAYER=RULE")))?;
        let layer = match layer.parse::<usize>() {
            Ok(i) => LayerRef::Index(i),
            Err(_) => LayerRef::Name(layer.to_string()),
        };
        c.overrides
            .push((layer, with_bounds(Rule::parse(rule)?, &low, &high)));
    }
    c.ignore_bias |= args.ignore_bias;
    c.max_pool = match Rule::parse(&args.max_pool_rule)? {
        r @ (Rule::WinnerTakeAll | Rule::ArgMax) => r,
        other => {
            return Err(Error::Invalid(format!(
                "--max-pool-rule {other:?}: use winner-take-all or argmax"
            )))
        }
    };
    Ok(c)
}

/// A `zbox` given without explicit bounds takes the input's.
fn with_bounds(rule: Rule, low: &Bound, high: &Bound) -> Rule {
    match rule {
        Rule::ZBox { .. } => Rule::ZBox {
            low: low.clone(),
            high: high.clone(),
        },
        r => r,
    }
}

/// Runs `glimpse explain`.
pub fn run(args: &ExplainArgs) -> Result<()> {
    if args.method != "lrp" {
        return super::attribution::run(args);
    }
    let graph = glimpse::load_model(&args.model)?;
    let composite = composite_from(args, &graph)?;
    let target = Target::parse(&args.target)?;
    let cmap = Cmap::from_name(&args.cmap)?;
    let (names, x) = load_batch(&graph, &args.input)?;
    let class_names = ClassNames::load_optional(args.classes.as_deref(), graph.output_len())?;
    target.check(graph.output_len())?;
    let gpu = Gpu::new()?;
    let mut plan = LrpPlan::new(&gpu, &graph, &composite, args.batch, args.conservation)?;
    std::fs::create_dir_all(&args.out).map_err(|e| Error::io(&args.out, e))?;
    let summary_path = args.out.join("summary.jsonl");
    let mut summary =
        std::fs::File::create(&summary_path).map_err(|e| Error::io(&summary_path, e))?;
    let n = names.len();
    let bar = indicatif::ProgressBar::new(n as u64);
    if n <= plan.batch() {
        bar.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    let item: usize = graph.input_shape().iter().product();
    for start in (0..n).step_by(plan.batch()) {
        let end = (start + plan.batch()).min(n);
        let shape = std::iter::once(end - start)
            .chain(graph.input_shape().iter().cloned())
            .collect();
        let chunk = Tensor::new(shape, x.data[start * item..end * item].to_vec())?;
        let e = plan.run(&chunk, std::slice::from_ref(&target))?;
        for i in 0..end - start {
            let mut line = write_item(args, &cmap, &names[start + i], &chunk, &e, i, &target)?;
            if let Some(c) = &class_names {
                c.label(&mut line);
            }
            writeln!(summary, "{line}").map_err(|err| Error::io(&summary_path, err))?;
            if args.conservation {
                print_conservation(&names[start + i], &e, i)?;
            }
        }
        bar.inc((end - start) as u64);
    }
    bar.finish_and_clear();
    say!("wrote {n} explanations to {}", args.out.display());
    Ok(())
}

/// Writes one input's PNGs and .npy; returns its summary line.
fn write_item(
    args: &ExplainArgs,
    cmap: &Cmap,
    name: &str,
    x: &Tensor,
    e: &Explanation,
    i: usize,
    target: &Target,
) -> Result<serde_json::Value> {
    let item_shape = &e.relevance.shape[1..];
    let item: usize = item_shape.iter().product();
    let rel = Tensor::new(
        item_shape.to_vec(),
        e.relevance.data[i * item..(i + 1) * item].to_vec(),
    )?;
    let input = Tensor::new(
        item_shape.to_vec(),
        x.data[i * item..(i + 1) * item].to_vec(),
    )?;
    let stem = file_stem(name);
    let base = |suffix: &str, ext: &str| args.out.join(format!("{stem}{suffix}.{ext}"));
    glimpse::io::npy::write_f32(base("", "npy"), &rel)?;
    if item_shape.len() == 3 {
        let opts = HeatmapOptions {
            cmap: cmap.clone(),
            ..HeatmapOptions::default()
        };
        let heat = heatmap(&rel, &opts)?;
        save_png(base("", "png"), &heat)?;
        let image = input_image(&input, args.input.bgr)?;
        save_png(base("_overlay", "png"), &overlay(&heat, &image, 0.6)?)?;
        save_png(
            base("_mask", "png"),
            &mask_input(&rel, &input, false, args.input.bgr)?,
        )?;
    }
    let f = e.outputs.shape[1];
    let row = &e.outputs.data[i * f..(i + 1) * f];
    let w = target.weights_for(row)?;
    let score: f64 = w.iter().zip(row).map(|(a, b)| *a as f64 * *b as f64).sum();
    let total: f64 = rel.data.iter().map(|&v| v as f64).sum();
    Ok(serde_json::json!({
        "input": name,
        "class": e.classes[i],
        "score": score,
        "relevance_sum": total,
        "conservation_error": total - score,
    }))
}

fn print_conservation(name: &str, e: &Explanation, i: usize) -> Result<()> {
    let Some(layers) = &e.layers else {
        return Ok(());
    };
    let f = e.outputs.shape[1];
    let fx = e.outputs.data[i * f + e.classes[i]] as f64;
    say!("{name}: f(x) = {fx:.6} (class {})", e.classes[i]);
    for l in layers {
        let s = l.sums[i] as f64;
        say!(
            "  {:<32} {:<14} {:>14.6}  {:>+12.3e}",
            l.name,
            l.kind,
            s,
            s - fx
        );
    }
    Ok(())
}

/// A file-name-safe stem for an input name (`digits.npy[3]` → `digits_3`).
pub fn file_stem(name: &str) -> String {
    let base = Path::new(name)
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| name.to_string());
    let index = name.rsplit_once('[').and_then(|(_, r)| r.strip_suffix(']'));
    let stem = match index {
        Some(i) => format!("{}_{i}", base.split('.').next().unwrap_or(&base)),
        None => base,
    };
    stem.chars()
        .map(|c| {
            if c.is_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}
