//! `glimpse interpret`: prototypes by activation maximisation — one PNG and .npy per target, a
//! grid of all of them, and `curves.jsonl` (the objective and penalty terms every m steps).

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::Args;
use glimpse::error::{Error, Result};
use glimpse::explain::LayerRef;
use glimpse::interpret::expert::Expert;
use glimpse::interpret::{
    maximize, Blur, ClassForm, Diversity, ExpertTerm, Fourier, Init, Objective, Optimizer,
    Penalties, Settings, Transforms,
};
use glimpse::render::{range_image, save_png, tile};
use glimpse::{DeviceModel, Tensor};

use super::explain::file_stem;
use super::options::floats;

/// Arguments of `glimpse interpret`.
#[derive(Args, Debug)]
pub struct InterpretArgs {
    /// The ONNX model.
    #[arg(long)]
    pub model: PathBuf,
    /// What to maximise: class:K, channel:NODE:C (mean activation) or neuron:NODE:C,Y,X
    /// (NODE: ONNX node name or index). Repeat for several prototypes; they run as one batch per
    /// node.
    #[arg(long = "target", required = true, value_name = "TARGET")]
    pub targets: Vec<String>,
    /// How a class target reads the output: logit, log-softmax or probability.
    #[arg(long, default_value = "log-softmax")]
    pub objective: String,
    /// Number of updates.
    #[arg(long, default_value_t = 200)]
    pub steps: usize,
    /// Record the curve every this many steps.
    #[arg(long, default_value_t = 10)]
    pub every: usize,
    /// adam or ascent (plain gradient ascent).
    #[arg(long, default_value = "adam")]
    pub optimizer: String,
    /// Step size.
    #[arg(long, default_value_t = 0.05)]
    pub lr: f32,
    /// Adam's β1,β2.
    #[arg(long, default_value = "0.9,0.999", value_name = "B1,B2")]
    pub betas: String,
    /// Adam's ε.
    #[arg(long, default_value_t = 1e-8)]
    pub eps: f32,
    /// Start point: noise (seeded, centre ± spread), zeros, a constant, mean (of --data), or a
    /// .npy file (one item, or one per prototype: per target × --copies).
    #[arg(long, default_value = "noise")]
    pub init: String,
    /// Seed of the noise start point and of the transforms' draws.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Spread of the noise start point around the middle of --range.
    #[arg(long, default_value_t = 0.05)]
    pub spread: f32,
    /// Data (.npy, N×input) whose mean is the start point for --init mean.
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// λ of the L2 penalty Σx².
    #[arg(long, default_value_t = 1e-3)]
    pub l2: f32,
    /// λ of the L1 penalty Σ|x|.
    #[arg(long, default_value_t = 0.0)]
    pub l1: f32,
    /// λ of the total-variation penalty.
    #[arg(long, default_value_t = 0.0)]
    pub tv: f32,
    /// Random shift of up to this many pixels each step (Lucid's jitter; 0: none).
    #[arg(long, default_value_t = 0.0)]
    pub jitter: f32,
    /// Random scale factor in LO,HI each step (Lucid's random_scale; 1,1: none).
    #[arg(long, value_name = "LO,HI", default_value = "1,1")]
    pub scale: String,
    /// Blur the prototype every this many steps (0: never).
    #[arg(long, default_value_t = 0)]
    pub blur_every: usize,
    /// σ of that blur, in pixels.
    #[arg(long, default_value_t = 0.5)]
    pub blur_sigma: f32,
    /// Steps at the start in which ReLUs (and clips) pass Lucid's redirected gradient, so that
    /// units dead at the start point can come alive (0: none; Lucid uses 16).
    #[arg(long, default_value_t = 0)]
    pub redirect_steps: usize,
    /// Optimise the image's scaled spectrum instead of its pixels (Lucid's Fourier
    /// parameterisation: every frequency moves at the same speed; values map into --range by a
    /// sigmoid).
    #[arg(long)]
    pub fourier: bool,
    /// With --fourier on an RGB input: do not mix the channels by Lucid's colour decorrelation.
    #[arg(long)]
    pub no_decorrelate: bool,
    /// With --fourier: the exponent of the spectrum's 1/f scale.
    #[arg(long, default_value_t = 1.0)]
    pub decay: f32,
    /// Prototypes per target (started from different noise); with --diversity they are pushed
    /// apart.
    #[arg(long, default_value_t = 1)]
    pub copies: usize,
    /// λ of Lucid's diversity term between the copies of a target (the cosine similarity of
    /// the Gram matrices of --diversity-node's activations; 0: none).
    #[arg(long, default_value_t = 0.0)]
    pub diversity: f32,
    /// The node (ONNX name or index) whose activations --diversity compares.
    #[arg(long, value_name = "NODE")]
    pub diversity_node: Option<String>,
    /// A density expert (`glimpse expert fit`): its λ·log p(x) joins the objective.
    #[arg(long, value_name = "FILE.expert")]
    pub expert: Option<PathBuf>,
    /// λ of the expert's log p(x).
    #[arg(long, default_value_t = 0.1)]
    pub expert_weight: f32,
    /// A generator (ONNX, code → input): maximise over its code z, the prototype g(z*); the
    /// penalties then act on z, and --range only displays g(z).
    #[arg(long, value_name = "G.onnx")]
    pub generator: Option<PathBuf>,
    /// The model's input range: values are clamped to it after every update.
    #[arg(long, value_name = "LO,HI", default_value = "0,1")]
    pub range: String,
    /// Show channels as BGR (models fed BGR).
    #[arg(long)]
    pub bgr: bool,
    /// Output folder.
    #[arg(long, default_value = "out")]
    pub out: PathBuf,
    /// Replace files an earlier run left in the output folder.
    #[arg(long)]
    pub overwrite: bool,
}

