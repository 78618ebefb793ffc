//! The f64 CPU reference of LRP, written as the rules read: each node sends its relevance to its
//! inputs; the GPU plan must reproduce this to f32 precision.

use super::linear::{modify_input, Linear};
use crate::explain::rules::{OutputMask, Rule};
use crate::layers::{reference_forward, Pool2d};
use crate::model::{Graph, Op, Tensor};

/// Zennit's stabiliser: `z + ε·sign(z)` with `sign(0) = +1`.
pub fn stabilize(z: f64, eps: f64) -> f64 {
    z + eps * if z >= 0.0 { 1.0 } else { -1.0 }
}

/// `r / stab(z)`, or 0 where the stabilised denominator is zero.
fn divide(r: f64, z: f64, eps: f64) -> f64 {
    let d = stabilize(z, eps);
    if d == 0.0 {
        0.0
    } else {
        r / d
    }
}

/// Relevance of every node for a batch `x`, starting from `seed` (the relevance of node `start`,
/// `[N, F]`). Returns one tensor per node (`None` where nothing arrived).
pub fn reference_lrp(
    graph: &Graph,
    rules: &[Rule],
    stabilizer: f32,
    ignore_bias: bool,
    x: &Tensor<f64>,
    start: usize,
    seed: &Tensor<f64>,
) -> Vec<Option<Tensor<f64>>> {
    let values = reference_forward(graph, x);
    let n = x.shape[0];
    let mut rel: Vec<Option<Tensor<f64>>> = vec![None; graph.nodes.len()];
    rel[start] = Some(Tensor {
        shape: values[start].shape.clone(),
        data: seed.data.clone(),
    });
    let eps_norm = stabilizer as f64;
    for k in (1..=start).rev() {
        let Some(r) = rel[k].clone() else { continue };
        let node = &graph.nodes[k];
        let ins = &node.inputs;
        let mut send = |i: usize, v: Tensor<f64>| match &mut rel[i] {
            Some(acc) => acc.data.iter_mut().zip(&v.data).for_each(|(a, b)| *a += b),
            slot => {
                let shape = values[i].shape.clone();
                *slot = Some(Tensor {
                    shape,
                    data: v.data,
                });
            }
        };
        let rule = &rules[k];
        match &node.op {
            Op::Conv2d(_) | Op::Dense(_) => {
                let layer = Linear::of(&node.op).expect("linear");
                let xin = &values[ins[0]];
                let in_shape = &graph.nodes[ins[0]].shape;
                let (groups, eps) = rule.recipe(stabilizer).expect("checked by the composite");
                let mut out = Tensor::zeros(xin.shape.clone());
                for g in &groups {
                    let mut z = vec![0.0; r.data.len()];
                    let terms: Vec<(Linear, Tensor<f64>)> = g
                        .terms
                        .iter()
                        .map(|t| {
                            (
                                layer.for_term(t, ignore_bias),
                                modify_input(xin, t.input, rule.bounds()),
                            )
                        })
                        .collect();
                    for (l, xm) in &terms {
                        l.reference(xm)
                            .data
                            .iter()
                            .zip(z.iter_mut())
                            .for_each(|(v, a)| *a += v);
                    }
                    let s: Vec<f64> = r
                        .data
                        .iter()
                        .zip(&z)
                        .zip(&values[k].data)
                        .map(|((&rv, &zv), &plain)| {
                            let keep = match g.mask {
                                OutputMask::All => true,
                                OutputMask::WherePositive => plain > 0.0,
                                OutputMask::WhereNegative => plain < 0.0,
                            };
                            if keep {
                                divide(rv, zv, eps as f64)
                            } else {
                                0.0
                            }
                        })
                        .collect();
                    let s = Tensor {
                        shape: r.shape.clone(),
                        data: s,
                    };
                    for (l, xm) in &terms {
                        let c = l.reference_transpose(&s, in_shape);
                        for ((o, cv), xv) in out.data.iter_mut().zip(&c.data).zip(&xm.data) {
                            *o += g.coef as f64 * xv * cv;
                        }
                    }
                }
                // flat and w² send the adjoint itself: their modified input is all ones, so x' ⊙ c = c.
                send(ins[0], out);
            }
            Op::Add | Op::AvgPool2d(_) | Op::GlobalAvgPool if !matches!(rule, Rule::Pass) => {
                let eps = match rule {
                    Rule::Epsilon { epsilon } => *epsilon as f64,
                    _ => eps_norm,
                };
                let s: Vec<f64> = r
                    .data
                    .iter()
                    .zip(&values[k].data)
                    .map(|(&rv, &z)| divide(rv, z, eps))
                    .collect();
                match &node.op {
                    Op::Add => {
                        for &i in ins {
                            let v = values[i].data.iter().zip(&s).map(|(x, s)| x * s).collect();
                            send(
                                i,
                                Tensor {
                                    shape: values[i].shape.clone(),
                                    data: v,
                                },
                            );
                        }
                    }
                    _ => {
                        let pool = pool_of(&node.op, &graph.nodes[ins[0]].shape);
                        let c =
                            avg_pool_adjoint(&pool, &s, n, &graph.nodes[ins[0]].shape, &node.shape);
                        let v = values[ins[0]]
                            .data
                            .iter()
                            .zip(&c)
                            .map(|(x, c)| x * c)
                            .collect();
                        send(
                            ins[0],
                            Tensor {
                                shape: values[ins[0]].shape.clone(),
                                data: v,
                            },
                        );
                    }
                }
            }
            Op::MaxPool2d(p) if matches!(rule, Rule::WinnerTakeAll | Rule::ArgMax) => {
                let v = max_pool_winner(
                    p,
                    &values[ins[0]],
                    &values[k],
                    &r,
                    matches!(rule, Rule::ArgMax),
                );
                send(ins[0], v);
            }
            Op::BatchNorm(bn) if !matches!(rule, Rule::Pass) => {
                let eps = match rule {
                    Rule::Epsilon { epsilon } => *epsilon as f64,
                    _ => eps_norm,
                };
                let c = bn.scale.len();
                let inner: usize = node.shape[1..].iter().product();
                let x = &values[ins[0]];
                let v = (0..x.data.len())
                    .map(|i| {
                        x.data[i]
                            * bn.scale[(i / inner) % c] as f64
                            * divide(r.data[i], values[k].data[i], eps)
                    })
                    .collect();
                send(
                    ins[0],
                    Tensor {
                        shape: x.shape.clone(),
                        data: v,
                    },
                );
            }
            Op::Concat => {
                let item_cat: usize = node.shape.iter().product();
                let mut offset = 0;
                for &i in ins {
                    let item: usize = graph.nodes[i].shape.iter().product();
                    let mut data = Vec::with_capacity(n * item);
                    for b in 0..n {
                        data.extend_from_slice(
                            &r.data[b * item_cat + offset..b * item_cat + offset + item],
                        );
                    }
                    send(
                        i,
                        Tensor {
                            shape: values[i].shape.clone(),
                            data,
                        },
                    );
                    offset += item;
                }
            }
            // Pass: activations, unfolded BatchNorm, reshapes, and anything told to pass.
            _ => {
                for &i in ins {
                    send(
                        i,
                        Tensor {
                            shape: values[i].shape.clone(),
                            data: r.data.clone(),
                        },
                    );
                }
            }
        }
    }
    rel
}

