//! ROAD's noisy linear imputation (Rong et al. 2022; Quantus's `noisy_linear_imputation`): every
//! removed pixel becomes the weighted mean of its eight neighbours (1/6 for the four beside it,
//! 1/12 for the diagonals), removed neighbours being unknowns themselves. That is one sparse,
//! symmetric positive definite system per image, shared by its channels, solved by a sparse
//! Cholesky factorisation (nalgebra-sparse); seeded Gaussian noise is added to the solution.

use nalgebra::DMatrix;
use nalgebra_sparse::factorization::CscCholesky;
use nalgebra_sparse::{CooMatrix, CscMatrix};

use crate::error::{Error, Result};

/// The eight neighbours and their weights.
const NEIGHBOURS: [((i64, i64), f64); 8] = [
    ((1, 1), 1.0 / 12.0),
    ((0, 1), 1.0 / 6.0),
    ((-1, 1), 1.0 / 12.0),
    ((1, -1), 1.0 / 12.0),
    ((0, -1), 1.0 / 6.0),
    ((-1, -1), 1.0 / 12.0),
    ((1, 0), 1.0 / 6.0),
    ((-1, 0), 1.0 / 6.0),
];

/// `x` (`[C, H, W]`) with the pixels `removed` (flat indices into H·W, all channels) imputed
/// from their neighbours, before noise: the solution per channel, `[C, removed.len()]` in the
/// order of `removed`.
pub fn impute(x: &[f32], [c, h, w]: [usize; 3], removed: &[usize]) -> Result<Vec<f64>> {
    let k = removed.len();
    if k == 0 {
        return Ok(Vec::new());
    }
    let plane = h * w;
    let mut var = vec![usize::MAX; plane];
    for (t, &p) in removed.iter().enumerate() {
        if p >= plane || var[p] != usize::MAX {
            return Err(Error::Invalid(format!(
                "imputation: pixel {p} is outside the {h}×{w} image or given twice"
            )));
        }
        var[p] = t;
    }
    // Σ_q w_pq (v_p − v_q) = 0 over in-image neighbours q: diagonal Σ w, −w to unknowns,
    // +w · x_q of known neighbours on the right.
    let mut a = CooMatrix::new(k, k);
    let mut b = DMatrix::<f64>::zeros(k, c);
    for (t, &p) in removed.iter().enumerate() {
        let (py, px) = ((p / w) as i64, (p % w) as i64);
        let mut diagonal = 0.0;
        for ((dy, dx), weight) in NEIGHBOURS {
            let (qy, qx) = (py + dy, px + dx);
            if qy < 0 || qx < 0 || qy >= h as i64 || qx >= w as i64 {
                continue;
            }
            diagonal += weight;
            let q = qy as usize * w + qx as usize;
            match var[q] {
                usize::MAX => {
                    for ch in 0..c {
                        b[(t, ch)] += weight * x[ch * plane + q] as f64;
                    }
                }
                u => a.push(t, u, -weight),
            }
        }
        a.push(t, t, diagonal);
    }
    let a = CscMatrix::from(&a);
    let chol = CscCholesky::factor(&a).map_err(|e| {
        Error::Invalid(format!(
            "imputation: the system of {k} removed pixels is singular ({e:?}); \
             is every pixel of a {h}×{w} image removed?"
        ))
    })?;
    let v = chol.solve(&b);
    let mut out = vec![0.0; c * k];
    for ch in 0..c {
        for t in 0..k {
            out[ch * k + t] = v[(t, ch)];
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_single_hole_is_the_weighted_mean_of_its_neighbours() {
        let x: Vec<f32> = (0..9).map(|v| (v * v) as f32).collect();
        let got = impute(&x, [1, 3, 3], &[4]).unwrap();
        let want: f64 = [0, 2, 6, 8]
            .iter()
            .map(|&i| x[i] as f64 / 12.0)
            .sum::<f64>()
            + [1, 3, 5, 7].iter().map(|&i| x[i] as f64 / 6.0).sum::<f64>();
        assert!((got[0] - want).abs() < 1e-12, "{got:?} vs {want}");
    }

    #[test]
    fn a_linear_ramp_is_filled_exactly_and_channels_apart() {
        // Any affine function satisfies the symmetric mean property in the interior.
        let (h, w) = (6, 7);
        let mut x = vec![0.0f32; 2 * h * w];
        for y in 0..h {
            for v in 0..w {
                x[y * w + v] = (2 * y + 3 * v) as f32;
                x[h * w + y * w + v] = -(y as f32);
            }
        }
        let removed = [8, 9, 10, 15, 16, 17, 23];
        let got = impute(&x, [2, h, w], &removed).unwrap();
        for (t, &p) in removed.iter().enumerate() {
            assert!((got[t] - x[p] as f64).abs() < 1e-9);
            assert!((got[removed.len() + t] - x[h * w + p] as f64).abs() < 1e-9);
        }
        assert!(impute(&x, [2, h, w], &[3, 3]).is_err());
    }
}
