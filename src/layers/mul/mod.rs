//! Mul: the element-wise product of two activations, with ONNX's broadcasting (squeeze-excitation
//! gates `x · σ(g(x))` of shape `[C, H, W] · [C, 1, 1]`, gated units).
//!
//! Its gradient reaches both inputs. LRP treats it as a gate ([`crate::explain::Rule`]'s
//! `ConstantGate`, CP-LRP, Ali et al. 2022): the gate is held constant, so the product is linear
//! in the gated input and all relevance goes to it; or by the uniform rule (AttnLRP, Achtibat
//! et al. 2024), half to each input. Relevance reaching a broadcast input is summed over the
//! dimensions it was broadcast along.

mod onnx;

pub(crate) use onnx::ONNX;

use super::{Dest, Factor, ForwardIo, Layer, LayerClass, LinearLayer, RefVjp, VjpIo};
use crate::error::{Error, Result};
use crate::model::Tensor;
use crate::plan::{Launch, Out, Param, Program, Resource, TensorId, WeightMod, WgslEnum};

crate::params! {
    /// Values; the share's mode, factor and multiplier; the output's sizes and both inputs'
    /// strides over 6 dimensions (the batch first).
    pub struct MulParams {
        pub count: u32, pub ones: u32, pub factor: u32, pub accumulate: u32,
        pub coef: f32, pub pad0: u32, pub pad1: u32, pub pad2: u32,
        pub d0: u32, pub d1: u32, pub d2: u32, pub d3: u32, pub d4: u32, pub d5: u32,
        pub s0: u32, pub s1: u32, pub s2: u32, pub s3: u32, pub s4: u32, pub s5: u32,
        pub t0: u32, pub t1: u32, pub t2: u32, pub t3: u32, pub t4: u32, pub t5: u32,
    }
}

crate::kernel!(pub(crate) KERNEL: MulParams = "layers/mul/mul");

/// Dimensions the kernel indexes (the batch and at most 5 per item).
const RANK: usize = 6;

/// A product of two activations.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Mul;

/// The per-item output shape of two broadcast per-item shapes (ONNX's rule: of equal rank here,
/// as both carry the batch; each dimension equal, or 1 in one of them).
pub fn broadcast_shape(a: &[usize], b: &[usize]) -> Result<Vec<usize>> {
    let fits = a.len() == b.len()
        && a.len() < RANK
        && a.iter().zip(b).all(|(&x, &y)| x == y || x == 1 || y == 1);
    if !fits {
        return Err(Error::Shape(format!(
            "Mul needs two inputs whose per-item shapes broadcast (equal rank, at most {}, each \
             dimension equal or 1), got {a:?} and {b:?}",
            RANK - 1
        )));
    }
    Ok(a.iter().zip(b).map(|(&x, &y)| x.max(y)).collect())
}

/// `[batch, ..out]` padded in front to 6 dimensions.
fn dims(batch: usize, out: &[usize]) -> [usize; RANK] {
    let mut d = [1; RANK];
    d[RANK - 1 - out.len()] = batch;
    d[RANK - out.len()..].copy_from_slice(out);
    d
}

/// Strides of a contiguous `[batch, ..shape]` over the output's 6 dimensions; 0 along the
/// dimensions it is broadcast along (and those of size 1).
fn strides(batch: usize, shape: &[usize], out: &[usize]) -> [usize; RANK] {
    let d = dims(batch, shape);
    let o = dims(batch, out);
    let mut s = [0; RANK];
    let mut step = 1;
    for k in (0..RANK).rev() {
        if d[k] == o[k] && o[k] > 1 {
            s[k] = step;
        }
        step *= d[k];
    }
    s
}

fn params(count: usize, d: [usize; RANK], s: [usize; RANK], t: [usize; RANK]) -> MulParams {
    let u = |v: usize| v as u32;
    MulParams {
        count: u(count),
        d0: u(d[0]),
        d1: u(d[1]),
        d2: u(d[2]),
        d3: u(d[3]),
        d4: u(d[4]),
        d5: u(d[5]),
        s0: u(s[0]),
        s1: u(s[1]),
        s2: u(s[2]),
        s3: u(s[3]),
        s4: u(s[4]),
        s5: u(s[5]),
        t0: u(t[0]),
        t1: u(t[1]),
        t2: u(t[2]),
        t3: u(t[3]),
        t4: u(t[4]),
        t5: u(t[5]),
        ..MulParams::default()
    }
}

