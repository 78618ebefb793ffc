//! `glimpse predict`: top-k classes per input, as text or JSON lines.

use std::path::PathBuf;

use clap::Args;

use super::classes::ClassNames;
use super::options::InputArgs;
use glimpse::error::{Error, Result};
use glimpse::io::inputs::{list_inputs, load_items};
use glimpse::model::Op;
use glimpse::{DeviceModel, Predictor};

/// Arguments of `glimpse predict`.
#[derive(Args, Debug)]
pub struct PredictArgs {
    /// The ONNX model.
    #[arg(long)]
    pub model: PathBuf,
    /// How many classes to list per input.
    #[arg(long, default_value_t = 3)]
    pub top: usize,
    /// Items per GPU submission.
    #[arg(long, default_value_t = 16)]
    pub batch: usize,
    /// Print one JSON object per input: the raw output vector and the top-k.
    #[arg(long)]
    pub json: bool,
    /// Labels (.npy of integers, one per input) to report accuracy against.
    #[arg(long)]
    pub labels: Option<PathBuf>,
    /// Class names, one per line (line k names class k), printed beside the indices.
    #[arg(long)]
    pub classes: Option<PathBuf>,
    #[command(flatten)]
    pub input: InputArgs,
}

/// Runs `glimpse predict`, printing to stdout.
pub fn run(args: &PredictArgs) -> Result<()> {
    let graph = glimpse::load_model(&args.model)?;
    let opts = args.input.image_options()?;
    let shape = graph.input_shape().to_vec();
    let items = list_inputs(&args.input.inputs, &shape)?;
    if items.is_empty() {
        return Err(Error::Invalid("no inputs given".into()));
    }
    let f = graph.output_len();
    let class_names = ClassNames::load_optional(args.classes.as_deref(), f)?;
    let ends_in_softmax = matches!(graph.nodes[graph.output].op, Op::Softmax(_));
    let model = DeviceModel::new(&crate::tune::open_device()?, graph);
    // Never more batch slots than inputs.
    let mut plan = Predictor::new(&model, args.batch.min(items.len()))?;
    let label = |k: usize| class_names.as_ref().map(|c| c.name(k));
    let mut predicted = Vec::with_capacity(items.len());
    for chunk in items.chunks(plan.batch()) {
        let out = plan.run(&load_items(chunk, &shape, &opts)?)?;
        for (i, it) in chunk.iter().enumerate() {
            let name = &it.name;
            let row = &out.data[i * f..(i + 1) * f];
            let probs = if ends_in_softmax {
                row.to_vec()
            } else {
                softmax(row)
            };
            let mut order: Vec<usize> = (0..f).collect();
            order.sort_by(|&a, &b| probs[b].total_cmp(&probs[a]).then(a.cmp(&b)));
            order.truncate(args.top.max(1));
            predicted.push(order[0]);
            if args.json {
                let top: Vec<_> = order
                    .iter()
                    .map(|&k| {
                        let mut entry = serde_json::json!({"class": k, "probability": probs[k]});
                        if let Some(name) = label(k) {
                            entry["name"] = name.into();
                        }
                        entry
                    })
                    .collect();
                say!(
                    "{}",
                    serde_json::json!({"input": name, "output": row, "top": top})
                );
            } else {
                let top: Vec<String> = order
                    .iter()
                    .map(|&k| match label(k) {
                        Some(name) => format!("{k} {name} ({:.4})", probs[k]),
                        None => format!("{k} ({:.4})", probs[k]),
                    })
                    .collect();
                say!("{name}: {}", top.join(", "));
            }
        }
    }
    if let Some(path) = &args.labels {
        let labels = glimpse::io::npy::read_i64(path)?;
        if labels.data.len() != predicted.len() {
            return Err(Error::Shape(format!(
                "{} holds {} labels for {} inputs",
                path.display(),
                labels.data.len(),
                predicted.len()
            )));
        }
        let right = predicted
            .iter()
            .zip(&labels.data)
            .filter(|(p, l)| **p as i64 == **l)
            .count();
        let line = format!(
            "accuracy: {:.4} ({right}/{})",
            right as f64 / predicted.len() as f64,
            predicted.len()
        );
        if args.json {
            eprintln!("{line}");
        } else {
            say!("{line}");
        }
    }
    Ok(())
}

/// Softmax of one row, computed in f64.
pub fn softmax(row: &[f32]) -> Vec<f32> {
    let m = row.iter().cloned().fold(f32::NEG_INFINITY, f32::max) as f64;
    let e: Vec<f64> = row.iter().map(|&v| (v as f64 - m).exp()).collect();
    let s: f64 = e.iter().sum();
    e.iter().map(|v| (v / s) as f32).collect()
}
