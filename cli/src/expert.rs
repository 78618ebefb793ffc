//! `glimpse expert`: fit a density (Gaussian, Gaussian mixture, Gaussian–Bernoulli RBM) to data
//! for activation maximisation with an expert, and evaluate one on data.

use std::path::{Path, PathBuf};
use std::time::Instant;

use clap::{Args, Subcommand};

use glimpse::error::{Error, Result};
use glimpse::interpret::expert::{Expert, ExpertKind, FitOptions};
use glimpse::io::image::{load_image, ImageOptions};
use glimpse::io::inputs::{list_inputs, load_items};
use glimpse::io::npy;

/// Arguments of `glimpse expert`.
#[derive(Args, Debug)]
pub struct ExpertArgs {
    #[command(subcommand)]
    pub command: ExpertCommand,
}

/// What `glimpse expert` does.
#[derive(Subcommand, Debug)]
pub enum ExpertCommand {
    /// Fit an expert to data and write it as a .expert file.
    Fit(FitArgs),
    /// Print an expert's mean log p(x) per item on data.
    Eval(EvalArgs),
}

/// Where the data come from and which items.
#[derive(Args, Debug)]
pub struct DataArgs {
    /// A .npy batch [N, ...] or a folder of PNG/JPEG images (one item each, flattened).
    #[arg(long)]
    pub data: PathBuf,
    /// Skip this many items first.
    #[arg(long, default_value_t = 0)]
    pub skip: usize,
    /// Use at most this many items.
    #[arg(long)]
    pub rows: Option<usize>,
    /// Read images as one luminance channel.
    #[arg(long)]
    pub grayscale: bool,
}

/// Arguments of `glimpse expert fit`.
#[derive(Args, Debug)]
pub struct FitArgs {
    /// The expert: gaussian, gaussian-diag, gmm:K, gmm-diag:K, grbm:H, grbm-sigma:H (σ learned).
    #[arg(long)]
    pub kind: String,
    #[command(flatten)]
    pub data: DataArgs,
    /// The .expert file to write.
    #[arg(long)]
    pub out: PathBuf,
    /// Overwrite --out if it exists.
    #[arg(long)]
    pub force: bool,
    /// Seeds k-means++ and the RBM's initialisation and sampling.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// EM iterations (GMM) or CD epochs (GRBM).
    #[arg(long)]
    pub iterations: Option<usize>,
    /// Added to every covariance's diagonal (the GRBM's σ² floor).
    #[arg(long, default_value_t = 1e-2)]
    pub reg: f64,
    /// CD learning rate (GRBM).
    #[arg(long, default_value_t = 1e-3)]
    pub learning_rate: f64,
    /// Gibbs steps per CD update (GRBM).
    #[arg(long, default_value_t = 1)]
    pub cd_steps: usize,
}

/// Arguments of `glimpse expert eval`.
#[derive(Args, Debug)]
pub struct EvalArgs {
    /// The .expert file.
    #[arg(long)]
    pub expert: PathBuf,
    #[command(flatten)]
    pub data: DataArgs,
}

/// Runs `glimpse expert`.
pub fn run(args: &ExpertArgs) -> Result<()> {
    match &args.command {
        ExpertCommand::Fit(a) => fit(a),
        ExpertCommand::Eval(a) => eval(a),
    }
}

fn fit(args: &FitArgs) -> Result<()> {
    let kind: ExpertKind = args.kind.parse()?;
    if args.out.exists() && !args.force {
        return Err(Error::Invalid(format!(
            "{} exists; pass --force to overwrite it",
            args.out.display()
        )));
    }
    let (data, dim) = load_data(&args.data)?;
    let n = data.len() / dim;
    say!("fitting {kind} to {n} items of {dim} values");
    let opts = FitOptions {
        seed: args.seed,
        iterations: args.iterations,
        reg: args.reg,
        cd_steps: args.cd_steps,
        learning_rate: args.learning_rate,
        ..FitOptions::default()
    };
    let what = match kind {
        ExpertKind::Grbm { .. } => "reconstruction error per item",
        _ => "regularised log-likelihood per item",
    };
    let start = Instant::now();
    let (expert, report) = Expert::fit(kind, &data, dim, &opts, &mut |i, v| {
        // Printed as it comes; a closed stdout only loses the progress lines.
        use std::io::Write as _;
        let _ = writeln!(
            std::io::stdout().lock(),
            "iteration {:>3}: {what} {v:.4}",
            i + 1
        );
    })?;
    say!(
        "training log-likelihood: {:.4} (mean log p per item, {n} items, {:.1} s)",
        report.log_likelihood,
        start.elapsed().as_secs_f64()
    );
    if let Expert::Grbm(g) = &expert {
        say!("log Z: {:.4}", g.log_partition);
    }
    expert.save(&args.out)?;
    say!("wrote {}", args.out.display());
    Ok(())
}

fn eval(args: &EvalArgs) -> Result<()> {
    let expert = Expert::load(&args.expert)?;
    let (data, dim) = load_data(&args.data)?;
    expert.check_dim(dim)?;
    let n = data.len() / dim;
    let mean = expert.mean_log_density(&data)?;
    say!("mean log p: {mean:.4} ({n} items, {})", expert.kind());
    Ok(())
}

/// The selected items of a .npy batch or an image folder, flattened: `(values, D)`.
fn load_data(args: &DataArgs) -> Result<(Vec<f32>, usize)> {
    let path = &args.data;
    let (mut data, dim) = if path.is_dir() {
        load_folder(path, args.grayscale)?
    } else {
        let t = npy::read_f32(path)?;
        if t.shape.len() < 2 {
            return Err(Error::Shape(format!(
                "{}: expected a batch [N, ...] of items, got shape {:?}",
                path.display(),
                t.shape
            )));
        }
        t.check_finite(&path.display().to_string())?;
        let dim = t.shape[1..].iter().product::<usize>();
        (t.data, dim)
    };
    if dim == 0 {
        return Err(Error::Shape(format!(
            "{}: items hold no values",
            path.display()
        )));
    }
    let n = data.len() / dim;
    let end = args.rows.map_or(n, |r| (args.skip + r).min(n));
    if args.skip >= end {
        return Err(Error::Invalid(format!(
            "{}: no items selected ({n} items, --skip {}, --rows {:?})",
            path.display(),
            args.skip,
            args.rows
        )));
    }
    data.truncate(end * dim);
    data.drain(..args.skip * dim);
    Ok((data, dim))
}

fn load_folder(path: &Path, grayscale: bool) -> Result<(Vec<f32>, usize)> {
    let opts = ImageOptions {
        grayscale,
        ..ImageOptions::default()
    };
    let mut files: Vec<PathBuf> = std::fs::read_dir(path)
        .map_err(|e| Error::io(path, e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| ["png", "jpg", "jpeg"].contains(&e.to_ascii_lowercase().as_str()))
        })
        .collect();
    files.sort();
    let first = files.first().ok_or_else(|| {
        Error::Invalid(format!(
            "folder {} holds no PNG or JPEG images",
            path.display()
        ))
    })?;
    let shape = load_image(first, &opts)?.shape;
    let items = list_inputs(&files, &shape)?;
    let t = load_items(&items, &shape, &opts)?;
    Ok((t.data, shape.iter().product()))
}