/// For each output value of `[batch, ..out]`, its index in each of `[batch, ..a]` and
/// `[batch, ..b]` (the f64 references' view of the broadcast).
fn indices(batch: usize, a: &[usize], b: &[usize], out: &[usize]) -> Vec<(usize, usize)> {
    let d = dims(batch, out);
    let (s, t) = (strides(batch, a, out), strides(batch, b, out));
    let count: usize = d.iter().product();
    (0..count)
        .map(|i| {
            let (mut rest, mut ia, mut ib) = (i, 0, 0);
            for k in (0..RANK).rev() {
                let idx = rest % d[k];
                rest /= d[k];
                ia += idx * s[k];
                ib += idx * t[k];
            }
            (ia, ib)
        })
        .collect()
}

fn item_shape(t: &Tensor<f64>) -> &[usize] {
    &t.shape[1..]
}

impl Mul {
    /// f64 relevance shares: `coef · Σ R` over the broadcast dimensions, for every input but
    /// `gate` (the uniform rule, `gate = None`, gives each input half).
    pub fn reference_shares(
        &self,
        xs: &[&Tensor<f64>],
        r: &Tensor<f64>,
        gate: Option<usize>,
    ) -> Vec<Tensor<f64>> {
        let (n, a, b) = (r.shape[0], item_shape(xs[0]), item_shape(xs[1]));
        let map = indices(n, a, b, item_shape(r));
        let coef = if gate.is_some() { 1.0 } else { 0.5 };
        (0..2)
            .map(|k| {
                let mut t = Tensor::zeros(xs[k].shape.clone());
                if gate != Some(k) {
                    for (&(ia, ib), &v) in map.iter().zip(&r.data) {
                        t.data[if k == 0 { ia } else { ib }] += coef * v;
                    }
                }
                t
            })
            .collect()
    }

    /// Records LRP's shares (see [`Mul::reference_shares`]) into `io.dests` of every input but
    /// `gate`; nothing is written to the gate's.
    pub(crate) fn record_shares(
        &self,
        p: &mut Program,
        io: &VjpIo,
        gate: Option<usize>,
    ) -> Result<()> {
        let coef = if gate.is_some() { 1.0 } else { 0.5 };
        for k in (0..2).filter(|&k| gate != Some(k)) {
            record_input(p, io, k, true, coef, io.dests[k])?;
        }
        Ok(())
    }
}

/// `dest (+)= coef · factor(x_k) · Σ g · (x_other, or 1 with `ones`)` over the dimensions
/// input `k` is broadcast along.
fn record_input(
    p: &mut Program,
    io: &VjpIo,
    k: usize,
    ones: bool,
    coef: f32,
    dest: Dest,
) -> Result<()> {
    let other = 1 - k;
    let count = io.batch * io.in_shapes[k].iter().product::<usize>();
    let mut params = params(
        count,
        dims(io.batch, io.out_shape),
        strides(io.batch, io.in_shapes[k], io.out_shape),
        strides(io.batch, io.in_shapes[other], io.out_shape),
    );
    params.ones = ones as u32;
    params.factor = io.factor.code();
    params.accumulate = dest.accumulate as u32;
    params.coef = coef * io.coef;
    let bindings = vec![
        (1, Resource::Tensor(io.xs[k])),
        (2, Resource::Tensor(io.xs[other])),
        (3, Resource::Tensor(io.g)),
        (4, Resource::Tensor(dest.tensor)),
    ];
    let launch = Launch::Flat {
        count: count as u64,
        size: 256,
    };
    p.pass(&KERNEL, "vjp", &params, bindings, dest.out(), launch)
}

