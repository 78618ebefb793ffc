//! A linear layer (convolution or dense) with a rule term's modifications applied: the weights
//! and bias of one term, signed, in f32 for the GPU and evaluated in f64 for the reference.

use crate::explain::rules::{Bound, InputMod, Term};
use crate::layers::{Conv2d, Dense};
use crate::model::{Op, Tensor};

/// A convolution or dense layer.
#[derive(Clone, Debug)]
pub enum Linear {
    /// Convolution.
    Conv(Conv2d),
    /// Dense.
    Dense(Dense),
}

impl Linear {
    /// The linear layer of a node, if it is one.
    pub fn of(op: &Op) -> Option<Linear> {
        match op {
            Op::Conv2d(c) => Some(Linear::Conv(c.clone())),
            Op::Dense(d) => Some(Linear::Dense(d.clone())),
            _ => None,
        }
    }

    fn parts(&self) -> (&Tensor, &Option<Vec<f32>>) {
        match self {
            Linear::Conv(c) => (&c.weight, &c.bias),
            Linear::Dense(d) => (&d.weight, &d.bias),
        }
    }

    fn with_parts(&self, weight: Tensor, bias: Option<Vec<f32>>) -> Linear {
        match self {
            Linear::Conv(c) => Linear::Conv(Conv2d {
                weight,
                bias,
                ..c.clone()
            }),
            Linear::Dense(_) => Linear::Dense(Dense { weight, bias }),
        }
    }

    /// Whether the layer has a bias at all.
    pub fn has_bias(&self) -> bool {
        self.parts().1.is_some()
    }

    /// The layer a term computes: modified weights and (unless dropped) modified bias, times the
    /// term's sign.
    pub fn for_term(&self, term: &Term, ignore_bias: bool) -> Linear {
        let (w, b) = self.parts();
        let sign = term.sign as f64;
        let m = |v: f32| (term.weight.apply(v) as f64 * sign) as f32;
        let weight = Tensor {
            shape: w.shape.clone(),
            data: w.data.iter().map(|&v| m(v)).collect(),
        };
        let bias = match b {
            Some(b) if term.bias && !ignore_bias => Some(b.iter().map(|&v| m(v)).collect()),
            _ => None,
        };
        self.with_parts(weight, bias)
    }

    /// f64 forward over a batch `[N, ...]`.
    pub fn reference(&self, x: &Tensor<f64>) -> Tensor<f64> {
        match self {
            Linear::Conv(c) => c.reference(x),
            Linear::Dense(d) => {
                let n = x.shape[0];
                d.reference(&Tensor {
                    shape: vec![n, x.data.len() / n],
                    data: x.data.clone(),
                })
            }
        }
    }

    /// f64 adjoint `Wᵀ ȳ`, shaped like the input batch `[N, ...in_shape]`.
    pub fn reference_transpose(&self, ybar: &Tensor<f64>, in_shape: &[usize]) -> Tensor<f64> {
        let n = ybar.shape[0];
        let mut x = match self {
            Linear::Conv(c) => c.reference_transpose(ybar, in_shape),
            Linear::Dense(d) => d.reference_transpose(&Tensor {
                shape: vec![n, ybar.data.len() / n],
                data: ybar.data.clone(),
            }),
        };
        x.shape = std::iter::once(n).chain(in_shape.iter().cloned()).collect();
        x
    }
}

/// The per-input-channel value of a constant input modifier (zᴮ bounds, ones); `None` for the
/// modifiers that depend on the input.
pub fn constant_input(
    input: InputMod,
    bounds: Option<(&Bound, &Bound)>,
    channel: usize,
) -> Option<f32> {
    match input {
        InputMod::Low => Some(bounds.map_or(0.0, |(l, _)| l.at(channel))),
        InputMod::High => Some(bounds.map_or(1.0, |(_, h)| h.at(channel))),
        InputMod::Ones => Some(1.0),
        InputMod::Identity | InputMod::Positive | InputMod::Negative => None,
    }
}

/// Applies an input modifier to a batch in f64 (`channels` = size of dimension 1).
pub fn modify_input(
    x: &Tensor<f64>,
    input: InputMod,
    bounds: Option<(&Bound, &Bound)>,
) -> Tensor<f64> {
    let c = x.shape.get(1).copied().unwrap_or(1);
    let inner: usize = x.shape[2..].iter().product();
    let data = x
        .data
        .iter()
        .enumerate()
        .map(|(i, &v)| match input {
            InputMod::Identity => v,
            InputMod::Positive => v.max(0.0),
            InputMod::Negative => v.min(0.0),
            _ => constant_input(input, bounds, (i / inner) % c).unwrap_or(0.0) as f64,
        })
        .collect();
    Tensor {
        shape: x.shape.clone(),
        data,
    }
}
