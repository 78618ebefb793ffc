//! MatMul: the product of two activations as matrices, `[.., M, K] · [.., K, N]`, broadcasting
//! over the leading axes as ONNX does (attention's scores `Q·Kᵀ` and its output `A·V`).
//!
//! Its gradient reaches both inputs (`G·Bᵀ` and `Aᵀ·G`). For LRP it is a product of class
//! [`LayerClass::Product`]: CP-LRP (Ali et al. 2022, LXT's ViT) holds the attention weights — the
//! input a softmax computes — constant, so the product is linear in the values and the ε-rule
//! sends all relevance there; AttnLRP's uniform rule (Achtibat et al. 2024) gives each input
//! half of the ε-rule's share.

mod einsum;
mod onnx;

pub(crate) use onnx::ONNX;

use super::{Dest, Factor, ForwardIo, Layer, LayerClass, LinearLayer, RefVjp, VjpIo};
use crate::error::{Error, Result};
use crate::model::Tensor;
use crate::plan::{Launch, Out, Param, Program, Resource, TensorId, WeightMod, WgslEnum};

crate::params! {
    /// Values written; the matrix sizes and the inner strides of X and Y; the epilogue; the
    /// leading sizes and strides of X, Y and out.
    pub struct MatMulParams {
        pub count: u32, pub rows: u32, pub cols: u32, pub inner: u32,
        pub xi: u32, pub xt: u32, pub yt: u32, pub yj: u32,
        pub factor: u32, pub accumulate: u32, pub coef: f32, pub pad0: u32,
        pub d0: u32, pub d1: u32, pub d2: u32, pub d3: u32,
        pub sx0: u32, pub sx1: u32, pub sx2: u32, pub sx3: u32,
        pub sy0: u32, pub sy1: u32, pub sy2: u32, pub sy3: u32,
        pub so0: u32, pub so1: u32, pub so2: u32, pub so3: u32,
    }
}

crate::kernel!(pub(crate) KERNEL: MatMulParams = "layers/matmul/matmul");

/// Leading dimensions the kernel indexes (the batch and at most 3 per item).
const LEAD: usize = 4;

/// A product of two activations as (batches of) matrices.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MatMul {
    /// The inner size K the two inputs share.
    pub inner: usize,
}

/// Per-item shapes split into leading axes (right-aligned, padded with 1 to a common rank) and
/// the matrix sizes.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Dims {
    a_lead: Vec<usize>,
    b_lead: Vec<usize>,
    out_lead: Vec<usize>,
    m: usize,
    k: usize,
    n: usize,
}

fn dims_of(a: &[usize], b: &[usize]) -> Result<Dims> {
    let bad = |why: &str| Error::Shape(format!("MatMul of per-item shapes {a:?} and {b:?}: {why}"));
    if a.len() < 2 || b.len() < 2 {
        return Err(bad("both need at least two axes (matrices)"));
    }
    let (m, k) = (a[a.len() - 2], a[a.len() - 1]);
    let (k2, n) = (b[b.len() - 2], b[b.len() - 1]);
    if k != k2 {
        return Err(bad("the inner sizes differ"));
    }
    let rank = (a.len() - 2).max(b.len() - 2);
    if rank > LEAD - 1 {
        return Err(bad("at most 3 leading axes per item"));
    }
    let pad = |s: &[usize]| {
        let mut v = vec![1; rank - (s.len() - 2)];
        v.extend(&s[..s.len() - 2]);
        v
    };
    let (a_lead, b_lead) = (pad(a), pad(b));
    let mut out_lead = Vec::with_capacity(rank);
    for (&x, &y) in a_lead.iter().zip(&b_lead) {
        if x != y && x != 1 && y != 1 {
            return Err(bad("the leading axes do not broadcast"));
        }
        out_lead.push(x.max(y));
    }
    Ok(Dims {
        a_lead,
        b_lead,
        out_lead,
        m,
        k,
        n,
    })
}

/// `[batch, ..lead]` padded in front to 4 dimensions.
fn lead_dims(batch: usize, lead: &[usize]) -> [usize; LEAD] {
    let mut d = [1; LEAD];
    d[LEAD - 1 - lead.len()] = batch;
    d[LEAD - lead.len()..].copy_from_slice(lead);
    d
}