impl Layer for Mul {
    fn kind(&self) -> &'static str {
        "Mul"
    }

    fn class(&self) -> LayerClass {
        LayerClass::Product
    }

    fn output_shape(&self, inputs: &[&[usize]]) -> Result<Vec<usize>> {
        match inputs {
            [a, b] => broadcast_shape(a, b),
            _ => Err(Error::Shape(format!(
                "Mul needs two inputs, got {}",
                inputs.len()
            ))),
        }
    }

    fn reference(&self, xs: &[&Tensor<f64>]) -> Tensor<f64> {
        let (a, b) = (item_shape(xs[0]), item_shape(xs[1]));
        let out = broadcast_shape(a, b).expect("checked when the node was added");
        let n = xs[0].shape[0];
        let data = indices(n, a, b, &out)
            .into_iter()
            .map(|(ia, ib)| xs[0].data[ia] * xs[1].data[ib])
            .collect();
        Tensor {
            shape: std::iter::once(n).chain(out).collect(),
            data,
        }
    }

    fn reference_vjp(&self, v: &RefVjp) -> Vec<Tensor<f64>> {
        let (n, a, b) = (v.g.shape[0], item_shape(v.xs[0]), item_shape(v.xs[1]));
        let map = indices(n, a, b, item_shape(v.g));
        let mut da = Tensor::zeros(v.xs[0].shape.clone());
        let mut db = Tensor::zeros(v.xs[1].shape.clone());
        for (&(ia, ib), &g) in map.iter().zip(&v.g.data) {
            da.data[ia] += g * v.xs[1].data[ib];
            db.data[ib] += g * v.xs[0].data[ia];
        }
        vec![da, db]
    }

    fn record_forward(&self, p: &mut Program, io: &ForwardIo) -> Result<TensorId> {
        let count = io.batch * io.out_shape.iter().product::<usize>();
        let y = p.tensor(io.name, count)?;
        let params = params(
            count,
            dims(io.batch, io.out_shape),
            strides(io.batch, io.in_shapes[0], io.out_shape),
            strides(io.batch, io.in_shapes[1], io.out_shape),
        );
        let bindings = vec![
            (1, Resource::Tensor(io.xs[0])),
            (2, Resource::Tensor(io.xs[1])),
            (4, Resource::Tensor(y)),
        ];
        let launch = Launch::Flat {
            count: count as u64,
            size: 256,
        };
        p.pass(&KERNEL, "forward", &params, bindings, Out::Write(y), launch)?;
        Ok(y)
    }

    /// Every mode passes the gradient: a product has no rectifier for deconvnet or guided
    /// backprop to act on, and DeepLIFT's rescale keeps the gradient here, as Captum does for
    /// operations it does not override.
    fn record_vjp(&self, p: &mut Program, io: &VjpIo) -> Result<()> {
        if matches!(io.factor, Factor::Channel | Factor::XTimesChannel) {
            return Err(Error::Invalid(format!(
                "Mul '{}' takes no per-channel factor",
                io.name
            )));
        }
        for k in 0..2 {
            record_input(p, io, k, false, 1.0, io.dests[k])?;
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
        out_shape.iter().product::<usize>() as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_broadcast_as_onnx_says() {
        assert_eq!(broadcast_shape(&[4, 3, 3], &[4, 1, 1]).unwrap(), [4, 3, 3]);
        assert_eq!(broadcast_shape(&[1, 3, 1], &[4, 1, 5]).unwrap(), [4, 3, 5]);
        assert!(broadcast_shape(&[4, 3, 3], &[2, 1, 1]).is_err());
        assert!(broadcast_shape(&[4, 3, 3], &[4, 3]).is_err());
    }

    #[test]
    fn a_broadcast_input_has_stride_zero_along_its_broadcast_dimensions() {
        assert_eq!(strides(2, &[4, 1, 1], &[4, 3, 3]), [0, 0, 4, 1, 0, 0]);
        assert_eq!(strides(2, &[4, 3, 3], &[4, 3, 3]), [0, 0, 36, 9, 3, 1]);
        assert_eq!(dims(2, &[4, 3, 3]), [1, 1, 2, 4, 3, 3]);
    }
}
