//! Add (residual) and Concat (channels): shapes and f64 references.

use crate::error::{Error, Result};
use crate::model::Tensor;

/// All inputs must share one shape.
pub fn add_output_shape(inputs: &[&[usize]]) -> Result<Vec<usize>> {
    if inputs.len() < 2 || inputs.iter().any(|s| *s != inputs[0]) {
        return Err(Error::Shape(format!(
            "Add needs two or more inputs of one shape, got {inputs:?}"
        )));
    }
    Ok(inputs[0].to_vec())
}

/// Channels add up; the other dimensions must agree.
pub fn concat_output_shape(inputs: &[&[usize]]) -> Result<Vec<usize>> {
    if inputs.is_empty()
        || inputs
            .iter()
            .any(|s| s.is_empty() || s[1..] != inputs[0][1..])
    {
        return Err(Error::Shape(format!(
            "Concat needs inputs that differ only in channels, got {inputs:?}"
        )));
    }
    let mut out = inputs[0].to_vec();
    out[0] = inputs.iter().map(|s| s[0]).sum();
    Ok(out)
}

/// Element-wise sum.
pub fn reference_add(xs: &[&Tensor<f64>]) -> Tensor<f64> {
    let mut y = xs[0].clone();
    for x in &xs[1..] {
        y.data.iter_mut().zip(&x.data).for_each(|(a, b)| *a += b);
    }
    y
}

/// Concatenation along axis 1 of `[N, C_k, ...]` tensors.
pub fn reference_concat(xs: &[&Tensor<f64>]) -> Tensor<f64> {
    let n = xs[0].shape[0];
    let mut shape = xs[0].shape.clone();
    shape[1] = xs.iter().map(|x| x.shape[1]).sum();
    let mut data = Vec::with_capacity(shape.iter().product());
    for b in 0..n {
        for x in xs {
            let item = x.data.len() / n;
            data.extend_from_slice(&x.data[b * item..(b + 1) * item]);
        }
    }
    Tensor { shape, data }
}
