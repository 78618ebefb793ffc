//! Normalisation of each item over its trailing axes (a token's or a pixel's features):
//! LayerNorm, `y = (x − μ) / sqrt(var + ε) · γ + β` (ONNX LayerNormalization), or the L2
//! normalisation `y = x / max(‖x‖₂, ε)` (PyTorch's `F.normalize`: Swin V2's cosine attention).
//! Its gradient is the full one, through μ and σ (‖x‖). LRP's default is the identity rule (σ
//! held constant), or relevance passes unchanged (`pass`), or in proportion to `x · ∂y/∂x`
//! (`norm` / ε).

mod onnx;

pub(crate) use onnx::ONNX;

use super::{Factor, ForwardIo, GradMode, Layer, LayerClass, LinearLayer, RefVjp, VjpIo};
use crate::error::{Error, Result};
use crate::model::Tensor;
use crate::plan::{
    Launch, Out, Param, Program, Resource, TensorId, WeightKey, WeightMod, WgslEnum,
};

crate::params! {
    /// Rows, values per row, ε; the VJP's factor, accumulation and multiplier.
    pub struct LayerNormParams {
        pub rows: u32, pub d: u32, pub eps: f32, pub factor: u32,
        pub accumulate: u32, pub coef: f32, pub mode: u32, pub kind: u32,
    }
}

crate::kernel!(pub(crate) KERNEL: LayerNormParams = "layers/layer_norm/layer_norm");

/// What a [`LayerNorm`] divides by.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum NormKind {
    /// The centred input by its standard deviation, `sqrt(var + ε)` (LayerNormalization).
    #[default]
    Standard,
    /// The input by its Euclidean norm, `max(‖x‖₂, ε)`, uncentred (`F.normalize`).
    L2,
}

/// Normalisation over per-item axes `axis..` with a scale and shift per normalised value.
#[derive(Clone, Debug, PartialEq)]
pub struct LayerNorm {
    /// What it divides by.
    pub kind: NormKind,
    /// The first normalised per-item axis.
    pub axis: usize,
    /// γ, one per normalised value.
    pub scale: Vec<f32>,
    /// β, one per normalised value.
    pub bias: Vec<f32>,
    /// ε.
    pub eps: f32,
}

impl LayerNorm {
    fn row(&self) -> usize {
        self.scale.len()
    }

    /// f64 (μ, 1/σ) of one row, and whether σ depends on the row (it is ε where the L2 norm
    /// is below ε).
    fn stats(&self, row: &[f64]) -> (f64, f64, bool) {
        let d = row.len() as f64;
        let eps = self.eps as f64;
        match self.kind {
            NormKind::Standard => {
                let mean = row.iter().sum::<f64>() / d;
                let var = row.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / d;
                (mean, 1.0 / (var + eps).sqrt(), true)
            }
            NormKind::L2 => {
                let norm = row.iter().map(|v| v * v).sum::<f64>().sqrt();
                (0.0, 1.0 / norm.max(eps), norm > eps)
            }
        }
    }

    fn params(
        &self,
        io_rows: usize,
        factor: Factor,
        accumulate: bool,
        coef: f32,
    ) -> LayerNormParams {
        LayerNormParams {
            rows: io_rows as u32,
            d: self.row() as u32,
            eps: self.eps,
            factor: factor.code(),
            accumulate: accumulate as u32,
            coef,
            kind: self.kind as u32,
            ..LayerNormParams::default()
        }
    }
}