/// Leading strides of a tensor `[batch, ..lead, matrix]` over the output's leading dims; 0
/// along those it is broadcast along (and those of size 1).
fn lead_strides(batch: usize, lead: &[usize], out: &[usize], matrix: usize) -> [usize; LEAD] {
    let d = lead_dims(batch, lead);
    let o = lead_dims(batch, out);
    let mut s = [0; LEAD];
    let mut step = matrix;
    for k in (0..LEAD).rev() {
        if d[k] == o[k] && o[k] > 1 {
            s[k] = step;
        }
        step *= d[k];
    }
    s
}

/// One contraction `out[l, i, j] = Σ_t X[l, i, t] · Y[l, t, j]` as the kernel runs it.
struct Contraction {
    rows: usize,
    cols: usize,
    inner: usize,
    /// X's strides along i and t, Y's along t and j.
    xi: usize,
    xt: usize,
    yt: usize,
    yj: usize,
    lead: [usize; LEAD],
    sx: [usize; LEAD],
    sy: [usize; LEAD],
    so: [usize; LEAD],
}

impl Contraction {
    /// Values of out.
    fn count(&self) -> usize {
        let own: usize = (0..LEAD)
            .filter(|&k| self.so[k] != 0)
            .map(|k| self.lead[k])
            .product();
        own * self.rows * self.cols
    }

    fn params(&self) -> MatMulParams {
        let u = |v: usize| v as u32;
        let (d, sx, sy, so) = (self.lead, self.sx, self.sy, self.so);
        MatMulParams {
            count: u(self.count()),
            rows: u(self.rows),
            cols: u(self.cols),
            inner: u(self.inner),
            xi: u(self.xi),
            xt: u(self.xt),
            yt: u(self.yt),
            yj: u(self.yj),
            d0: u(d[0]),
            d1: u(d[1]),
            d2: u(d[2]),
            d3: u(d[3]),
            sx0: u(sx[0]),
            sx1: u(sx[1]),
            sx2: u(sx[2]),
            sx3: u(sx[3]),
            sy0: u(sy[0]),
            sy1: u(sy[1]),
            sy2: u(sy[2]),
            sy3: u(sy[3]),
            so0: u(so[0]),
            so1: u(so[1]),
            so2: u(so[2]),
            so3: u(so[3]),
            coef: 1.0,
            ..MatMulParams::default()
        }
    }

    /// The f64 twin of the kernel: out (own leading, contiguous) from X and Y.
    fn reference(&self, x: &[f64], y: &[f64]) -> Vec<f64> {
        let mut out = vec![0.0; self.count()];
        let d = self.lead;
        let total: usize = d.iter().product();
        for l in 0..total {
            let (mut rest, mut ox, mut oy, mut oo) = (l, 0, 0, 0);
            let mut step = 1;
            for k in (0..LEAD).rev() {
                let idx = rest % d[k];
                rest /= d[k];
                ox += idx * self.sx[k];
                oy += idx * self.sy[k];
                if self.so[k] != 0 {
                    oo += idx * step;
                    step *= d[k];
                }
            }
            for i in 0..self.rows {
                for j in 0..self.cols {
                    let mut acc = 0.0;
                    for t in 0..self.inner {
                        acc +=
                            x[ox + i * self.xi + t * self.xt] * y[oy + t * self.yt + j * self.yj];
                    }
                    out[(oo * self.rows + i) * self.cols + j] += acc;
                }
            }
        }
        out
    }
}

impl MatMul {
    /// The forward contraction, and the VJPs' to input 0 and 1, for a batch.
    fn contractions(batch: usize, a: &[usize], b: &[usize]) -> Result<[Contraction; 3]> {
        let d = dims_of(a, b)?;
        let (m, k, n) = (d.m, d.k, d.n);
        let lead = lead_dims(batch, &d.out_lead);
        let sa = lead_strides(batch, &d.a_lead, &d.out_lead, m * k);
        let sb = lead_strides(batch, &d.b_lead, &d.out_lead, k * n);
        let sg = lead_strides(batch, &d.out_lead, &d.out_lead, m * n);
        let forward = Contraction {
            rows: m,
            cols: n,
            inner: k,
            xi: k,
            xt: 1,
            yt: n,
            yj: 1,
            lead,
            sx: sa,
            sy: sb,
            so: sg,
        };
        // dA[l, m, k] = Σ_n G[l, m, n] · B[l, k, n]
        let da = Contraction {
            rows: m,
            cols: k,
            inner: n,
            xi: n,
            xt: 1,
            yt: 1,
            yj: n,
            lead,
            sx: sg,
            sy: sb,
            so: sa,
        };
        // dB[l, k, n] = Σ_m A[l, m, k] · G[l, m, n]
        let db = Contraction {
            rows: k,
            cols: n,
            inner: m,
            xi: 1,
            xt: k,
            yt: n,
            yj: 1,
            lead,
            sx: sa,
            sy: sg,
            so: sb,
        };
        Ok([forward, da, db])
    }

