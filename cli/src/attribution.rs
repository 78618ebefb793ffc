//! `glimpse explain` for the gradient family and the CAMs: the options they add, and writing
//! their maps as LRP's are written (PNG heatmap, overlay, mask, .npy, summary.jsonl).

use std::io::Write;
use std::path::PathBuf;

use clap::Args;

use super::classes::ClassNames;
use super::explain::{file_stem, ExplainArgs};
use super::load_batch;
use glimpse::error::{Error, Result};
use glimpse::explain::cam::{CamKind, CamPlan};
use glimpse::explain::gradient::{
    Attribution, Baseline, DeepLiftPlan, GradientMap, GradientPlan, IntegratedGradients, Riemann,
    RootPoint, SmoothGrad, SmoothKind, SmoothOptions, TaylorPlan,
};
use glimpse::explain::{LayerRef, Target};
use glimpse::gpu::Gpu;
use glimpse::model::{Graph, Tensor};
use glimpse::render::cmap::Cmap;
use glimpse::render::heatmap::{
    heatmap, input_image, mask_input, overlay, save_png, HeatmapOptions,
};

/// Every method `glimpse explain` accepts besides `lrp`.
pub const METHODS: &str = "gradient, sensitivity, gradient-x-input, taylor, deeplift, deconvnet, guided-backprop, integrated-gradients, smoothgrad, smoothgrad-squared, vargrad, cam, grad-cam, grad-cam++";

/// Options of the gradient and CAM methods.
#[derive(Args, Debug, Clone)]
pub struct MethodArgs {
    /// integrated-gradients: points on the path from the baseline to the input.
    #[arg(long, default_value_t = 64)]
    pub steps: usize,
    /// integrated-gradients: Riemann sum, left, right, middle or trapezoid (Captum's points).
    #[arg(long, default_value = "middle")]
    pub riemann: String,
    /// Reference input: integrated-gradients and deeplift (default zero), taylor's root point
    /// (default search: the root of f on the segment from 0 to x).
    #[arg(long, value_name = "zero|search|FILE.npy")]
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
    /// grad-cam, grad-cam++: the feature map, by ONNX node name or node index in the ONNX
    /// graph's order (default: the last feature map before the head).
    #[arg(long, value_name = "NAME|INDEX")]
    pub layer: Option<String>,
}

/// A compiled plan of one method.
enum Explainer {
    Gradient(GradientPlan),
    Taylor(TaylorPlan),
    DeepLift(DeepLiftPlan),
    Integrated(IntegratedGradients),
    Smooth(SmoothGrad),
    Cam(CamPlan),
}

/// What one run gives: the maps, and for CAMs the raw maps at the layer and its name.
struct Maps {
    attribution: Attribution,
    raw: Option<(Tensor, String)>,
}

impl Explainer {
    fn new(gpu: &Gpu, graph: &Graph, args: &ExplainArgs) -> Result<Explainer> {
        let m = &args.methods;
        let batch = args.batch;
        let baseline = |default: &str| Baseline::parse(m.baseline.as_deref().unwrap_or(default));
        let plain = |map| -> Result<Explainer> {
            Ok(Explainer::Gradient(GradientPlan::new(
                gpu, graph, map, batch,
            )?))
        };
        let smooth = |kind| -> Result<Explainer> {
            let noise = match &m.noise {
                Some(p) => Some(glimpse::io::npy::read_f32(p)?),
                None => None,
            };
            let options = SmoothOptions {
                kind,
                samples: m.samples,
                sigma: m.sigma,
                seed: m.seed,
                noise,
                abs: true,
            };
            Ok(Explainer::Smooth(SmoothGrad::new(
                gpu, graph, options, batch,
            )?))
        };
        let cam = |kind| -> Result<Explainer> {
            let layer = m.layer.as_deref().map(|l| match l.parse::<usize>() {
                Ok(i) => LayerRef::Index(i),
                Err(_) => LayerRef::Name(l.to_string()),
            });
            Ok(Explainer::Cam(CamPlan::new(
                gpu,
                graph,
                kind,
                layer.as_ref(),
                batch,
            )?))
        };
        match args.method.as_str() {
            "gradient" | "saliency" => plain(GradientMap::Saliency),
            "sensitivity" => plain(GradientMap::Sensitivity),
            "gradient-x-input" => plain(GradientMap::GradientTimesInput),
            "deconvnet" => plain(GradientMap::Deconvnet),
            "guided-backprop" => plain(GradientMap::GuidedBackprop),
            "taylor" => {
                let root = match m.baseline.as_deref().unwrap_or("search") {
                    "search" => RootPoint::Search,
                    "zero" => RootPoint::Zero,
                    other => RootPoint::Given(Baseline::parse(other)?),
                };
                Ok(Explainer::Taylor(TaylorPlan::new(gpu, graph, root, batch)?))
            }
            "deeplift" => Ok(Explainer::DeepLift(DeepLiftPlan::new(
                gpu,
                graph,
                baseline("zero")?,
                batch,
            )?)),
            "integrated-gradients" => Ok(Explainer::Integrated(IntegratedGradients::new(
                gpu,
                graph,
                baseline("zero")?,
                m.steps,
                Riemann::parse(&m.riemann)?,
                batch,
            )?)),
            "smoothgrad" => smooth(SmoothKind::Mean),
            "smoothgrad-squared" => smooth(SmoothKind::Squared),
            "vargrad" => smooth(SmoothKind::Variance),
            "cam" => cam(CamKind::Cam),
            "grad-cam" => cam(CamKind::GradCam),
            "grad-cam++" => cam(CamKind::GradCamPlusPlus),
            other => Err(unknown(other)),
        }
    }

