//! f64 references of the pooling VJPs.

use super::Pool2d;
use crate::model::Tensor;

/// Adjoint of average pooling: each output's value divided by its divisor, spread over its
/// window; shaped like `x`.
pub(super) fn avg_adjoint(p: &Pool2d, g: &Tensor<f64>, x: &Tensor<f64>) -> Tensor<f64> {
    let (c, h, w) = (x.shape[1], x.shape[2], x.shape[3]);
    let n = x.shape[0];
    let (oh, ow) = (g.shape[2], g.shape[3]);
    let mut out = Tensor::zeros(x.shape.clone());
    for plane in 0..n * c {
        for i in 0..oh {
            for j in 0..ow {
                let (y0, y1, x0, x1, div) = p.window(i, j, h, w);
                let v = g.data[(plane * oh + i) * ow + j] / div as f64;
                for yy in y0..y1 {
                    for xx in x0..x1 {
                        out.data[(plane * h + yy) * w + xx] += v;
                    }
                }
            }
        }
    }
    out
}

/// Index (in `x`) of the first row-major maximum of output (i, j)'s window in `plane`.
fn first_max(p: &Pool2d, x: &Tensor<f64>, plane: usize, i: usize, j: usize) -> usize {
    let (h, w) = (x.shape[2], x.shape[3]);
    let (y0, y1, x0, x1, _) = p.window(i, j, h, w);
    let mut best = (plane * h + y0) * w + x0;
    for yy in y0..y1 {
        for xx in x0..x1 {
            let a = (plane * h + yy) * w + xx;
            if x.data[a] > x.data[best] {
                best = a;
            }
        }
    }
    best
}

/// Each window's value to its maximum: all to the first (row-major) maximum when `first` (the
/// gradient, PyTorch's tie rule), else split equally among tied maxima (winner-take-all).
pub(super) fn max_winner(
    p: &Pool2d,
    x: &Tensor<f64>,
    y: &Tensor<f64>,
    g: &Tensor<f64>,
    first: bool,
) -> Tensor<f64> {
    let (h, w) = (x.shape[2], x.shape[3]);
    let (oh, ow) = (y.shape[2], y.shape[3]);
    let planes = x.shape[0] * x.shape[1];
    let mut out = Tensor::zeros(x.shape.clone());
    for plane in 0..planes {
        for i in 0..oh {
            for j in 0..ow {
                let o = (plane * oh + i) * ow + j;
                if first {
                    out.data[first_max(p, x, plane, i, j)] += g.data[o];
                    continue;
                }
                let (y0, y1, x0, x1, _) = p.window(i, j, h, w);
                let winners: Vec<usize> = (y0..y1)
                    .flat_map(|yy| (x0..x1).map(move |xx| (plane * h + yy) * w + xx))
                    .filter(|&a| x.data[a] == y.data[o])
                    .collect();
                for &a in &winners {
                    out.data[a] += g.data[o] / winners.len() as f64;
                }
            }
        }
    }
    out
}

/// Captum's DeepLIFT multiplier for max pooling: with m = max(y, y_r), each window's
/// g · (m − y_r) goes to the input's first maximum and g · (y − m) to the reference's, the sum
/// divided by Δx = x − r; the plain gradient where |Δx| < 1e-10.
pub(super) fn max_rescale(
    p: &Pool2d,
    x: &Tensor<f64>,
    y: &Tensor<f64>,
    r: &Tensor<f64>,
    yr: &Tensor<f64>,
    g: &Tensor<f64>,
) -> Tensor<f64> {
    let (oh, ow) = (y.shape[2], y.shape[3]);
    let planes = x.shape[0] * x.shape[1];
    let mut acc = vec![0.0; x.data.len()];
    let plain = max_winner(p, x, y, g, true);
    for plane in 0..planes {
        for i in 0..oh {
            for j in 0..ow {
                let o = (plane * oh + i) * ow + j;
                let m = y.data[o].max(yr.data[o]);
                acc[first_max(p, x, plane, i, j)] += g.data[o] * (m - yr.data[o]);
                acc[first_max(p, r, plane, i, j)] += g.data[o] * (y.data[o] - m);
            }
        }
    }
    let data = acc
        .iter()
        .enumerate()
        .map(|(e, &a)| {
            let d = x.data[e] - r.data[e];
            if d.abs() < 1e-10 {
                plain.data[e]
            } else {
                a / d
            }
        })
        .collect();
    Tensor {
        shape: x.shape.clone(),
        data,
    }
}
