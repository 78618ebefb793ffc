//! `glimpse atlas`: reference inputs per concept (zennit-crp's RelMax / ActMax). One streaming
//! pass over the data set — the batch-run pipeline, so it is resumable and a corrupt input is
//! recorded and skipped — scores every input per channel of the node into `summary.jsonl`; then
//! the K best inputs per channel are explained from the neuron where the channel peaks and
//! written as one contact sheet per channel and `atlas.json`.

mod sheets;

use std::path::PathBuf;
use std::sync::Mutex;

use clap::Args;
use glimpse::error::{Error, Result};
use glimpse::explain::atlas::{channel_scores, top_k, AtlasBy};
use glimpse::explain::filter::find_node;
use glimpse::explain::Filter;
use glimpse::io::inputs::{decode_each, list_inputs};
use glimpse::Predictor;
use glimpse::{DeviceModel, Explainer, Method, Target};
use serde_json::{json, Value};

use crate::options::InputArgs;
use crate::run::pipeline::{self, Batch, Stages};
use crate::run::{self, RunArgs, RunFolder};

/// Arguments of `glimpse atlas`.
#[derive(Args, Debug, serde::Serialize)]
pub struct AtlasArgs {
    /// The ONNX model.
    #[arg(long)]
    pub model: PathBuf,
    /// The node whose channels are the concepts, by ONNX name or index.
    #[arg(long)]
    pub node: String,
    /// Reference inputs kept per channel.
    #[arg(long, default_value_t = 8)]
    pub top: usize,
    /// Rank a channel's inputs by their relevance there (for their predicted class, LRP) or by
    /// its activation; both summed over the channel's positions and divided by the sum of the
    /// magnitudes over the channels (zennit-crp's RelMax / ActMax, max_target="sum").
    #[arg(long, default_value = "relevance", value_name = "relevance|activation")]
    pub by: String,
    /// The LRP composite of the relevance and of the reference heatmaps.
    #[arg(long, default_value = "epsilon-plus-flat")]
    pub composite: String,
    /// Only these channels get a contact sheet (comma-separated; default every channel).
    #[arg(long, value_name = "C1,C2,…")]
    pub channels: Option<String>,
    /// Colour map of the heatmaps.
    #[arg(long, default_value = "bwr")]
    pub cmap: String,
    /// Output folder.
    #[arg(long, default_value = "atlas")]
    pub out: PathBuf,
    /// Items per GPU submission.
    #[arg(long, default_value_t = 16)]
    pub batch: usize,
    #[command(flatten)]
    pub input: InputArgs,
    #[command(flatten)]
    #[serde(skip)]
    pub run: RunArgs,
}

/// What pass one computes per batch: each input's channel scores, peaks and class.
struct Scored {
    values: Vec<f32>,
    neurons: Vec<usize>,
    classes: Option<Vec<usize>>,
}

