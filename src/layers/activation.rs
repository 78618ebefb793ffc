//! ReLU, Clip and Softmax: f64 references.

use crate::model::Tensor;

/// `min(max(x, lo), hi)` element-wise; ReLU is `lo = 0, hi = ∞`.
pub fn reference_clip(x: &Tensor<f64>, lo: f64, hi: f64) -> Tensor<f64> {
    Tensor {
        shape: x.shape.clone(),
        data: x.data.iter().map(|&v| v.max(lo).min(hi)).collect(),
    }
}

/// Softmax over the features of each batch item.
pub fn reference_softmax(x: &Tensor<f64>) -> Tensor<f64> {
    let f: usize = x.shape[1..].iter().product();
    let mut data = Vec::with_capacity(x.data.len());
    for row in x.data.chunks(f) {
        let m = row.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let e: Vec<f64> = row.iter().map(|v| (v - m).exp()).collect();
        let s: f64 = e.iter().sum();
        data.extend(e.iter().map(|v| v / s));
    }
    Tensor {
        shape: x.shape.clone(),
        data,
    }
}