/// The pooling geometry of an average pool or a global average pool over `[C, H, W]`.
pub fn pool_of(op: &Op, input: &[usize]) -> Pool2d {
    match op {
        Op::AvgPool2d(p) | Op::MaxPool2d(p) => p.clone(),
        _ => Pool2d::global(input),
    }
}

/// Adjoint of average pooling: each output's value divided by its divisor, spread over its window.
fn avg_pool_adjoint(p: &Pool2d, s: &[f64], n: usize, input: &[usize], out: &[usize]) -> Vec<f64> {
    let (c, h, w) = (input[0], input[1], input[2]);
    let (oh, ow) = (out[1], out[2]);
    let mut x = vec![0.0; n * c * h * w];
    for plane in 0..n * c {
        for i in 0..oh {
            for j in 0..ow {
                let (y0, y1, x0, x1, div) = p.window(i, j, h, w);
                let v = s[(plane * oh + i) * ow + j] / div as f64;
                for yy in y0..y1 {
                    for xx in x0..x1 {
                        x[(plane * h + yy) * w + xx] += v;
                    }
                }
            }
        }
    }
    x
}

/// Winner-take-all: each window's relevance goes to the inputs equal to its maximum, split among
/// ties, or all to the first of them (row-major) when `first`.
fn max_pool_winner(
    p: &Pool2d,
    x: &Tensor<f64>,
    y: &Tensor<f64>,
    r: &Tensor<f64>,
    first: bool,
) -> Tensor<f64> {
    let (h, w) = (x.shape[2], x.shape[3]);
    let (oh, ow) = (y.shape[2], y.shape[3]);
    let planes = x.shape[0] * x.shape[1];
    let mut out = Tensor::zeros(x.shape.clone());
    for plane in 0..planes {
        for i in 0..oh {
            for j in 0..ow {
                let (y0, y1, x0, x1, _) = p.window(i, j, h, w);
                let m = y.data[(plane * oh + i) * ow + j];
                let at = |yy: usize, xx: usize| (plane * h + yy) * w + xx;
                let winners: Vec<usize> = (y0..y1)
                    .flat_map(|yy| (x0..x1).map(move |xx| at(yy, xx)))
                    .filter(|&a| x.data[a] == m)
                    .collect();
                let share = if first { &winners[..1] } else { &winners[..] };
                for &a in share {
                    out.data[a] += r.data[(plane * oh + i) * ow + j] / share.len() as f64;
                }
            }
        }
    }
    out
}