/// Runs `glimpse atlas`.
pub fn run(args: &AtlasArgs) -> Result<()> {
    let graph = glimpse::load_model(&args.model)?;
    let node = find_node(&graph, &args.node)?;
    if node == 0 {
        return Err(Error::Invalid(
            "the input has no concepts: name an inner node".into(),
        ));
    }
    let by = AtlasBy::parse(&args.by)?;
    if args.top == 0 {
        return Err(Error::Invalid("--top must be at least 1".into()));
    }
    if args.run.shard()?.is_some() {
        return Err(Error::Invalid(
            "an atlas ranks the whole data set in one process: --shard does not apply".into(),
        ));
    }
    let node_shape = graph.nodes[node].shape.clone();
    let channels = node_shape[0];
    let wanted = sheets::parse_channels(args.channels.as_deref(), channels)?;
    let method: Method = format!("lrp:{}", args.composite).parse()?;
    let cmap = glimpse::render::Cmap::from_name(&args.cmap)?;
    let opts = args.input.image_options()?;
    let shape = graph.input_shape().to_vec();
    let items = list_inputs(&args.input.inputs, &shape)?;
    if items.is_empty() {
        return Err(Error::Invalid("no inputs given".into()));
    }
    let model = DeviceModel::new(&crate::tune::open_device()?, graph);
    let record = Filter {
        record: vec![node],
        ..Filter::default()
    };
    enum Scorer {
        Relevance(Box<Explainer>),
        Activation(Box<Predictor>),
    }
    // Never more batch slots than inputs to score.
    let slots = args.batch.min(items.len()).max(1);
    let mut scorer = match by {
        AtlasBy::Relevance => Scorer::Relevance(Box::new(Explainer::with_filter(
            &model, &method, slots, record,
        )?)),
        AtlasBy::Activation => Scorer::Activation(Box::new(Predictor::at(&model, node, slots)?)),
    };
    let names: Vec<String> = items.iter().map(|it| it.name.clone()).collect();
    // What pass one's scores do not depend on may change on --resume.
    let options = run::options_json(
        args,
        &[
            "model",
            "out",
            "input.inputs",
            "channels",
            "cmap",
            "top",
            "batch",
        ],
    );
    let manifest = run::manifest(
        "atlas",
        &args.model,
        options,
        &args.input.inputs,
        None,
        items.len(),
    )?;
    let folder = RunFolder::open(&args.out, &manifest, &names, args.run.start())?;
    let pending: Vec<_> = items
        .iter()
        .filter(|it| !folder.is_done(&it.name))
        .cloned()
        .collect();
    let stages = Stages {
        batch: args.batch.max(1),
        decoders: args.run.decoders,
        writers: args.run.writers,
        fail_fast: args.run.fail_fast,
    };
    let folder = Mutex::new(folder);
    let compute = |x: &glimpse::Tensor| -> Result<Scored> {
        let (map, classes) = match &mut scorer {
            Scorer::Relevance(e) => {
                let got = e.explain(x, &[Target::Predicted])?;
                let r = got.records.into_iter().next().expect("one node recorded");
                (r.relevance, Some(got.classes))
            }
            Scorer::Activation(p) => (p.run(x)?, None),
        };
        let (values, neurons) = channel_scores(&map)?;
        Ok(Scored {
            values,
            neurons,
            classes,
        })
    };
    let write = |b: &Batch<Scored>| -> Result<Vec<Value>> {
        Ok((b.items.iter().enumerate())
            .map(|(i, it)| {
                let row = i * channels..(i + 1) * channels;
                let mut line = json!({
                    "input": it.name,
                    "values": b.result.values[row.clone()],
                    "neurons": b.result.neurons[row],
                });
                if let Some(c) = &b.result.classes {
                    line["class"] = c[i].into();
                }
                line
            })
            .collect())
    };
    let finished = pipeline::run(
        &pending,
        &shape,
        &stages,
        &folder,
        &|chunk| decode_each(chunk, &shape, &opts),
        compute,
        &write,
        &|_| {},
    );
    let folder = RunFolder::conclude(folder, &names, finished)?;
    // Pass two: the best inputs of every channel, explained from their peak neuron.
    let scored = read_scores(&args.out, &names, channels)?;
    let (ids, values, neurons): (Vec<usize>, Vec<f32>, Vec<usize>) = scored.rows;
    let best = top_k(&ids, &values, &neurons, channels, args.top);
    let explainer = Explainer::with_filter(
        &model,
        &method,
        args.batch,
        Filter {
            start: Some(node),
            ..Filter::default()
        },
    )?;
    let sheet = sheets::Sheets {
        out: &args.out,
        node_name: &model.graph().nodes[node].name,
        node_shape: &node_shape,
        by: &args.by,
        items: &items,
        shape: &shape,
        opts: &opts,
        cmap: &cmap,
        bgr: args.input.bgr,
        classes: &scored.classes,
    };
    let written = sheet.write(explainer, &best, &wanted, args.batch)?;
    say!(
        "ranked {} inputs ({} failed) over {channels} channels of {}; wrote {written} contact sheets and atlas.json to {}",
        ids.len(),
        folder.failed(),
        args.node,
        args.out.display()
    );
    Ok(())
}

/// Every scored input of the summary: positions in the input list, values and peaks
/// `[inputs × channels]`, and the class per position (relevance only).
struct Scores {
    rows: (Vec<usize>, Vec<f32>, Vec<usize>),
    classes: Vec<Option<usize>>,
}

fn read_scores(out: &std::path::Path, names: &[String], channels: usize) -> Result<Scores> {
    let path = out.join(run::folder::SUMMARY);
    let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
    let position: std::collections::HashMap<&str, usize> = names
        .iter()
        .enumerate()
        .map(|(k, n)| (n.as_str(), k))
        .collect();
    let (mut ids, mut values, mut neurons) = (Vec::new(), Vec::new(), Vec::new());
    let mut classes = vec![None; names.len()];
    let bad = |what: &str| Error::Invalid(format!("{}: {what}", path.display()));
    for line in text.lines() {
        let v: Value = serde_json::from_str(line).map_err(|e| bad(&e.to_string()))?;
        let name = v["input"]
            .as_str()
            .ok_or_else(|| bad("a line without an input"))?;
        let &k = position
            .get(name)
            .ok_or_else(|| bad(&format!("'{name}' is not an input of this atlas")))?;
        let vals = v["values"].as_array().filter(|a| a.len() == channels);
        let peaks = v["neurons"].as_array().filter(|a| a.len() == channels);
        let (Some(vals), Some(peaks)) = (vals, peaks) else {
            return Err(bad(&format!(
                "'{name}' has no {channels} values and neurons"
            )));
        };
        ids.push(k);
        values.extend(vals.iter().map(|x| x.as_f64().unwrap_or(f64::NAN) as f32));
        neurons.extend(peaks.iter().map(|x| x.as_u64().unwrap_or(0) as usize));
        classes[k] = v["class"].as_u64().map(|c| c as usize);
    }
    Ok(Scores {
        rows: (ids, values, neurons),
        classes,
    })
}
