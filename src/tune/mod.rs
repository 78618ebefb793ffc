//! Kernels chosen by measurement: each family's candidate variants (flavors, Winograd) timed on
//! a real workload on this device, the fastest kept and cached on disk per adapter, driver and
//! CPU (`glimpse tune`; the CLI measures once on first use). Without a measurement the choice
//! goes by adapter type: tiles on GPUs, subgroup broadcasts (else registers) on CPU rasterisers.

pub mod cache;
mod probe;

use std::path::PathBuf;
use std::time::{Instant, SystemTime};

use crate::error::{Error, Result};
use crate::explain::gradient::{GradientMap, GradientPlan};
use crate::explain::Target;
use crate::gpu::{DeviceModel, Gpu};
use crate::model::{Graph, Op, Tensor};
use crate::plan::{KernelChoice, KernelFamily, KernelFlavor, KernelVariant, SUBGROUP_LANES};
use crate::Predictor;
pub use cache::{Entry, TuneCache};
pub use probe::{dense_probe_graph, probe_graph};

/// Where a device's kernel choice came from.
#[derive(Clone, Debug, PartialEq)]
pub enum KernelSource {
    /// Set by the program ([`Gpu::with_kernels`], [`Gpu::with_flavor`]).
    Given,
    /// `GLIMPSE_KERNELS` named one flavor for every family.
    Environment,
    /// Measured on this device and read from the cache.
    Measured {
        /// The cache file.
        path: PathBuf,
        /// The entry.
        entry: Entry,
    },
    /// By adapter type: the cache has no usable entry for this device (why: none yet, or
    /// unreadable, or naming a flavor the device lacks); `glimpse tune` measures it.
    NotMeasured(String),
    /// By adapter type: the cache is off (`GLIMPSE_TUNE=off`) or has no directory.
    AdapterType(String),
}

impl KernelSource {
    /// Whether a measurement would be used if there were one (the cache is on and lacks it).
    pub fn wants_measurement(&self) -> bool {
        matches!(self, KernelSource::NotMeasured(_))
    }
}

impl std::fmt::Display for KernelSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KernelSource::Given => write!(f, "given by the program"),
            KernelSource::Environment => write!(f, "GLIMPSE_KERNELS, every family"),
            KernelSource::Measured { path, entry } => write!(
                f,
                "measured {} on {}; cached in {}",
                age(entry.measured_unix),
                entry.workload,
                path.display()
            ),
            KernelSource::NotMeasured(why) | KernelSource::AdapterType(why) => {
                write!(f, "by adapter type ({why})")
            }
        }
    }
}

/// How long ago a Unix time was, in words.
fn age(unix: u64) -> String {
    let s = now_unix().saturating_sub(unix);
    match s {
        0..=119 => format!("{s} s ago"),
        120..=7199 => format!("{} min ago", s / 60),
        7200..=172_799 => format!("{} h ago", s / 3600),
        _ => format!("{} days ago", s / 86_400),
    }
}

fn now_unix() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The choice a newly opened device starts with: `GLIMPSE_KERNELS` (every family in one flavor),
/// else the cached measurement of this device in `cache`, else by adapter type. `GLIMPSE_WINOGRAD=0` turns Winograd off in all.
pub(crate) fn initial_choice(gpu: &Gpu, cache: &TuneCache) -> Result<(KernelChoice, KernelSource)> {
    let winograd = gpu.winograd_allowed();
    if let Ok(name) = std::env::var("GLIMPSE_KERNELS") {
        if !name.trim().is_empty() {
            let flavor = KernelFlavor::parse(&name)?;
            if !gpu.supports(flavor) {
                return Err(Error::Invalid(format!(
                    "GLIMPSE_KERNELS={name}: this adapter lacks subgroups of at least {SUBGROUP_LANES} lanes; use tiled or registers"
                )));
            }
            return Ok((
                KernelChoice::uniform(flavor, winograd),
                KernelSource::Environment,
            ));
        }
    }
    let by_type = KernelChoice::uniform(gpu.preferred_flavor(), winograd);
    let dir = match cache {
        TuneCache::At(d) => d.clone(),
        TuneCache::Off => return Ok((by_type, KernelSource::AdapterType("cache off".into()))),
        TuneCache::Default if !cache::tuning_enabled() => {
            return Ok((
                by_type,
                KernelSource::AdapterType("GLIMPSE_TUNE=off".into()),
            ))
        }
        TuneCache::Default => match cache::default_dir() {
            Some(d) => d,
            None => {
                let why = "no cache directory: set GLIMPSE_CACHE_DIR";
                return Ok((by_type, KernelSource::AdapterType(why.into())));
            }
        },
    };
    let why = match cache::lookup(&dir, &cache::device_key(gpu.info())) {
        Ok(Some(entry)) if entry.choice.flavors().iter().all(|&f| gpu.supports(f)) => {
            let choice = entry.choice.with_winograd_allowed(winograd);
            let path = dir.join("kernels.json");
            return Ok((choice, KernelSource::Measured { path, entry }));
        }
        Ok(Some(_)) => "the cached choice names a flavor this device lacks".to_string(),
        Ok(None) => "not measured on this device yet: `glimpse tune`".to_string(),
        Err(e) => {
            log::warn!("{e}");
            e.to_string()
        }
    };
    Ok((by_type, KernelSource::NotMeasured(why)))
}

