//! `glimpse bench`: forward throughput and LRP cost per model and batch size, against the
//! device's matmul ceiling, in one run, as Markdown tables.

use std::path::{Path, PathBuf};

use clap::Args;

use crate::measure::kernels::{ceiling_gflops, measure_kernels};
use crate::measure::models::{named_model, DEFAULT_MODELS};
use crate::measure::table::{kernel_table, model_table};
use crate::measure::{first_table, measure_first};
use crate::measure::{
    interpret_table, measure, measure_interpret, measure_methods, measure_metrics, method_table,
    metric_table, KernelRow, AM_STEPS,
};
use crate::measure::{measure_pipeline, photo_folder, pipeline, pipeline_table};
use glimpse::error::{Error, Result};
use glimpse::explain::{Bound, Composite, Rule};

/// Arguments of `glimpse bench`.
#[derive(Args, Debug)]
pub struct BenchArgs {
    /// Models, comma-separated: lenet, resnet, vgg16, vgg-small, efficientnet-lite0 or paths to .onnx files.
    #[arg(long, value_delimiter = ',', default_values_t = DEFAULT_MODELS.map(String::from))]
    pub models: Vec<String>,
    /// Batch sizes, comma-separated.
    #[arg(long, value_delimiter = ',', default_values_t = [1usize, 16])]
    pub batches: Vec<usize>,
    /// Timed runs per measurement (after one warm-up run); the median is reported.
    #[arg(long, default_value_t = 3)]
    pub reps: usize,
    /// Time the forward pass only.
    #[arg(long)]
    pub no_lrp: bool,
    /// The LRP composite to time (box bounds [0, 1]).
    #[arg(long, default_value = "epsilon-plus-flat")]
    pub composite: String,
    /// Time one rule on every convolution and dense layer instead, e.g. epsilon:1e-6.
    #[arg(long)]
    pub rule: Option<String>,
    /// Skip the per-flavor kernel table (the ceiling is still measured).
    #[arg(long)]
    pub no_kernels: bool,
    /// Also time the gradient and CAM family (saliency, IG, SmoothGrad, guided backprop,
    /// Grad-CAM) as ratios to the forward pass.
    #[arg(long)]
    pub methods: bool,
    /// Also time activation maximisation: Adam steps (all in one submission) ÷ one forward +
    /// input-gradient pass.
    #[arg(long)]
    pub interpret: bool,
    /// Also time selectivity curves (pixel flipping, region perturbation): a curve's time ÷
    /// (its forward passes × the batched forward time per item).
    #[arg(long)]
    pub metrics: bool,
    /// Adam steps per timed activation-maximisation run (one submission).
    #[arg(long, default_value_t = AM_STEPS)]
    pub am_steps: usize,
    /// Time each model's first explanation instead of the tables: model load, plan build
    /// (kernels compiled on first use), first LRP run at batch 1, then a steady run; the models
    /// in one process, in the order given, after the device is opened.
    #[arg(long)]
    pub first: bool,
    /// Time a batch run instead of the tables: `glimpse explain` end to end on a folder of
    /// JPEG photographs of mixed sizes (made from the shipped ones) ÷ the bare plan on the same
    /// inputs decoded beforehand.
    #[arg(long)]
    pub pipeline: bool,
    /// Photographs in the --pipeline folder.
    #[arg(long, default_value_t = 2000)]
    pub pipeline_inputs: usize,
    /// The folder the --pipeline photographs are written to (once) and read from
    /// (default: the system's temporary folder).
    #[arg(long)]
    pub pipeline_dir: Option<PathBuf>,
    /// `glimpse explain` options of the --pipeline run (the model, method, batch, ranges).
    #[arg(
        long,
        allow_hyphen_values = true,
        default_value = "--model assets/models/efficientnet_lite0.onnx --range=-0.9921875,1 --batch 8"
    )]
    pub pipeline_explain: String,
}

