//! `glimpse tune`: times every kernel family's variants on this device (on a model, or the
//! probe network) and caches the fastest; and the device the other commands open, measured once
//! on first use.

use crate::measure::models::named_model;
use clap::Args;
use glimpse::error::Result;
use glimpse::gpu::Gpu;
use glimpse::tune::{tune, Tuning};

/// Items per run when the other commands measure a device on first use: small enough to take
/// seconds on a CPU rasteriser, large enough that a GPU's choice is not made on launch latency.
const FIRST_USE_BATCH: usize = 2;

/// Timed runs per candidate on first use (after one warm-up run).
const FIRST_USE_REPS: usize = 3;

/// Arguments of `glimpse tune`.
#[derive(Args, Debug)]
pub struct TuneArgs {
    /// Time on this model's real layer shapes instead of the probe network: a path to an ONNX
    /// file or a name `glimpse bench` knows (vgg16, efficientnet-lite0, resnet, lenet, vgg-small).
    #[arg(long)]
    pub model: Option<String>,
    /// Items per run.
    #[arg(long, default_value_t = FIRST_USE_BATCH)]
    pub batch: usize,
    /// Timed runs per candidate, after one warm-up run; the median counts.
    #[arg(long, default_value_t = 5)]
    pub reps: usize,
    /// Print the measurement without caching it.
    #[arg(long)]
    pub dry_run: bool,
}

/// Runs `glimpse tune`.
pub fn run(args: &TuneArgs) -> Result<()> {
    let gpu = Gpu::new()?;
    let model = args.model.as_deref().map(named_model).transpose()?;
    eprintln!("timing each kernel family's variants ...");
    let named = model.as_ref().map(|m| (m.name.as_str(), &m.graph));
    let t = tune(&gpu, named, args.batch, args.reps)?;
    print!("{}", t.table());
    println!("chosen: {}", t.choice.describe());
    if !args.dry_run {
        println!("cached in {}", t.save(&gpu, None)?.display());
    }
    Ok(())
}

/// The device the commands run on: its cached measurement, or measured now (once per device,
/// on the probe network) when the cache is on and has none.
pub fn open_device() -> Result<Gpu> {
    let gpu = Gpu::new()?;
    if !gpu.kernel_source().wants_measurement() {
        return Ok(gpu);
    }
    eprintln!("glimpse: measuring this device's kernels once (GLIMPSE_TUNE=off skips it) ...");
    // A failed measurement costs the speed it was for, not the command.
    let t: Tuning = match tune(&gpu, None, FIRST_USE_BATCH, FIRST_USE_REPS) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("glimpse: the measurement failed ({e}); kernels by adapter type");
            return Ok(gpu);
        }
    };
    match t.save(&gpu, None) {
        Ok(path) => eprintln!(
            "glimpse: {} (cached in {})",
            t.choice.describe(),
            path.display()
        ),
        Err(e) => eprintln!(
            "glimpse: {} (not cached: {e}; set GLIMPSE_CACHE_DIR to a writable folder, or GLIMPSE_TUNE=off)",
            t.choice.describe()
        ),
    }
    Ok(gpu.with_kernels(t.choice))
}