    /// f64 `coef · x_k ⊙ VJP_k(s)` for every input but `gate`: the LRP shares with the ε-rule's
    /// `s = R / stab(z)` (see [`crate::explain::Rule`]'s ConstantGate and Uniform).
    pub fn reference_shares(
        &self,
        xs: &[&Tensor<f64>],
        s: &Tensor<f64>,
        gate: Option<usize>,
    ) -> Vec<Tensor<f64>> {
        let v = RefVjp {
            xs,
            y: s,
            g: s,
            mode: super::GradMode::Gradient,
            weights: WeightMod::Plain,
            reference: None,
        };
        let coef = if gate.is_some() { 1.0 } else { 0.5 };
        self.reference_vjp(&v)
            .into_iter()
            .enumerate()
            .map(|(k, mut t)| {
                for (v, &x) in t.data.iter_mut().zip(&xs[k].data) {
                    *v = if gate == Some(k) { 0.0 } else { coef * x * *v };
                }
                t
            })
            .collect()
    }

    /// Records LRP's shares `coef · x_k ⊙ VJP_k(s)` into `io.dests` of every input but `gate`,
    /// with `io.g = s` the ε-rule's quotient; nothing is written to the gate's.
    pub(crate) fn record_shares(
        &self,
        p: &mut Program,
        io: &VjpIo,
        gate: Option<usize>,
    ) -> Result<()> {
        let coef = if gate.is_some() { 1.0 } else { 0.5 };
        for k in (0..2).filter(|&k| gate != Some(k)) {
            record_input(p, io, k, Factor::X, coef * io.coef, io.dests[k])?;
        }
        Ok(())
    }
}

fn record_input(
    p: &mut Program,
    io: &VjpIo,
    k: usize,
    factor: Factor,
    coef: f32,
    dest: Dest,
) -> Result<()> {
    let c = MatMul::contractions(io.batch, io.in_shapes[0], io.in_shapes[1])?;
    let (x, y) = if k == 0 {
        (io.g, io.xs[1])
    } else {
        (io.xs[0], io.g)
    };
    let contraction = &c[k + 1];
    let mut params = contraction.params();
    params.factor = factor.code();
    params.accumulate = dest.accumulate as u32;
    params.coef = coef;
    let bindings = vec![
        (1, Resource::Tensor(x)),
        (2, Resource::Tensor(y)),
        (3, Resource::Tensor(io.xs[k])),
        (4, Resource::Tensor(dest.tensor)),
    ];
    let launch = Launch::Flat {
        count: contraction.count() as u64,
        size: 256,
    };
    p.pass(&KERNEL, "main", &params, bindings, dest.out(), launch)
}

fn item_shape(t: &Tensor<f64>) -> &[usize] {
    &t.shape[1..]
}