/// Runs `glimpse bench`, printing to stdout (progress to stderr).
pub fn run(args: &BenchArgs) -> Result<()> {
    if args.batches.contains(&0) {
        return Err(Error::Invalid("--batches: sizes must be positive".into()));
    }
    if args.first {
        return first(args);
    }
    let models = args
        .models
        .iter()
        .map(|m| named_model(m))
        .collect::<Result<Vec<_>>>()?;
    let (composite, composite_name) = bench_lrp(args)?;
    let lrp = (!args.no_lrp).then_some(&composite);
    if args.pipeline {
        return pipeline(args);
    }
    let gpu = crate::tune::open_device()?;
    let info = gpu.info();
    println!(
        "adapter: {} ({:?}, {:?}); cpu: {}; driver: {} {}; kernels: {}\n",
        info.name,
        info.device_type,
        info.backend,
        glimpse::gpu::host_cpu(),
        info.driver,
        info.driver_info,
        gpu.kernels().describe()
    );
    let kernels: Vec<KernelRow> = if args.no_kernels {
        Vec::new()
    } else {
        eprintln!("timing kernels per flavor ...");
        measure_kernels(&gpu, args.reps)?
    };
    let ceiling = match kernels
        .iter()
        .find(|k| k.flavor == gpu.kernels().dense.flavor)
    {
        Some(k) => k.matmul_gflops,
        None => ceiling_gflops(&gpu, args.reps)?,
    };
    if !kernels.is_empty() {
        println!("{}", kernel_table(&kernels, gpu.kernels().dense.flavor));
    }
    println!(
        "ceiling: {ceiling:.1} GFLOP/s (matmul 1024³, {} kernels)\n",
        gpu.kernels().dense.flavor.name()
    );
    let mut rows = Vec::new();
    for model in &models {
        for &batch in &args.batches {
            eprintln!("timing {} at batch {batch} ...", model.name);
            rows.push(measure(&gpu, model, batch, args.reps, lrp)?);
        }
    }
    println!("{}", model_table(&rows, ceiling));
    if args.methods {
        let mut method_rows = Vec::new();
        for model in &models {
            for &batch in &args.batches {
                eprintln!(
                    "timing the gradient and CAM family on {} at batch {batch} ...",
                    model.name
                );
                method_rows.push(measure_methods(&gpu, model, batch, args.reps)?);
            }
        }
        println!("{}", method_table(&method_rows));
        println!("Each cell: the method's time ÷ the forward time of the same batch (IG and SmoothGrad run all steps / samples).\n");
    }
    if args.interpret {
        let mut am_rows = Vec::new();
        for model in &models {
            for &batch in &args.batches {
                eprintln!(
                    "timing activation maximisation on {} at batch {batch} ...",
                    model.name
                );
                am_rows.push(measure_interpret(
                    &gpu,
                    model,
                    batch,
                    args.reps,
                    args.am_steps.max(1),
                )?);
            }
        }
        println!("{}", interpret_table(&am_rows));
        println!(
            "AM step: forward, log-softmax objective, backward to the input, L2, Adam; {} steps per submission.\n",
            args.am_steps
        );
    }
    if args.metrics {
        let mut rows = Vec::new();
        for model in &models {
            for &batch in &args.batches {
                eprintln!(
                    "timing selectivity curves on {} at batch {batch} ...",
                    model.name
                );
                rows.extend(measure_metrics(&gpu, model, batch, args.reps)?);
            }
        }
        println!("{}", metric_table(&rows));
        println!("Overhead: the evaluation (rankings, fills, every perturbed input built on the GPU, forward passes, scores) ÷ (inputs × (K + 1) × the forward time per item at that batch).\n");
    }
    if lrp.is_some() {
        println!("LRP: {composite_name}, forward + backward in one submission.");
    }
    Ok(())
}

/// The LRP the benches time (`--rule`, else `--composite`, box bounds [0, 1]) and its name.
fn bench_lrp(args: &BenchArgs) -> Result<(Composite, String)> {
    Ok(match &args.rule {
        Some(r) => (
            Composite::uniform(Rule::parse(r)?),
            format!("rule {r} on every layer"),
        ),
        None => (
            Composite::preset(&args.composite, Bound::Scalar(0.0), Bound::Scalar(1.0))?,
            format!("composite {}", args.composite),
        ),
    })
}

/// `glimpse bench --first`.
fn first(args: &BenchArgs) -> Result<()> {
    let (composite, composite_name) = bench_lrp(args)?;
    let t = std::time::Instant::now();
    let gpu = crate::tune::open_device()?;
    let open = t.elapsed();
    let mut rows = Vec::new();
    for name in &args.models {
        eprintln!("timing the first explanation of {name} ...");
        rows.push(measure_first(&gpu, name, &composite, args.reps)?);
    }
    println!("{}", first_table(open, &rows));
    println!("LRP: {composite_name} at batch 1, relevance read back.");
    Ok(())
}

/// `glimpse bench --pipeline`.
fn pipeline(args: &BenchArgs) -> Result<()> {
    if args.pipeline_inputs == 0 {
        return Err(Error::Invalid("--pipeline-inputs must be positive".into()));
    }
    let folder = args
        .pipeline_dir
        .clone()
        .unwrap_or_else(|| pipeline::default_photo_folder(args.pipeline_inputs));
    let assets = Path::new(env!("CARGO_MANIFEST_DIR")).join("../assets/images");
    let assets = match Path::new("assets/images").is_dir() {
        true => PathBuf::from("assets/images"),
        false => assets,
    };
    eprintln!(
        "writing {} photographs to {} (once) ...",
        args.pipeline_inputs,
        folder.display()
    );
    photo_folder(&folder, args.pipeline_inputs, &assets)?;
    let out = std::env::temp_dir().join(format!("glimpse-bench-pipeline-{}", std::process::id()));
    let exe = std::env::current_exe()
        .map_err(|e| Error::Invalid(format!("the glimpse executable: {e}")))?;
    let explain: Vec<String> = args
        .pipeline_explain
        .split_whitespace()
        .map(String::from)
        .collect();
    eprintln!(
        "timing the bare plan, then `glimpse explain {}` end to end ...",
        explain.join(" ")
    );
    let row = measure_pipeline(&exe, &explain, &folder, &out);
    let _ = std::fs::remove_dir_all(&out);
    println!("{}", pipeline_table(&[row?]));
    println!("Bare plan: every batch explained from tensors decoded beforehand (uploads and readbacks included). End to end: the `glimpse explain` process, listing, decoding and resizing on decoder threads, rendering and writing heatmaps, overlays, masks and .npy on writer threads, start to exit.");
    Ok(())
}
