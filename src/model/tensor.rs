//! Host-side tensors: f32 for weights and I/O, f64 for CPU references.

use crate::error::{Error, Result};

/// A dense row-major tensor on the host.
#[derive(Clone, Debug, PartialEq)]
pub struct Tensor<T = f32> {
    /// Dimensions, outermost first.
    pub shape: Vec<usize>,
    /// Row-major values; `data.len()` equals the product of `shape`.
    pub data: Vec<T>,
}

impl<T: Copy + Default> Tensor<T> {
    /// A tensor from a shape and values; fails when their sizes disagree.
    pub fn new(shape: Vec<usize>, data: Vec<T>) -> Result<Self> {
        let n = checked_numel(&shape)?;
        if n != data.len() {
            return Err(Error::Shape(format!(
                "shape {shape:?} holds {n} values but {} were given",
                data.len()
            )));
        }
        Ok(Tensor { shape, data })
    }

    /// A tensor of zeros.
    pub fn zeros(shape: Vec<usize>) -> Self {
        let n = shape.iter().product();
        Tensor {
            shape,
            data: vec![T::default(); n],
        }
    }

    /// Number of values.
    pub fn numel(&self) -> usize {
        self.data.len()
    }
}

impl Tensor<f32> {
    /// The same values in f64, for references.
    pub fn to_f64(&self) -> Tensor<f64> {
        Tensor {
            shape: self.shape.clone(),
            data: self.data.iter().map(|&v| v as f64).collect(),
        }
    }

    /// Fails with [`Error::NonFinite`] at the first NaN or infinity.
    pub fn check_finite(&self, what: &str) -> Result<()> {
        match self.data.iter().position(|v| !v.is_finite()) {
            Some(index) => Err(Error::NonFinite {
                what: what.to_string(),
                index,
            }),
            None => Ok(()),
        }
    }
}

impl Tensor<f64> {
    /// The same values in f32.
    pub fn to_f32(&self) -> Tensor<f32> {
        Tensor {
            shape: self.shape.clone(),
            data: self.data.iter().map(|&v| v as f32).collect(),
        }
    }
}

/// Product of dimensions, failing instead of overflowing.
pub fn checked_numel(shape: &[usize]) -> Result<usize> {
    shape.iter().try_fold(1usize, |acc, &d| {
        acc.checked_mul(d)
            .ok_or_else(|| Error::Shape(format!("shape {shape:?} overflows")))
    })
}
