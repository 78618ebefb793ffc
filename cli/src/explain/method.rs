//! The `Method` a `glimpse explain` command line describes: LRP's composite and rules, and the
//! options of the gradient and CAM methods.

use std::path::PathBuf;

use clap::Args;
use glimpse::error::{Error, Result};
use glimpse::explain::gradient::{Baseline, Riemann, RootPoint};
use glimpse::explain::occlusion::OcclusionFill;
use glimpse::explain::{Bound, Composite, FirstLayer, LayerRef, Method, Rule};
use glimpse::layers::LayerClass;
use glimpse::model::Graph;

use super::ExplainArgs;
use crate::options::floats;

/// Options of the gradient and CAM methods.
#[derive(Args, Debug, Clone, serde::Serialize)]
pub struct MethodArgs {
    /// integrated-gradients: points on the path from the baseline to the input.
    #[arg(long, default_value_t = 64)]
    pub steps: usize,
    /// integrated-gradients: Riemann sum, left, right, middle or trapezoid (Captum's points).
    #[arg(long, default_value = "middle")]
    pub riemann: String,
    /// Reference input: integrated-gradients and deeplift (default zero), taylor's root point
    /// (default search: the root of f on the segment from 0 to x), occlusion's fill (zero, a
    /// number, or FILE.npy).
    #[arg(long, value_name = "zero|search|VALUE|FILE.npy")]
    pub baseline: Option<String>,
    /// smoothgrad, smoothgrad-squared, vargrad: noisy copies per input.
    #[arg(long, default_value_t = 16)]
    pub samples: usize,
    /// smoothgrad family: noise standard deviation as a fraction of each input's value range.
    #[arg(long, default_value_t = 0.15)]
    pub sigma: f32,
    /// smoothgrad family: seed of the noise.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// smoothgrad family: explicit noise `[samples, N, ...input]` (or `[samples, ...input]`).
    #[arg(long, value_name = "FILE.npy")]
    pub noise: Option<PathBuf>,
    /// cam, grad-cam, grad-cam++: the feature map, by ONNX node name or node index in the ONNX
    /// graph's order (default: the last feature map before the head).
    #[arg(long, value_name = "NAME|INDEX")]
    pub layer: Option<String>,
    /// occlusion: the window, K (K × K pixels over every channel), HxW, or one size per input
    /// dimension, comma-separated (C,H,W); default 15 × 15 on inputs of 64 pixels or more,
    /// else 4 × 4.
    #[arg(long, value_name = "K|HxW|C,H,W")]
    pub window: Option<String>,
    /// occlusion: the stride, in the same forms (default: half the window, rounded up).
    #[arg(long, value_name = "S|SxS|C,H,W")]
    pub stride: Option<String>,
}

/// `--method`'s help: every method the library knows, one a line.
pub fn method_help() -> String {
    let mut h = String::from("The method:");
    for (name, what) in glimpse::explain::METHOD_NAMES {
        h.push_str(&format!("\n  {name:<22} {what}"));
    }
    h
}

/// `--composite`'s help: the library's presets.
pub fn composite_help() -> String {
    format!(
        "LRP composite: {} (Zennit's and iNNvestigate's presets)",
        glimpse::explain::PRESET_NAMES
    )
}

/// `--rule`'s help: the library's rules.
pub fn rule_help() -> String {
    format!(
        "One rule for every convolution and dense layer instead of a composite: {}",
        glimpse::explain::RULE_NAMES
    )
}