/// Where Winograd runs with `choice`, as `glimpse info` prints it.
pub(crate) fn describe_winograd(choice: KernelChoice) -> String {
    let on: Vec<&str> = [KernelFamily::ConvForward, KernelFamily::ConvAdjoint]
        .into_iter()
        .filter(|&f| choice.get(f).winograd)
        .map(KernelFamily::name)
        .collect();
    match on.is_empty() {
        true => "off (runs in the subgroup flavor; GLIMPSE_WINOGRAD=0 forbids it)".into(),
        false => format!(
            "F(2x2,3x3) in {} for 3x3 stride-1 convolutions with {}+ channels (GLIMPSE_WINOGRAD=0: off)",
            on.join(" and "),
            crate::layers::conv2d::WINOGRAD_MIN_CHANNELS
        ),
    }
}

/// A measurement: the fastest variant per family and every candidate's time.
#[derive(Clone, Debug)]
pub struct Tuning {
    /// The fastest variant per family (families the workload lacks keep the device's choice).
    pub choice: KernelChoice,
    /// What was timed: the probe network or the model, and the batch.
    pub workload: String,
    /// Family, variant, median seconds of the workload's forward pass (conv-forward, dense) or
    /// its gradient (conv-adjoint, with conv-forward at its fastest).
    pub timings: Vec<(KernelFamily, KernelVariant, f64)>,
}

impl Tuning {
    /// The cache entry of this measurement, dated now.
    pub fn entry(&self) -> Entry {
        Entry {
            choice: self.choice,
            measured_unix: now_unix(),
            workload: self.workload.clone(),
            timings: self.timings.clone(),
        }
    }

    /// Stores the measurement as this device's entry in the cache in `dir` (default: the
    /// default cache directory); returns the file.
    pub fn save(&self, gpu: &Gpu, dir: Option<PathBuf>) -> Result<PathBuf> {
        let dir = dir.or_else(cache::default_dir).ok_or_else(|| {
            Error::Invalid("no cache directory: set GLIMPSE_CACHE_DIR or HOME".into())
        })?;
        cache::store(&dir, &cache::device_key(gpu.info()), &self.entry())
    }

    /// One line per family: every candidate's time, the fastest marked.
    pub fn table(&self) -> String {
        let mut out = String::new();
        for family in KernelFamily::ALL {
            let row: Vec<String> = self
                .timings
                .iter()
                .filter(|t| t.0 == family)
                .map(|(_, v, s)| {
                    let mark = if *v == self.choice.get(family) {
                        "*"
                    } else {
                        ""
                    };
                    format!("{}{mark} {:.1} ms", v.name(), s * 1e3)
                })
                .collect();
            if !row.is_empty() {
                out += &format!("{:<13} {}\n", family.name(), row.join(", "));
            }
        }
        out
    }
}

/// A candidate whose first timed run is this many times the fastest median so far is not run
/// again: it cannot win, and the slow ones would take most of the tuning time.
const HOPELESS: f64 = 2.0;

