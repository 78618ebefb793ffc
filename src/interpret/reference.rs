//! The f64 mirror of an activation-maximisation run, as the definitions read: what the GPU
//! program is tested against (and, through finite differences, what the gradient is).

use super::diversity::reference_diversity;
use super::fourier::Spectrum;
use super::kernels::draw;
use super::objective::{ObjectiveMode, Resolved};
use super::{Blur, Diversity, Objective, Optimizer, Penalties, Settings, Transforms};
use crate::error::Result;
use crate::explain::backward::{gradient_rules, reference_backward, reference_backward_joined};
use crate::layers::{reference_forward, GradMode};
use crate::model::{Graph, Tensor};

/// Each item's `J = obj − λ2 Σx² − λ1 Σ|x| − λtv TV` at `x` (`[batch, …input]`, one objective
/// per item) and `∇J`.
pub fn objective_and_gradient(
    graph: &Graph,
    objectives: &[Objective],
    x: &Tensor<f64>,
    penalties: &Penalties,
) -> Result<(Vec<f64>, Tensor<f64>)> {
    objective_and_gradient_in(graph, objectives, x, penalties, GradMode::Gradient)
}

/// [`objective_and_gradient`] with the backward pass in `mode` (the redirected steps).
pub fn objective_and_gradient_in(
    graph: &Graph,
    objectives: &[Objective],
    x: &Tensor<f64>,
    penalties: &Penalties,
    mode: GradMode,
) -> Result<(Vec<f64>, Tensor<f64>)> {
    terms_and_gradient(graph, objectives, x, penalties, None, mode)
}

/// [`objective_and_gradient_in`] with the diversity term: per objective node, one backward
/// pass from the objective's gradient and the diversity term's joined at its node (as the GPU
/// step records it; the redirected rectifier is not linear in what flows back).
pub fn terms_and_gradient(
    graph: &Graph,
    objectives: &[Objective],
    x: &Tensor<f64>,
    penalties: &Penalties,
    diversity: Option<&Diversity>,
    mode: GradMode,
) -> Result<(Vec<f64>, Tensor<f64>)> {
    let resolved: Vec<Resolved> = objectives
        .iter()
        .map(|o| o.resolve(graph))
        .collect::<Result<_>>()?;
    let n = resolved.len();
    let values = reference_forward(graph, x);
    let mut j = vec![0.0; n];
    let mut grad = Tensor {
        shape: x.shape.clone(),
        data: vec![0.0; x.data.len()],
    };
    let spread = match diversity {
        Some(d) => {
            let (node, terms, g) = diversity_at(graph, objectives, &values, d)?;
            for (jb, t) in j.iter_mut().zip(terms) {
                *jb -= d.weight as f64 * t;
            }
            Some((node, g))
        }
        None => None,
    };
    let rules = gradient_rules(graph, mode);
    let mut nodes: Vec<usize> = resolved.iter().map(|r| r.node).collect();
    nodes.sort_unstable();
    nodes.dedup();
    // The rows of `all` that belong to the items reading `node`.
    let rows = |all: &[f64], per: usize, node: usize| -> Tensor<f64> {
        let mut data = vec![0.0; all.len()];
        for (b, _) in resolved.iter().enumerate().filter(|(_, r)| r.node == node) {
            data[b * per..(b + 1) * per].copy_from_slice(&all[b * per..(b + 1) * per]);
        }
        Tensor {
            shape: vec![n, per],
            data,
        }
    };
    for node in nodes {
        let y = &values[node];
        let f: usize = graph.nodes[node].shape.iter().product();
        let mut seed = vec![0.0; y.data.len()];
        for (b, r) in resolved.iter().enumerate().filter(|(_, r)| r.node == node) {
            let (value, g) = objective(r, &y.data[b * f..(b + 1) * f]);
            j[b] += value;
            seed[b * f..(b + 1) * f].copy_from_slice(&g);
        }
        let seed = rows(&seed, f, node);
        let mut seeds = vec![(node, &seed)];
        let joined;
        if let Some((d, g)) = &spread {
            joined = rows(g, graph.nodes[*d].shape.iter().product(), node);
            seeds.push((*d, &joined));
        }
        let back = reference_backward_joined(graph, &rules, x, &seeds, None);
        if let Some(g0) = &back[0] {
            for (a, b) in grad.data.iter_mut().zip(&g0.data) {
                *a += b;
            }
        }
    }
    let shape = super::kernels::penalty_shape(graph.input_shape());
    with_penalties(x, shape, penalties, &mut j, &mut grad);
    Ok((j, grad))
}

