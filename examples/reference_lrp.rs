//! glimpse's f64 CPU reference of LRP (no GPU), for measuring against a peer on models too large
//! to keep as goldens (scripts/zennit_convnext_tiny.py):
//! `cargo run --release --example reference_lrp -- MODEL.onnx X.npy CLASS COMPOSITE OUT.npy
//! [--layer-norm RULE] [--bounds LOW,HIGH]`. Writes the relevance of X's first item (float32)
//! explaining logit CLASS, seeded with the logit itself.

use glimpse::explain::backward::reference_backward;
use glimpse::explain::{Bound, Composite, Rule};
use glimpse::io::npy::{read_f32, write_f32};
use glimpse::layers::{reference_forward, LayerClass};
use glimpse::{Error, Result, Tensor};

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let usage = || {
        Error::Invalid(
            "usage: reference_lrp MODEL.onnx X.npy CLASS COMPOSITE OUT.npy [--layer-norm RULE] \
             [--bounds LOW,HIGH]"
                .into(),
        )
    };
    let [_, model, x, class, composite, out, rest @ ..] = args.as_slice() else {
        return Err(usage());
    };
    let class: usize = class.parse().map_err(|_| usage())?;
    let mut bounds = (-1.0f32, 1.0f32);
    let mut layer_norm = None;
    for pair in rest.chunks(2) {
        match pair {
            [flag, v] if flag == "--layer-norm" => layer_norm = Some(Rule::parse(v)?),
            [flag, v] if flag == "--bounds" => {
                let (lo, hi) = v.split_once(',').ok_or_else(usage)?;
                bounds = (
                    lo.parse().map_err(|_| usage())?,
                    hi.parse().map_err(|_| usage())?,
                );
            }
            _ => return Err(usage()),
        }
    }
    let graph = glimpse::load_model(model)?;
    let mut c = Composite::preset(composite, Bound::Scalar(bounds.0), Bound::Scalar(bounds.1))?;
    if let Some(rule) = layer_norm {
        c.set(LayerClass::LayerNorm, rule)?;
    }
    let x = read_f32(x)?;
    let item: usize = x.shape[1..].iter().product();
    let mut shape = x.shape.clone();
    shape[0] = 1;
    let x = Tensor::new(shape, x.data[..item].to_vec())?.to_f64();
    let logits = reference_forward(&graph, &x).swap_remove(graph.output);
    if class >= logits.data.len() {
        return Err(Error::Invalid(format!(
            "class {class} of {} logits",
            logits.data.len()
        )));
    }
    let mut seed = Tensor::zeros(logits.shape.clone());
    seed.data[class] = logits.data[class];
    let rules = c.node_rules(&graph, graph.output)?;
    let mut flow = reference_backward(&graph, &rules, &x, graph.output, &seed, None);
    let r = flow[0]
        .take()
        .ok_or_else(|| Error::Invalid("no relevance reaches the input".into()))?;
    let r32 = Tensor::new(r.shape.clone(), r.data.iter().map(|&v| v as f32).collect())?;
    write_f32(out, &r32)
}
