//! Reference inputs: IG's baseline, DeepLIFT's reference and Taylor's given root point.

use std::path::Path;

use crate::error::{Error, Result};
use crate::model::Tensor;

/// A reference input.
#[derive(Clone, Debug, PartialEq)]
pub enum Baseline {
    /// All zeros.
    Zero,
    /// One input (`[...input]` or `[1, ...input]`) for every item, or one per item (`[N, ...input]`).
    Tensor(Tensor),
}

impl Baseline {
    /// `zero`, or a .npy file.
    pub fn parse(s: &str) -> Result<Baseline> {
        if s.eq_ignore_ascii_case("zero") || s.eq_ignore_ascii_case("zeros") {
            return Ok(Baseline::Zero);
        }
        Ok(Baseline::Tensor(crate::io::npy::read_f32(Path::new(s))?))
    }

    /// Checks that the baseline has the input's shape, with or without a leading count (which
    /// [`Baseline::check`] holds against the batch).
    pub fn check_shape(&self, in_shape: &[usize]) -> Result<()> {
        match self {
            Baseline::Tensor(t) if t.shape.len() == in_shape.len() + 1 && t.shape[0] > 0 => {
                self.check(in_shape, t.shape[0])
            }
            _ => self.check(in_shape, 1),
        }
    }

    /// Checks the baseline against `n` inputs of shape `in_shape`.
    pub fn check(&self, in_shape: &[usize], n: usize) -> Result<()> {
        let Baseline::Tensor(t) = self else {
            return Ok(());
        };
        let fits = t.shape == in_shape
            || (t.shape.len() == in_shape.len() + 1
                && t.shape[1..] == in_shape[..]
                && (t.shape[0] == 1 || t.shape[0] == n));
        if !fits || crate::model::checked_numel(&t.shape)? != t.data.len() {
            return Err(Error::Shape(format!(
                "the baseline is {:?} but the inputs are {n} × {in_shape:?}: give [{}], [1, …] or [{n}, …]",
                t.shape,
                in_shape.iter().map(|d| d.to_string()).collect::<Vec<_>>().join(", ")
            )));
        }
        t.check_finite("the baseline")
    }

    /// Writes the baseline of item `i` into `out` (checked with [`Baseline::check`] before).
    pub fn write(&self, i: usize, out: &mut [f32]) {
        match self {
            Baseline::Zero => out.fill(0.0),
            Baseline::Tensor(t) => {
                let d = out.len();
                let k = if t.numel() == d { 0 } else { i };
                out.copy_from_slice(&t.data[k * d..(k + 1) * d]);
            }
        }
    }
}