/// One item's objective and its gradient with respect to the node's values `y`.
fn objective(r: &Resolved, y: &[f64]) -> (f64, Vec<f64>) {
    let hot = |f: usize| if f == r.class { 1.0 } else { 0.0 };
    match r.mode {
        ObjectiveMode::Linear => (
            y.iter().zip(&r.weights).map(|(a, &w)| a * w as f64).sum(),
            r.weights.iter().map(|&w| w as f64).collect(),
        ),
        ObjectiveMode::Logit => (y[r.class], (0..y.len()).map(hot).collect()),
        ObjectiveMode::LogSoftmax | ObjectiveMode::Probability => {
            let m = y.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
            let lse = m + y.iter().map(|v| (v - m).exp()).sum::<f64>().ln();
            let soft: Vec<f64> = y.iter().map(|v| (v - lse).exp()).collect();
            let d: Vec<f64> = (0..y.len()).map(|f| hot(f) - soft[f]).collect();
            if r.mode == ObjectiveMode::LogSoftmax {
                (y[r.class] - lse, d)
            } else {
                let pk = soft[r.class];
                (pk, d.iter().map(|v| pk * v).collect())
            }
        }
    }
}

/// One item's weighted penalty and its gradient.
fn penalty(x: &[f64], [c, h, w]: [usize; 3], p: &Penalties) -> (f64, Vec<f64>) {
    let (l2, l1, tv) = (p.l2 as f64, p.l1 as f64, p.tv as f64);
    let sign = |v: f64| {
        if v > 0.0 {
            1.0
        } else if v < 0.0 {
            -1.0
        } else {
            0.0
        }
    };
    let mut value = 0.0;
    let mut g = vec![0.0; x.len()];
    for (i, &v) in x.iter().enumerate() {
        value += l2 * v * v + l1 * v.abs();
        g[i] += 2.0 * l2 * v + l1 * sign(v);
    }
    for ch in 0..c {
        for yy in 0..h {
            for xx in 0..w {
                let i = (ch * h + yy) * w + xx;
                let mut diff = |j: usize| {
                    let d = x[j] - x[i];
                    value += tv * d.abs();
                    g[j] += tv * sign(d);
                    g[i] -= tv * sign(d);
                };
                if yy + 1 < h {
                    diff(i + w);
                }
                if xx + 1 < w {
                    diff(i + 1);
                }
            }
        }
    }
    (value, g)
}

/// The diversity node, each item's `d_b` and the gradient of `−weight · Σ_b d_b` at that
/// node's `values`.
fn diversity_at(
    graph: &Graph,
    objectives: &[Objective],
    values: &[Tensor<f64>],
    diversity: &Diversity,
) -> Result<(usize, Vec<f64>, Vec<f64>)> {
    let node = diversity.node.resolve(graph)?;
    let groups = super::diversity::groups(objectives);
    let dims = super::diversity::channels(&graph.nodes[node].shape);
    let (d, g) = reference_diversity(&values[node].data, &groups, dims, diversity.weight as f64);
    Ok((node, d, g))
}

/// Each item's `−weight · d_b` (the diversity term of [`super::Diversity`]) at `x` and its
/// gradient, through the backward pass in `mode` from the diversity node.
pub fn diversity_and_gradient(
    graph: &Graph,
    objectives: &[Objective],
    x: &Tensor<f64>,
    diversity: &Diversity,
    mode: GradMode,
) -> Result<(Vec<f64>, Tensor<f64>)> {
    let values = reference_forward(graph, x);
    let (node, d, g) = diversity_at(graph, objectives, &values, diversity)?;
    let seed = Tensor {
        shape: values[node].shape.clone(),
        data: g,
    };
    let back = reference_backward(graph, &gradient_rules(graph, mode), x, node, &seed, None);
    let grad = back[0].clone().ok_or_else(|| {
        crate::error::Error::Invalid("no gradient reaches the input from the diversity node".into())
    })?;
    let w = diversity.weight as f64;
    Ok((d.iter().map(|v| -w * v).collect(), grad))
}