/// Times every candidate of every kernel family on a named model (when `None`, the probe
/// networks: [`probe_graph`] for the convolutions, [`dense_probe_graph`] for dense layers) at `batch` items, `reps` times each after a warm-up run (which compiles the kernels),
/// and keeps the fastest by median. Convolution forward and dense variants are timed on the
/// forward pass; convolution adjoints on the gradient, with the forward at its fastest. The
/// device's current variant of each family is timed first.
pub fn tune(gpu: &Gpu, model: Option<(&str, &Graph)>, batch: usize, reps: usize) -> Result<Tuning> {
    if batch == 0 {
        return Err(Error::Invalid("tuning needs a batch of at least 1".into()));
    }
    // One copy of each graph, shared by every candidate's device model.
    let (conv_model, dense_model, name) = match model {
        Some((name, g)) => {
            let m = DeviceModel::new(gpu, g.clone());
            (m.clone(), m, name.to_string())
        }
        None => (
            DeviceModel::new(gpu, probe_graph()?),
            DeviceModel::new(gpu, dense_probe_graph()?),
            "the probe networks".to_string(),
        ),
    };
    let has = |m: &DeviceModel, pred: fn(&Op) -> bool| m.graph().nodes.iter().any(|n| pred(&n.op));
    let flavors = gpu.supported_flavors();
    let mut choice = gpu.kernels();
    let mut timings = Vec::new();
    for family in [
        KernelFamily::ConvForward,
        KernelFamily::Dense,
        KernelFamily::ConvAdjoint,
    ] {
        let (base, present) = match family {
            KernelFamily::Dense => (
                &dense_model,
                has(&dense_model, |op| matches!(op, Op::Dense(_))),
            ),
            _ => (
                &conv_model,
                has(&conv_model, |op| matches!(op, Op::Conv2d(_))),
            ),
        };
        if !present {
            continue;
        }
        let x = probe::probe_input(base.graph(), batch)?;
        let mut best: Option<(KernelVariant, f64)> = None;
        let mut candidates = KernelVariant::candidates(family, &flavors);
        candidates.sort_by_key(|&v| v != choice.get(family));
        for v in candidates {
            if v.winograd && !gpu.winograd_allowed() {
                continue;
            }
            let model = base.on(&gpu.with_kernels(choice.with(family, v)));
            let bound = best.map_or(f64::INFINITY, |(_, b)| b * HOPELESS);
            let t = match family {
                KernelFamily::ConvAdjoint => time_gradient(&model, &x, reps, bound)?,
                _ => time_forward(&model, &x, reps, bound)?,
            };
            timings.push((family, v, t));
            if best.is_none_or(|(_, b)| t < b) {
                best = Some((v, t));
            }
        }
        if let Some((v, _)) = best {
            choice = choice.with(family, v);
        }
    }
    Ok(Tuning {
        choice,
        workload: format!("{name} at batch {batch}"),
        timings,
    })
}

/// Seconds of the forward pass of `x` (see [`median_seconds`]).
fn time_forward(model: &DeviceModel, x: &Tensor, reps: usize, bound: f64) -> Result<f64> {
    let mut plan = Predictor::new(model, x.shape[0])?;
    median_seconds(reps, bound, || plan.run(x).map(|_| ()))
}

/// Seconds of the gradient of the predicted output at `x` (see [`median_seconds`]).
fn time_gradient(model: &DeviceModel, x: &Tensor, reps: usize, bound: f64) -> Result<f64> {
    let mut plan = GradientPlan::new(model, GradientMap::Gradient, x.shape[0])?;
    let targets = [Target::Predicted];
    median_seconds(reps, bound, || plan.run(x, &targets).map(|_| ()))
}

/// The median of `reps` timed runs of `f` after one warm-up run; just the first timed run when
/// it is over `bound` seconds.
fn median_seconds(reps: usize, bound: f64, mut f: impl FnMut() -> Result<()>) -> Result<f64> {
    f()?;
    let mut times = Vec::with_capacity(reps);
    for _ in 0..reps.max(1) {
        let t = Instant::now();
        f()?;
        times.push(t.elapsed().as_secs_f64());
        if times[0] > bound {
            break;
        }
    }
    times.sort_by(f64::total_cmp);
    Ok(times[times.len() / 2])
}