impl Layer for LayerNorm {
    fn kind(&self) -> &'static str {
        match self.kind {
            NormKind::Standard => "LayerNorm",
            NormKind::L2 => "L2Norm",
        }
    }

    fn class(&self) -> LayerClass {
        LayerClass::LayerNorm
    }

    fn output_shape(&self, inputs: &[&[usize]]) -> Result<Vec<usize>> {
        let input = super::one_input(inputs)?;
        let d: usize = input.get(self.axis..).map_or(0, |s| s.iter().product());
        if self.axis >= input.len() || d != self.scale.len() || d != self.bias.len() {
            return Err(Error::Shape(format!(
                "LayerNorm over axes {}.. of {input:?} needs {d} scales and shifts, has {} and {}",
                self.axis,
                self.scale.len(),
                self.bias.len()
            )));
        }
        Ok(input.to_vec())
    }

    fn reference(&self, xs: &[&Tensor<f64>]) -> Tensor<f64> {
        let x = xs[0];
        let mut y = Tensor::zeros(x.shape.clone());
        for (row, out) in x.data.chunks(self.row()).zip(y.data.chunks_mut(self.row())) {
            let (mean, inv, _) = self.stats(row);
            for (j, (o, &v)) in out.iter_mut().zip(row).enumerate() {
                *o = (v - mean) * inv * self.scale[j] as f64 + self.bias[j] as f64;
            }
        }
        y
    }

    fn reference_vjp(&self, v: &RefVjp) -> Vec<Tensor<f64>> {
        let x = v.xs[0];
        let d = self.row();
        let mut dx = Tensor::zeros(x.shape.clone());
        for r in 0..x.data.len() / d {
            let row = &x.data[r * d..(r + 1) * d];
            let g = &v.g.data[r * d..(r + 1) * d];
            let (mean, inv, varies) = self.stats(row);
            let gg: Vec<f64> = (0..d).map(|j| self.scale[j] as f64 * g[j]).collect();
            let xhat: Vec<f64> = row.iter().map(|&x| (x - mean) * inv).collect();
            // Through μ (LayerNorm only) and through σ: mean(γg·x̂) for LayerNorm's
            // (1/d)Σ(x−μ)², Σ γg·x̂ for the L2 norm's Σx².
            let (s1, per) = match self.kind {
                NormKind::Standard => (gg.iter().sum::<f64>() / d as f64, d as f64),
                NormKind::L2 => (0.0, 1.0),
            };
            let s2 = if v.mode == GradMode::ConstantStatistics || !varies {
                0.0 // σ held constant
            } else {
                gg.iter().zip(&xhat).map(|(a, b)| a * b).sum::<f64>() / per
            };
            for j in 0..d {
                dx.data[r * d + j] = (gg[j] - s1 - xhat[j] * s2) * inv;
            }
        }
        vec![dx]
    }

    fn record_forward(&self, p: &mut Program, io: &ForwardIo) -> Result<TensorId> {
        let count = io.batch * io.out_shape.iter().product::<usize>();
        let y = p.tensor(io.name, count)?;
        let affine = self.affine(p, io.node, io.name)?;
        let rows = count / self.row();
        let params = self.params(rows, Factor::One, false, 1.0);
        let bindings = vec![
            (1, Resource::Tensor(io.xs[0])),
            (3, Resource::Const(affine)),
            (4, Resource::Tensor(y)),
        ];
        let launch = Launch::Flat {
            count: rows as u64,
            size: 64,
        };
        p.pass(&KERNEL, "forward", &params, bindings, Out::Write(y), launch)?;
        Ok(y)
    }

    fn record_vjp(&self, p: &mut Program, io: &VjpIo) -> Result<()> {
        if matches!(io.factor, Factor::Channel | Factor::XTimesChannel) {
            return Err(Error::Invalid(format!(
                "LayerNorm '{}' takes no per-channel factor",
                io.name
            )));
        }
        let count = io.batch * io.out_shape.iter().product::<usize>();
        let rows = count / self.row();
        let affine = self.affine(p, io.node, io.name)?;
        let dest = io.dests[0];
        let mut params = self.params(rows, io.factor, dest.accumulate, io.coef);
        params.mode = io.mode.code();
        let bindings = vec![
            (1, Resource::Tensor(io.xs[0])),
            (2, Resource::Tensor(io.g)),
            (3, Resource::Const(affine)),
            (4, Resource::Tensor(dest.tensor)),
        ];
        let launch = Launch::Flat {
            count: rows as u64,
            size: 64,
        };
        p.pass(&KERNEL, "vjp", &params, bindings, dest.out(), launch)
    }

    fn linear(&self) -> Option<&dyn LinearLayer> {
        None
    }

    fn nonnegative(&self, _inputs: &[bool]) -> bool {
        false
    }

    fn parameter(&self, param: Param, _modifier: WeightMod) -> Option<Vec<f32>> {
        match param {
            Param::Affine => Some(self.scale.iter().chain(&self.bias).cloned().collect()),
            _ => None,
        }
    }

    fn macs(&self, out_shape: &[usize]) -> u64 {
        4 * out_shape.iter().product::<usize>() as u64
    }
}

impl LayerNorm {
    fn affine(&self, p: &mut Program, node: usize, name: &str) -> Result<crate::plan::ConstId> {
        let key = WeightKey {
            node,
            param: Param::Affine,
            modifier: WeightMod::Plain,
        };
        p.weight(key, &format!("{name}.affine"), 2 * self.row())
    }
}