/// The whole run in f64: the prototypes after `settings.steps` updates and each item's `J`
/// before every update and after the last.
pub fn maximize(
    graph: &Graph,
    objectives: &[Objective],
    settings: &Settings,
) -> Result<(Tensor<f64>, Vec<Vec<f64>>)> {
    settings.check()?;
    let n = objectives.len();
    let size: usize = graph.input_shape().iter().product();
    let mut shape = vec![n];
    shape.extend(graph.input_shape());
    let start: Vec<f64> = settings
        .init
        .values(n, size)?
        .iter()
        .map(|&v| v as f64)
        .collect();
    let spectrum = settings
        .fourier
        .map(|f| Spectrum::new(graph.input_shape(), settings.range, f))
        .transpose()?;
    let mut var = match &spectrum {
        Some(s) => s.spectrum_of(&start),
        None => start,
    };
    let image = |var: &[f64]| Tensor {
        shape: shape.clone(),
        data: match &spectrum {
            Some(s) => s.image(var),
            None => var.to_vec(),
        },
    };
    let mut m = vec![0.0; var.len()];
    let mut v = vec![0.0; var.len()];
    let (lo, hi) = match spectrum {
        Some(_) => (f64::NEG_INFINITY, f64::INFINITY),
        None => (settings.range.0 as f64, settings.range.1 as f64),
    };
    let mut curve = vec![Vec::new(); n];
    let pshape = super::kernels::penalty_shape(graph.input_shape());
    let tr = &settings.transforms;
    let none = Penalties::default();
    // The objective and diversity terms at what the model sees.
    let diversity = settings.diversity.as_ref();
    let seen_terms = |seen: &Tensor<f64>, mode| {
        terms_and_gradient(graph, objectives, seen, &none, diversity, mode)
    };
    for t in 1..=settings.steps {
        let mode = if t <= settings.redirect_steps {
            GradMode::Redirected
        } else {
            GradMode::Gradient
        };
        let x = image(&var);
        let (mut j, mut g) = if tr.active() {
            let seen = transform(&x, n, pshape, tr, t as u32 - 1, false);
            let (j, g) = seen_terms(&seen, mode)?;
            (j, transform(&g, n, pshape, tr, t as u32 - 1, true))
        } else {
            seen_terms(&x, mode)?
        };
        with_penalties(&x, pshape, &settings.penalties, &mut j, &mut g);
        let (j, g) = with_expert(settings, &x, size, j, g);
        for (c, jb) in curve.iter_mut().zip(j) {
            c.push(jb);
        }
        let g = match &spectrum {
            Some(s) => s.adjoint(&var, &g.data),
            None => g.data,
        };
        for i in 0..var.len() {
            let d = match settings.optimizer {
                Optimizer::Adam {
                    beta1, beta2, eps, ..
                } => {
                    let (b1, b2) = (beta1 as f64, beta2 as f64);
                    m[i] = b1 * m[i] + (1.0 - b1) * g[i];
                    v[i] = b2 * v[i] + (1.0 - b2) * g[i] * g[i];
                    let mh = m[i] / (1.0 - b1.powi(t as i32));
                    let vh = v[i] / (1.0 - b2.powi(t as i32));
                    mh / (vh.sqrt() + eps as f64)
                }
                Optimizer::Ascent { .. } => g[i],
            };
            var[i] = (var[i] + settings.optimizer.lr() as f64 * d).clamp(lo, hi);
        }
        if let Some(b) = settings.blur.filter(|b| t % b.every == 0) {
            var = blur(&image(&var), pshape, &b).data;
        }
    }
    // The final terms, as the GPU computes them: the untransformed prototype.
    let x = image(&var);
    let (mut j, mut g) = seen_terms(&x, GradMode::Gradient)?;
    with_penalties(&x, pshape, &settings.penalties, &mut j, &mut g);
    let (j, _) = with_expert(settings, &x, size, j, g);
    for (c, jb) in curve.iter_mut().zip(j) {
        c.push(jb);
    }
    Ok((x, curve))
}