impl Layer for MatMul {
    fn kind(&self) -> &'static str {
        "MatMul"
    }

    fn class(&self) -> LayerClass {
        LayerClass::Product
    }

    fn output_shape(&self, inputs: &[&[usize]]) -> Result<Vec<usize>> {
        match inputs {
            [a, b] => {
                let d = dims_of(a, b)?;
                if d.k != self.inner {
                    return Err(Error::Shape(format!(
                        "MatMul was built for inner size {}, its inputs have {}",
                        self.inner, d.k
                    )));
                }
                let mut out = d.out_lead;
                out.extend([d.m, d.n]);
                Ok(out)
            }
            _ => Err(Error::Shape(format!(
                "MatMul needs two inputs, got {}",
                inputs.len()
            ))),
        }
    }

    fn reference(&self, xs: &[&Tensor<f64>]) -> Tensor<f64> {
        let (a, b) = (item_shape(xs[0]), item_shape(xs[1]));
        let n = xs[0].shape[0];
        let [forward, _, _] =
            MatMul::contractions(n, a, b).expect("checked when the node was added");
        let out = self
            .output_shape(&[a, b])
            .expect("checked when the node was added");
        Tensor {
            shape: std::iter::once(n).chain(out).collect(),
            data: forward.reference(&xs[0].data, &xs[1].data),
        }
    }

    fn reference_vjp(&self, v: &RefVjp) -> Vec<Tensor<f64>> {
        let (a, b) = (item_shape(v.xs[0]), item_shape(v.xs[1]));
        let n = v.g.shape[0];
        let [_, da, db] = MatMul::contractions(n, a, b).expect("checked when the node was added");
        vec![
            Tensor {
                shape: v.xs[0].shape.clone(),
                data: da.reference(&v.g.data, &v.xs[1].data),
            },
            Tensor {
                shape: v.xs[1].shape.clone(),
                data: db.reference(&v.xs[0].data, &v.g.data),
            },
        ]
    }

    fn record_forward(&self, p: &mut Program, io: &ForwardIo) -> Result<TensorId> {
        let [forward, _, _] = MatMul::contractions(io.batch, io.in_shapes[0], io.in_shapes[1])?;
        let count = forward.count();
        let y = p.tensor(io.name, count)?;
        let params = forward.params();
        let bindings = vec![
            (1, Resource::Tensor(io.xs[0])),
            (2, Resource::Tensor(io.xs[1])),
            (3, Resource::Tensor(io.xs[0])),
            (4, Resource::Tensor(y)),
        ];
        let launch = Launch::Flat {
            count: count as u64,
            size: 256,
        };
        p.pass(&KERNEL, "main", &params, bindings, Out::Write(y), launch)?;
        Ok(y)
    }

    /// Every mode passes the gradient (no rectifier for deconvnet or guided backprop to act
    /// on; DeepLIFT's rescale keeps the gradient here, as Captum does for operations it does
    /// not override).
    fn record_vjp(&self, p: &mut Program, io: &VjpIo) -> Result<()> {
        if matches!(io.factor, Factor::Channel | Factor::XTimesChannel) {
            return Err(Error::Invalid(format!(
                "MatMul '{}' takes no per-channel factor",
                io.name
            )));
        }
        for k in 0..2 {
            record_input(p, io, k, io.factor, io.coef, io.dests[k])?;
        }
        Ok(())
    }

    fn linear(&self) -> Option<&dyn LinearLayer> {
        None
    }

    fn nonnegative(&self, inputs: &[bool]) -> bool {
        inputs.iter().all(|&b| b)
    }

    fn parameter(&self, _param: Param, _modifier: WeightMod) -> Option<Vec<f32>> {
        None
    }

    fn macs(&self, out_shape: &[usize]) -> u64 {
        (out_shape.iter().product::<usize>() * self.inner) as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leading_axes_broadcast_and_matrices_must_agree() {
        let out = |a: &[usize], b: &[usize]| {
            MatMul {
                inner: a[a.len() - 1],
            }
            .output_shape(&[a, b])
        };
        assert_eq!(out(&[4, 65, 16], &[4, 16, 65]).unwrap(), [4, 65, 65]);
        assert_eq!(out(&[1, 4, 3, 2], &[2, 5]).unwrap(), [1, 4, 3, 5]);
        assert_eq!(out(&[3, 1, 3, 2], &[4, 2, 5]).unwrap(), [3, 4, 3, 5]);
        assert!(out(&[4, 3, 2], &[4, 3, 2]).is_err());
        assert!(MatMul { inner: 3 }
            .output_shape(&[&[2, 2], &[2, 2]])
            .is_err());
        assert!(out(&[2, 3, 2], &[4, 2, 2]).is_err());
        assert!(out(&[3], &[3, 2]).is_err());
    }

    #[test]
    fn the_reference_multiplies_matrices_per_item() {
        // Two items of [2, 2] · [2, 1].
        let a = Tensor {
            shape: vec![2, 2, 2],
            data: vec![1., 2., 3., 4., 0., 1., 1., 0.],
        };
        let b = Tensor {
            shape: vec![2, 2, 1],
            data: vec![1., 1., 2., 3.],
        };
        let y = MatMul { inner: 2 }.reference(&[&a, &b]);
        assert_eq!(y.shape, [2, 2, 1]);
        assert_eq!(y.data, [3., 7., 3., 2.]);
    }
}