/// The settings these arguments describe (checked).
pub fn settings(args: &InterpretArgs, input_shape: &[usize]) -> Result<Settings> {
    let range = floats(&args.range, "range")?;
    let [lo, hi] = range[..] else {
        return Err(Error::Invalid(format!(
            "--range {}: expected LO,HI",
            args.range
        )));
    };
    let betas = floats(&args.betas, "betas")?;
    let [beta1, beta2] = betas[..] else {
        return Err(Error::Invalid(format!(
            "--betas {}: expected B1,B2",
            args.betas
        )));
    };
    let optimizer = match args.optimizer.as_str() {
        "adam" => Optimizer::Adam {
            lr: args.lr,
            beta1,
            beta2,
            eps: args.eps,
        },
        "ascent" | "sgd" => Optimizer::Ascent { lr: args.lr },
        o => {
            return Err(Error::Invalid(format!(
                "unknown optimizer '{o}'; valid optimizers: adam, ascent"
            )))
        }
    };
    let scale = floats(&args.scale, "scale")?;
    if scale.len() != 2 {
        return Err(Error::Invalid(format!(
            "--scale {}: expected LO,HI",
            args.scale
        )));
    }
    let size: usize = input_shape.iter().product();
    let init = match args.init.as_str() {
        "noise" => Init::Noise {
            seed: args.seed,
            center: 0.5 * (lo + hi),
            spread: args.spread,
        },
        "zeros" => Init::Constant(0.0),
        "mean" => {
            let path = args.data.as_ref().ok_or_else(|| {
                Error::Invalid("--init mean needs --data X.npy to take the mean of".into())
            })?;
            Init::Values(data_mean(path, size)?)
        }
        s if s.ends_with(".npy") => {
            let t = glimpse::io::npy::read_f32(s)?;
            if t.data.len() == size {
                Init::Values(t.data)
            } else {
                Init::Batch(t.data)
            }
        }
        s => match s.parse::<f32>() {
            Ok(v) => Init::Constant(v),
            Err(_) => {
                return Err(Error::Invalid(format!(
                    "--init {s}: expected noise, zeros, mean, a number or a .npy file"
                )))
            }
        },
    };
    let s = Settings {
        steps: args.steps,
        every: args.every,
        optimizer,
        init,
        penalties: Penalties {
            l2: args.l2,
            l1: args.l1,
            tv: args.tv,
        },
        range: (lo, hi),
        transforms: Transforms {
            jitter: args.jitter,
            scale: (scale[0], scale[1]),
            seed: args.seed as u32,
        },
        blur: (args.blur_every > 0).then_some(Blur {
            every: args.blur_every,
            sigma: args.blur_sigma,
        }),
        expert: match &args.expert {
            Some(path) => Some(ExpertTerm {
                expert: std::sync::Arc::new(Expert::load(path)?),
                weight: args.expert_weight,
            }),
            None => None,
        },
        redirect_steps: args.redirect_steps,
        image_node: None,
        fourier: args.fourier.then_some(Fourier {
            decorrelate: !args.no_decorrelate && input_shape.first() == Some(&3),
            decay: args.decay,
        }),
        diversity: match (&args.diversity_node, args.diversity) {
            (_, 0.0) => None,
            (Some(node), weight) => Some(Diversity {
                node: LayerRef::parse(node),
                weight,
            }),
            (None, _) => {
                return Err(Error::Invalid(
                    "--diversity needs --diversity-node NODE, the layer whose activations it \
                     compares"
                        .into(),
                ))
            }
        },
    };
    s.check()?;
    reject_ignored(args, &s)?;
    Ok(s)
}

