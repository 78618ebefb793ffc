//! Canonizers: graph rewrites that keep the function and simplify explanation.

use super::{Graph, Op};
use crate::layers::{BatchNorm, Reshape};

/// Folds each BatchNorm into the convolution (transposed too) or dense layer directly before it, when that
/// layer feeds nothing else. The network computes the same function; BatchNorms that cannot
/// be folded (after a ReLU, or after a layer with other readers) stay as affine nodes.
/// Returns the number of BatchNorms folded.
pub fn fold_batch_norm(graph: &mut Graph) -> usize {
    let consumers = graph.consumers();
    let mut folded = 0;
    for id in 0..graph.nodes.len() {
        let Op::BatchNorm(bn) = &graph.nodes[id].op else {
            continue;
        };
        let prev = graph.nodes[id].inputs[0];
        if consumers[prev].len() != 1 || prev == graph.output {
            continue;
        }
        let bn = bn.clone();
        let done = match &mut graph.nodes[prev].op {
            Op::Conv2d(c) => {
                let per = c.weight.data.len() / bn.scale.len();
                fold_into(&mut c.weight.data, &mut c.bias, &bn, |k| k / per);
                true
            }
            Op::ConvTranspose2d(c) if bn.scale.len() == c.weight.shape[1] * c.groups => {
                // [C_in, C_out/g, KH, KW]: output channel g·Mg + m of weight (c_in, m, ..).
                let s = &c.weight.shape;
                let (mg, khw, cin_g) = (s[1], s[2] * s[3], s[0] / c.groups);
                fold_into(&mut c.weight.data, &mut c.bias, &bn, |k| {
                    (k / (mg * khw) / cin_g) * mg + (k / khw) % mg
                });
                true
            }
            Op::Dense(d) if bn.scale.len() == d.weight.shape[0] => {
                let per = d.weight.data.len() / bn.scale.len();
                fold_into(&mut d.weight.data, &mut d.bias, &bn, |k| k / per);
                true
            }
            _ => false,
        };
        if done {
            // The BatchNorm becomes a pass-through; prune() below removes it.
            graph.nodes[id].op = Op::Reshape(Reshape {
                shape: graph.nodes[id].shape.clone(),
            });
            folded += 1;
        }
    }
    if folded > 0 {
        *graph = bypass_reshapes_of_same_shape(graph);
    }
    folded
}

/// Scales each output channel's weights and bias: `W' = s·W`, `b' = s·b + t`, weight value `k`
/// belonging to output channel `channel(k)`.
fn fold_into(
    weight: &mut [f32],
    bias: &mut Option<Vec<f32>>,
    bn: &BatchNorm,
    channel: impl Fn(usize) -> usize,
) {
    let c = bn.scale.len();
    for (k, w) in weight.iter_mut().enumerate() {
        *w = (*w as f64 * bn.scale[channel(k)] as f64) as f32;
    }
    let b = bias.get_or_insert_with(|| vec![0.0; c]);
    for (ch, v) in b.iter_mut().enumerate() {
        *v = (*v as f64 * bn.scale[ch] as f64 + bn.shift[ch] as f64) as f32;
    }
}

/// Removes Reshape nodes whose output shape equals their input shape.
fn bypass_reshapes_of_same_shape(graph: &Graph) -> Graph {
    let mut g = graph.clone();
    let mut alias: Vec<usize> = (0..g.nodes.len()).collect();
    for id in 0..g.nodes.len() {
        let n = &g.nodes[id];
        if matches!(n.op, Op::Reshape(_)) && g.nodes[n.inputs[0]].shape == n.shape {
            alias[id] = alias[n.inputs[0]];
        }
    }
    for n in g.nodes.iter_mut() {
        for i in n.inputs.iter_mut() {
            *i = alias[*i];
        }
    }
    g.output = alias[g.output];
    g.prune()
}