    fn run(&mut self, graph: &Graph, x: &Tensor, targets: &[Target]) -> Result<Maps> {
        let attribution = match self {
            Explainer::Gradient(p) => p.run(x, targets)?,
            Explainer::Taylor(p) => p.run(x, targets)?,
            Explainer::DeepLift(p) => p.run(x, targets)?,
            Explainer::Integrated(p) => p.run(x, targets)?,
            Explainer::Smooth(p) => p.run(x, targets)?,
            Explainer::Cam(p) => {
                let c = p.run(x, targets)?;
                let name = graph.nodes[c.layer].name.clone();
                return Ok(Maps {
                    attribution: c.attribution,
                    raw: Some((c.raw, name)),
                });
            }
        };
        Ok(Maps {
            attribution,
            raw: None,
        })
    }
}

fn unknown(method: &str) -> Error {
    Error::Invalid(format!(
        "unknown method '{method}'; valid methods: lrp, {METHODS}"
    ))
}

/// Whether `method` is one of [`METHODS`].
pub fn is_method(method: &str) -> bool {
    method == "saliency" || METHODS.split(", ").any(|m| m == method)
}

/// Runs `glimpse explain` with a gradient or CAM method.
pub fn run(args: &ExplainArgs) -> Result<()> {
    if !is_method(&args.method) {
        return Err(unknown(&args.method));
    }
    // A CAM at a convolution followed by a BatchNorm needs the convolution's own output, which
    // folding would change; the other methods see the same function either way.
    let graph = if args.method.contains("cam") {
        glimpse::onnx::load(&args.model)?
    } else {
        glimpse::load_model(&args.model)?
    };
    let target = Target::parse(&args.target)?;
    let cmap = Cmap::from_name(&args.cmap)?;
    let (names, x) = load_batch(&graph, &args.input)?;
    let class_names = ClassNames::load_optional(args.classes.as_deref(), graph.output_len())?;
    target.check(graph.output_len())?;
    let gpu = Gpu::new()?;
    let mut explainer = Explainer::new(&gpu, &graph, args)?;
    let maps = explainer.run(&graph, &x, std::slice::from_ref(&target))?;
    std::fs::create_dir_all(&args.out).map_err(|e| Error::io(&args.out, e))?;
    let summary_path = args.out.join("summary.jsonl");
    let mut summary =
        std::fs::File::create(&summary_path).map_err(|e| Error::io(&summary_path, e))?;
    for (i, name) in names.iter().enumerate() {
        let mut line = write_item(args, &cmap, name, &x, &maps, i)?;
        if let Some(c) = &class_names {
            c.label(&mut line);
        }
        writeln!(summary, "{line}").map_err(|err| Error::io(&summary_path, err))?;
    }
    println!(
        "wrote {} {} explanations to {}",
        names.len(),
        args.method,
        args.out.display()
    );
    Ok(())
}

/// Item `i` of a batch tensor `[N, ...]`.
fn item(t: &Tensor, i: usize) -> Result<Tensor> {
    let shape = t.shape[1..].to_vec();
    let d: usize = shape.iter().product();
    Tensor::new(shape, t.data[i * d..(i + 1) * d].to_vec())
}

/// Writes one input's PNGs and .npy files; returns its summary line.
fn write_item(
    args: &ExplainArgs,
    cmap: &Cmap,
    name: &str,
    x: &Tensor,
    maps: &Maps,
    i: usize,
) -> Result<serde_json::Value> {
    let a = &maps.attribution;
    let map = item(&a.map, i)?;
    let input = item(x, i)?;
    let stem = file_stem(name);
    let base = |suffix: &str, ext: &str| args.out.join(format!("{stem}{suffix}.{ext}"));
    glimpse::io::npy::write_f32(base("", "npy"), &map)?;
    if let Some((raw, _)) = &maps.raw {
        glimpse::io::npy::write_f32(base("_raw", "npy"), &item(raw, i)?)?;
    }
    if map.shape.len() == 3 {
        let opts = HeatmapOptions {
            cmap: cmap.clone(),
            ..HeatmapOptions::default()
        };
        let heat = heatmap(&map, &opts)?;
        save_png(base("", "png"), &heat)?;
        let image = input_image(&input, args.input.bgr)?;
        save_png(base("_overlay", "png"), &overlay(&heat, &image, 0.6)?)?;
        save_png(
            base("_mask", "png"),
            &mask_input(&map, &input, false, args.input.bgr)?,
        )?;
    }
    let sum: f64 = map.data.iter().map(|&v| v as f64).sum();
    let mut line = serde_json::json!({
        "input": name,
        "method": args.method,
        "class": a.classes[i],
        "score": a.scores[i],
        "relevance_sum": sum,
    });
    if let Some(r) = &a.reference_scores {
        line["reference_score"] = r[i].into();
    }
    if let Some(r) = &a.residuals {
        line["residual"] = r[i].into();
    }
    if let Some((_, layer)) = &maps.raw {
        line["layer"] = layer.clone().into();
    }
    Ok(line)
}