/// Fails on flags the other flags make meaningless, rather than ignoring them.
fn reject_ignored(args: &InterpretArgs, s: &Settings) -> Result<()> {
    let bad = |m: &str| Err(Error::Invalid(m.into()));
    if args.diversity_node.is_some() && s.diversity.is_none() {
        return bad("--diversity-node needs --diversity λ (the term's weight)");
    }
    if !args.fourier && (args.no_decorrelate || args.decay != 1.0) {
        return bad("--no-decorrelate and --decay shape the spectrum of --fourier; pass --fourier");
    }
    if s.diversity.is_some() && args.copies < 2 {
        return bad("--diversity compares the copies of a target; pass --copies 2 or more");
    }
    // One start item for every copy: without jitter or scale the copies would stay equal, and
    // the diversity gradient of equal copies is zero.
    let repeated = matches!(s.init, Init::Constant(_) | Init::Values(_));
    if args.copies > 1 && repeated && !s.transforms.active() {
        return bad(
            "--copies from one start item (zeros, a constant, mean, a one-item .npy) gives \
             equal copies: start from noise, a .npy with one item per copy, or add --jitter",
        );
    }
    Ok(())
}

/// The mean item of a .npy of N items.
fn data_mean(path: &Path, size: usize) -> Result<Vec<f32>> {
    let t = glimpse::io::npy::read_f32(path)?;
    if t.data.is_empty() || t.data.len() % size != 0 {
        return Err(Error::Shape(format!(
            "{}: {} values are not a whole number of {size}-value items",
            path.display(),
            t.data.len()
        )));
    }
    let n = t.data.len() / size;
    let mut mean = vec![0.0f64; size];
    for row in t.data.chunks(size) {
        for (m, &v) in mean.iter_mut().zip(row) {
            *m += v as f64 / n as f64;
        }
    }
    Ok(mean.into_iter().map(|v| v as f32).collect())
}