/// Subtracts each item's weighted penalty from `j` and its gradient from `g`.
fn with_penalties(
    x: &Tensor<f64>,
    shape: [usize; 3],
    penalties: &Penalties,
    j: &mut [f64],
    g: &mut Tensor<f64>,
) {
    let size: usize = shape.iter().product();
    for (b, jb) in j.iter_mut().enumerate() {
        let (value, d) = penalty(&x.data[b * size..(b + 1) * size], shape, penalties);
        *jb -= value;
        for (a, d) in g.data[b * size..(b + 1) * size].iter_mut().zip(d) {
            *a -= d;
        }
    }
}

/// The step's random shift and scale of every item (`adjoint`: its transpose), as
/// `shaders/interpret/transform.wgsl` defines them.
pub fn transform(
    x: &Tensor<f64>,
    n: usize,
    [c, h, w]: [usize; 3],
    t: &Transforms,
    step: u32,
    adjoint: bool,
) -> Tensor<f64> {
    let mut out = vec![0.0; x.data.len()];
    let (cy, cx) = (0.5 * (h as f64 - 1.0), 0.5 * (w as f64 - 1.0));
    for b in 0..n {
        let d = |k| draw(t.seed, step, b as u32, k) as f64;
        let s = t.scale.0 as f64 + (t.scale.1 as f64 - t.scale.0 as f64) * d(0);
        let dy = t.jitter as f64 * (2.0 * d(1) - 1.0);
        let dx = t.jitter as f64 * (2.0 * d(2) - 1.0);
        for ch in 0..c {
            let base = (b * c + ch) * h * w;
            for qy in 0..h {
                for qx in 0..w {
                    let uy = (qy as f64 - cy) / s + cy + dy;
                    let ux = (qx as f64 - cx) / s + cx + dx;
                    for yy in [uy.floor(), uy.floor() + 1.0] {
                        for xx in [ux.floor(), ux.floor() + 1.0] {
                            if yy < 0.0 || yy >= h as f64 || xx < 0.0 || xx >= w as f64 {
                                continue;
                            }
                            let wgt = (1.0 - (uy - yy).abs()) * (1.0 - (ux - xx).abs());
                            let src = base + yy as usize * w + xx as usize;
                            let dst = base + qy * w + qx;
                            if adjoint {
                                out[src] += wgt * x.data[dst];
                            } else {
                                out[dst] += wgt * x.data[src];
                            }
                        }
                    }
                }
            }
        }
    }
    Tensor {
        shape: x.shape.clone(),
        data: out,
    }
}

/// The blur of `shaders/interpret/blur.wgsl`.
fn blur(x: &Tensor<f64>, [c, h, w]: [usize; 3], b: &Blur) -> Tensor<f64> {
    let r = b.radius() as i64;
    let sigma = b.sigma as f64;
    let mut out = x.data.clone();
    for (plane, o) in x.data.chunks(h * w).zip(out.chunks_mut(h * w)) {
        for y in 0..h as i64 {
            for xx in 0..w as i64 {
                let (mut acc, mut norm) = (0.0, 0.0);
                for dy in -r..=r {
                    for dx in -r..=r {
                        let (sy, sx) = (y + dy, xx + dx);
                        if sy >= 0 && sy < h as i64 && sx >= 0 && sx < w as i64 {
                            let wgt = (-((dy * dy + dx * dx) as f64) / (2.0 * sigma * sigma)).exp();
                            acc += wgt * plane[(sy * w as i64 + sx) as usize];
                            norm += wgt;
                        }
                    }
                }
                o[(y * w as i64 + xx) as usize] = acc / norm;
            }
        }
    }
    let _ = c;
    Tensor {
        shape: x.shape.clone(),
        data: out,
    }
}

/// Adds the expert's `λ log p(x)` to each item's `J` and `λ ∇ log p` to the gradient.
fn with_expert(
    settings: &Settings,
    x: &Tensor<f64>,
    size: usize,
    mut j: Vec<f64>,
    mut g: Tensor<f64>,
) -> (Vec<f64>, Tensor<f64>) {
    if let Some(e) = &settings.expert {
        let w = e.weight as f64;
        for (b, jb) in j.iter_mut().enumerate() {
            let xb: Vec<f32> = x.data[b * size..(b + 1) * size]
                .iter()
                .map(|&v| v as f32)
                .collect();
            *jb += w * e.expert.log_density(&xb);
            let d = e.expert.grad_log_density(&xb);
            for (a, d) in g.data[b * size..(b + 1) * size].iter_mut().zip(d) {
                *a += w * d;
            }
        }
    }
    (j, g)
}
