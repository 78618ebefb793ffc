//! Lucid's diversity term across a batch (see [`super::Diversity`]): the GPU passes of
//! `shaders/interpret/diversity.wgsl` and their f64 mirror.

use crate::error::Result;
use crate::layers::Dest;
use crate::plan::{Launch, Out, Program, Resource, TensorId};

crate::params! {
    /// Items, channels, values per channel, terms per item, λ and the terms' slot.
    pub struct DiversityParams {
        pub n: u32, pub c: u32, pub s: u32, pub terms: u32,
        pub weight: f32, pub slot: u32, pub pad0: u32, pub pad1: u32,
    }
}

crate::kernel!(
    /// Gram matrices, their similarities and the term's gradient.
    pub DIVERSITY: DiversityParams = "interpret/diversity"
);

/// Channels and values per channel of a node's shape (`[C, …]`; a flat node has one value per
/// channel).
pub fn channels(shape: &[usize]) -> (usize, usize) {
    match shape.split_first() {
        Some((&c, rest)) => (c, rest.iter().product()),
        None => (1, 1),
    }
}

/// Group ids of items: equal objectives share one.
pub fn groups<T: PartialEq>(objectives: &[T]) -> Vec<f32> {
    (0..objectives.len())
        .map(|i| {
            (0..=i)
                .find(|&j| objectives[j] == objectives[i])
                .unwrap_or(i) as f32
        })
        .collect()
}

/// What one recording of the term reads and writes.
pub(crate) struct DiversityIo {
    /// The node's values `[n, C, S]`.
    pub a: TensorId,
    /// Each item's group id.
    pub groups: TensorId,
    /// The terms the values go to (`None`: the gradient only).
    pub terms: Option<(TensorId, usize, usize)>,
    /// Where the ascent direction on `a` goes (`None`: the values only).
    pub grad: Option<Dest>,
}

/// Records the term's values and/or its gradient for `n` items of `(C, S)` values.
pub(crate) fn record_diversity(
    p: &mut Program,
    io: &DiversityIo,
    n: usize,
    (c, s): (usize, usize),
    weight: f32,
) -> Result<()> {
    let (terms_len, slot) = io.terms.map_or((0, 0), |(_, per, slot)| (per, slot));
    let params = DiversityParams {
        n: n as u32,
        c: c as u32,
        s: s as u32,
        terms: terms_len as u32,
        weight,
        slot: slot as u32,
        ..DiversityParams::default()
    };
    let gram = p.tensor("Gram matrices", n * c * c)?;
    let dots = p.tensor("Gram dot products", n * n)?;
    let t = Resource::Tensor;
    let flat = |count: usize| Launch::Flat {
        count: count as u64,
        size: 256,
    };
    let bindings = vec![(1, t(io.a)), (4, t(gram))];
    p.pass(
        &DIVERSITY,
        "gram",
        &params,
        bindings,
        Out::Write(gram),
        flat(n * c * c),
    )?;
    let bindings = vec![(1, t(gram)), (3, t(io.groups)), (4, t(dots))];
    let pairs = Launch::Grid([n as u32, n as u32, 1]);
    p.pass(
        &DIVERSITY,
        "dots",
        &params,
        bindings,
        Out::Write(dots),
        pairs,
    )?;
    if let Some((terms, _, _)) = io.terms {
        let bindings = vec![(2, t(dots)), (3, t(io.groups)), (4, t(terms))];
        let items = Launch::Flat {
            count: n as u64,
            size: 64,
        };
        p.pass(
            &DIVERSITY,
            "values",
            &params,
            bindings,
            Out::Update(terms),
            items,
        )?;
    }
    if let Some(dest) = io.grad {
        let dg = p.tensor("Gram gradient", n * c * c)?;
        let bindings = vec![(1, t(gram)), (2, t(dots)), (3, t(io.groups)), (4, t(dg))];
        p.pass(
            &DIVERSITY,
            "gram_grad",
            &params,
            bindings,
            Out::Write(dg),
            flat(n * c * c),
        )?;
        let (entry, out) = if dest.accumulate {
            ("add_grad", Out::Update(dest.tensor))
        } else {
            ("write_grad", Out::Write(dest.tensor))
        };
        let bindings = vec![(1, t(io.a)), (2, t(dg)), (4, t(dest.tensor))];
        p.pass(&DIVERSITY, entry, &params, bindings, out, flat(n * c * s))?;
    }
    Ok(())
}

/// Each item's `d_b` and the gradient of `−weight · Σ_b d_b` with respect to the node's values
/// `a` (`[n, C, S]` flat), in f64 as the definitions read.
pub fn reference_diversity(
    a: &[f64],
    groups: &[f32],
    (c, s): (usize, usize),
    weight: f64,
) -> (Vec<f64>, Vec<f64>) {
    let n = groups.len();
    let grams: Vec<Vec<f64>> = a
        .chunks(c * s)
        .map(|ab| {
            let mut g = vec![0.0; c * c];
            for i in 0..c {
                for j in 0..c {
                    g[i * c + j] = (0..s).map(|k| ab[i * s + k] * ab[j * s + k]).sum();
                }
            }
            g
        })
        .collect();
    let dot = |x: &[f64], y: &[f64]| x.iter().zip(y).map(|(u, v)| u * v).sum::<f64>();
    let norms: Vec<f64> = grams.iter().map(|g| dot(g, g).sqrt().max(1e-12)).collect();
    let same = |i: usize, j: usize| i != j && groups[i] == groups[j];
    let size = |i: usize| (0..n).filter(|&j| groups[j] == groups[i]).count() as f64;
    let cosine = |i: usize, j: usize| dot(&grams[i], &grams[j]) / (norms[i] * norms[j]);
    let d: Vec<f64> = (0..n)
        .map(|i| {
            (0..n)
                .filter(|&j| same(i, j))
                .map(|j| cosine(i, j))
                .sum::<f64>()
                / size(i)
        })
        .collect();
    let mut grad = vec![0.0; a.len()];
    for i in 0..n {
        let mut dg = vec![0.0; c * c];
        for e in 0..c * c {
            let others: f64 = (0..n)
                .filter(|&j| same(i, j))
                .map(|j| grams[j][e] / norms[j])
                .sum();
            let cos_sum = d[i] * size(i);
            dg[e] = 2.0 * weight / size(i) * (grams[i][e] / norms[i] * cos_sum - others) / norms[i];
        }
        let ab = &a[i * c * s..(i + 1) * c * s];
        let gb = &mut grad[i * c * s..(i + 1) * c * s];
        for ch in 0..c {
            for k in 0..s {
                gb[ch * s + k] = (0..c)
                    .map(|j| (dg[ch * c + j] + dg[j * c + ch]) * ab[j * s + k])
                    .sum();
            }
        }
    }
    (d, grad)
}