/// Runs `glimpse interpret`.
pub fn run(args: &InterpretArgs) -> Result<()> {
    let mut graph = glimpse::load_model(&args.model)?;
    let mut image_node = None;
    if let Some(g) = &args.generator {
        let generator = glimpse::load_model(g)?;
        let (both, image) = glimpse::model::compose(&generator, &graph, "generator")?;
        graph = both;
        image_node = Some(image);
    }
    let form: ClassForm = args.objective.parse()?;
    if args.copies == 0 {
        return Err(Error::Invalid("--copies must be at least 1".into()));
    }
    // Each target `copies` times, the copies of one target side by side.
    let targets: Vec<&String> = args
        .targets
        .iter()
        .flat_map(|t| std::iter::repeat_n(t, args.copies))
        .collect();
    let objectives: Vec<Objective> = targets
        .iter()
        .map(|t| Objective::parse(t, form))
        .collect::<Result<_>>()?;
    let mut settings = settings(args, graph.input_shape())?;
    let display = settings.range;
    if image_node.is_some() {
        // Code space: z is unbounded; its noise start point is centred at 0.
        settings.range = (-f32::MAX, f32::MAX);
        if let Init::Noise { seed, spread, .. } = settings.init {
            settings.init = Init::Noise {
                seed,
                center: 0.0,
                spread: spread.max(1.0),
            };
        }
        settings.image_node = image_node;
    }
    if let Some(t) = args
        .targets
        .iter()
        .enumerate()
        .find(|(i, t)| args.targets[..*i].contains(t))
        .map(|(_, t)| t)
    {
        return Err(Error::Invalid(format!(
            "--target {t} is given twice (their files would collide); use --copies N for \
             several prototypes of one target"
        )));
    }
    let labels: Vec<String> = objectives
        .iter()
        .enumerate()
        .map(|(b, o)| match args.copies {
            1 => file_stem(&o.label()),
            n => format!("{}_{}", file_stem(&o.label()), b % n),
        })
        .collect();
    let mut files: Vec<PathBuf> = vec![args.out.join("grid.png"), args.out.join("curves.jsonl")];
    for l in &labels {
        files.push(args.out.join(format!("{l}.png")));
        files.push(args.out.join(format!("{l}.npy")));
    }
    if !args.overwrite {
        if let Some(f) = files.iter().find(|f| f.exists()) {
            return Err(Error::Invalid(format!(
                "{} exists; choose another --out or pass --overwrite",
                f.display()
            )));
        }
    }
    let model = DeviceModel::new(&crate::tune::open_device()?, graph);
    let got = maximize(&model, &objectives, &settings)?;
    std::fs::create_dir_all(&args.out).map_err(|e| Error::io(&args.out, e))?;
    let curves_path = args.out.join("curves.jsonl");
    let mut curves = std::fs::File::create(&curves_path).map_err(|e| Error::io(&curves_path, e))?;
    // The prototype is the input, or g(z*) in code space (its code written beside it).
    let shown = got.images.as_ref().unwrap_or(&got.inputs);
    let shape = shown.shape[1..].to_vec();
    let size: usize = shape.iter().product();
    let code: usize = model.graph().input_shape().iter().product();
    let mut pictures = Vec::new();
    for (b, label) in labels.iter().enumerate() {
        let x = Tensor::new(shape.clone(), shown.data[b * size..(b + 1) * size].to_vec())?;
        glimpse::io::npy::write_f32(args.out.join(format!("{label}.npy")), &x)?;
        if got.images.is_some() {
            let z = Tensor::new(
                vec![code],
                got.inputs.data[b * code..(b + 1) * code].to_vec(),
            )?;
            glimpse::io::npy::write_f32(args.out.join(format!("{label}_code.npy")), &z)?;
        }
        if shape.len() == 3 && (shape[0] == 1 || shape[0] == 3) {
            let pic = range_image(&x, display, args.bgr)?;
            save_png(args.out.join(format!("{label}.png")), &pic)?;
            pictures.push(pic);
        }
        for p in &got.curves[b] {
            let line = serde_json::json!({
                "target": targets[b], "copy": b % args.copies, "step": p.step, "objective": p.objective,
                "probability": p.probability, "l2": p.l2, "l1": p.l1, "tv": p.tv,
                "log_density": p.log_density, "diversity": p.diversity, "total": p.total,
            });
            writeln!(curves, "{line}").map_err(|e| Error::io(&curves_path, e))?;
        }
        let last = got.curves[b]
            .last()
            .copied()
            .expect("a curve ends at the prototype");
        say!(
            "{:<28} objective {:>10.4}  p {:.4}  after {} steps",
            labels[b],
            last.objective,
            last.probability,
            settings.steps
        );
    }
    if !pictures.is_empty() {
        let zoom = (128 / shape[1].max(1)).clamp(1, 8) as u32;
        let columns = if args.copies > 1 { args.copies } else { 10 };
        save_png(
            args.out.join("grid.png"),
            &tile(&pictures, columns, 2, zoom)?,
        )?;
    }
    say!(
        "wrote {} prototypes to {}",
        labels.len(),
        args.out.display()
    );
    Ok(())
}