/// The method the arguments describe, for `graph` (whose input channels the box bounds follow).
pub fn method_from(args: &ExplainArgs, graph: &Graph) -> Result<Method> {
    let mut method: Method = args.method.parse()?;
    let m = &args.methods;
    match &mut method {
        Method::Lrp {
            composite,
            conservation,
        } => {
            *composite = composite_from(args, graph)?;
            *conservation = args.conservation;
        }
        Method::Gradient(_) => {}
        Method::Taylor { root } => {
            *root = match m.baseline.as_deref().unwrap_or("search") {
                "search" => RootPoint::Search,
                "zero" => RootPoint::Zero,
                other => RootPoint::Given(Baseline::parse(other)?),
            }
        }
        Method::DeepLift { baseline } => *baseline = baseline_from(m)?,
        Method::IntegratedGradients {
            baseline,
            steps,
            riemann,
        } => {
            *baseline = baseline_from(m)?;
            *steps = m.steps;
            *riemann = Riemann::parse(&m.riemann)?;
        }
        Method::SmoothGrad(o) => {
            o.samples = m.samples;
            o.sigma = m.sigma;
            o.seed = m.seed;
            o.noise = match &m.noise {
                Some(p) => Some(glimpse::io::npy::read_f32(p)?),
                None => None,
            };
        }
        Method::Cam { layer, .. } => *layer = m.layer.as_deref().map(LayerRef::parse),
        Method::Occlusion(o) => {
            let shape = graph.input_shape();
            o.window = m
                .window
                .as_deref()
                .map(|w| sizes(w, shape, "window"))
                .transpose()?;
            o.strides = m
                .stride
                .as_deref()
                .map(|w| sizes(w, shape, "stride"))
                .transpose()?;
            o.fill = match m.baseline.as_deref().unwrap_or("zero") {
                "zero" | "zeros" => OcclusionFill::Value(0.0),
                other => match other.parse::<f32>() {
                    Ok(v) => OcclusionFill::Value(v),
                    Err(_) => OcclusionFill::Reference(Baseline::parse(other)?),
                },
            };
        }
    }
    Ok(method)
}

/// An occlusion window or stride: `K`, `HxW` (over every channel of a `[C, H, W]` input), or
/// one size per input dimension.
fn sizes(spec: &str, shape: &[usize], what: &str) -> Result<Vec<usize>> {
    let bad = || {
        Error::Invalid(format!(
            "--{what} {spec}: expected K, HxW or one size per input dimension {shape:?}, comma-separated"
        ))
    };
    let parse = |v: &str| v.trim().parse::<usize>().map_err(|_| bad());
    if spec.contains(',') {
        let v = spec.split(',').map(parse).collect::<Result<Vec<_>>>()?;
        return if v.len() == shape.len() {
            Ok(v)
        } else {
            Err(bad())
        };
    }
    let (h, w) = match spec.split_once(['x', 'X']) {
        Some((h, w)) => (parse(h)?, parse(w)?),
        None => (parse(spec)?, parse(spec)?),
    };
    match shape {
        [c, _, _] => Ok(vec![*c, h, w]),
        [_] if h == w => Ok(vec![h]),
        _ => Err(bad()),
    }
}

fn baseline_from(m: &MethodArgs) -> Result<Baseline> {
    Baseline::parse(m.baseline.as_deref().unwrap_or("zero"))
}

/// The composite the LRP options describe.
fn composite_from(args: &ExplainArgs, graph: &Graph) -> Result<Composite> {
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
    let with_bounds = |rule: Rule| match rule {
        Rule::ZBox { .. } => Rule::ZBox {
            low: low.clone(),
            high: high.clone(),
        },
        r => r,
    };
    let mut c = match &args.rule {
        Some(r) => Composite::uniform(with_bounds(r.parse()?)),
        None => Composite::preset(&args.composite, low.clone(), high.clone())?,
    };
    if let Some(r) = &args.first_rule {
        c = c.with_first(with_bounds(r.parse()?), FirstLayer::Linear)?;
    }
    for spec in &args.layer_rules {
        let (layer, rule) = spec
            .split_once('=')
            .ok_or_else(|| Error::Invalid(format!("--layer-rule {spec}: expected LAYER=RULE")))?;
        c.overrides
            .push((LayerRef::parse(layer), with_bounds(rule.parse()?)));
    }
    c.ignore_bias |= args.ignore_bias;
    let max_pool: Rule = args.max_pool_rule.parse()?;
    c.set(LayerClass::MaxPool, max_pool).map_err(|_| {
        Error::Invalid(format!(
            "--max-pool-rule {}: use argmax or winner-take-all",
            args.max_pool_rule
        ))
    })?;
    Ok(c)
}
