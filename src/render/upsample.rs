//! Bilinear resizing of maps, as PyTorch's
//! `F.interpolate(mode="bilinear", align_corners=False)` (how Captum and pytorch-grad-cam
//! bring a CAM to the input's size).

use crate::error::{Error, Result};
use crate::model::Tensor;

/// Source indices and weights along one axis: output `i` reads `i0` with weight `l0` and
/// `i1` with weight `l1`.
struct Axis {
    i0: usize,
    i1: usize,
    l0: f32,
    l1: f32,
}

/// PyTorch's `compute_source_index_and_lambda` for `align_corners=False`, in f32 as its CPU
/// kernel computes it for f32 tensors.
fn axis(input: usize, output: usize) -> Vec<Axis> {
    if input == output {
        return (0..output)
            .map(|i| Axis {
                i0: i,
                i1: i,
                l0: 1.0,
                l1: 0.0,
            })
            .collect();
    }
    let scale = input as f32 / output as f32;
    (0..output)
        .map(|o| {
            let real = (scale * (o as f32 + 0.5) - 0.5).max(0.0);
            let i0 = (real.floor() as usize).min(input - 1);
            let l1 = (real - i0 as f32).clamp(0.0, 1.0);
            let i1 = if i0 < input - 1 { i0 + 1 } else { i0 };
            Axis {
                i0,
                i1,
                l0: 1.0 - l1,
                l1,
            }
        })
        .collect()
}

/// Resizes the last two dimensions of `map` (`[H, W]`, `[C, H, W]`, ...) to `to = (height,
/// width)` by bilinear interpolation with half-pixel centres, without antialiasing, exactly
/// as `F.interpolate(map, size=to, mode="bilinear", align_corners=False)`.
pub fn upsample(map: &Tensor<f32>, to: (usize, usize)) -> Result<Tensor<f32>> {
    let rank = map.shape.len();
    if rank < 2 {
        return Err(Error::Shape(format!(
            "upsampling needs a map of at least 2 dimensions [.., H, W], got {:?}",
            map.shape
        )));
    }
    let (h, w) = (map.shape[rank - 2], map.shape[rank - 1]);
    let (oh, ow) = to;
    if h == 0 || w == 0 {
        return Err(Error::Shape(format!(
            "cannot upsample an empty map of shape {:?}",
            map.shape
        )));
    }
    if oh == 0 || ow == 0 {
        return Err(Error::Invalid(format!(
            "upsampling target {oh}x{ow} must be positive"
        )));
    }
    let mut shape = map.shape.clone();
    shape[rank - 2] = oh;
    shape[rank - 1] = ow;
    let out_len = crate::model::checked_numel(&shape)?;
    let mut data = Vec::new();
    data.try_reserve_exact(out_len).map_err(|_| {
        Error::Invalid(format!(
            "upsampling to shape {shape:?} needs too much memory"
        ))
    })?;
    let (rows, cols) = (axis(h, oh), axis(w, ow));
    for plane in map.data.chunks_exact(h * w) {
        for r in &rows {
            let (top, bottom) = (&plane[r.i0 * w..][..w], &plane[r.i1 * w..][..w]);
            for c in &cols {
                // PyTorch's order: interpolate each row along W, then the rows along H.
                let t = top[c.i0] * c.l0 + top[c.i1] * c.l1;
                let b = bottom[c.i0] * c.l0 + bottom[c.i1] * c.l1;
                data.push(t * r.l0 + b * r.l1);
            }
        }
    }
    Tensor::new(shape, data)
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use serde_json::Value;

    use super::*;

    fn matrix(v: &Value) -> (Vec<usize>, Vec<f32>) {
        let rows = v.as_array().unwrap();
        let data: Vec<f32> = rows
            .iter()
            .flat_map(|r| {
                r.as_array()
                    .unwrap()
                    .iter()
                    .map(|x| x.as_f64().unwrap() as f32)
            })
            .collect();
        (vec![rows.len(), data.len() / rows.len()], data)
    }

    #[test]
    fn matches_torch_interpolate() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/torch_upsample.json");
        let reference: Value =
            serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        for case in reference["cases"].as_array().unwrap() {
            let (shape, data) = matrix(&case["input"]);
            let (want_shape, want) = matrix(&case["output"]);
            let to = (want_shape[0], want_shape[1]);
            let got = upsample(&Tensor::new(shape.clone(), data).unwrap(), to).unwrap();
            assert_eq!(got.shape, want_shape);
            for (i, (g, w)) in got.data.iter().zip(&want).enumerate() {
                assert!(
                    (g - w).abs() <= 1e-6 * w.abs().max(1.0),
                    "{shape:?} -> {to:?} at {i}: {g} vs {w}"
                );
            }
        }
    }

    #[test]
    fn hand_computed() {
        // [0, 1] -> 4 wide: half-pixel centres give 0, 0.25, 0.75, 1.
        let t = Tensor::new(vec![1, 2], vec![0.0, 1.0]).unwrap();
        assert_eq!(
            upsample(&t, (1, 4)).unwrap().data,
            vec![0.0, 0.25, 0.75, 1.0]
        );
        // 2x2 -> 4x4 corner block and centre.
        let t = Tensor::new(vec![2, 2], vec![0.0, 4.0, 8.0, 12.0]).unwrap();
        let u = upsample(&t, (4, 4)).unwrap();
        assert_eq!(u.data[0], 0.0);
        // Output (1, 1) sits at source (0.25, 0.25): weights 9/16, 3/16, 3/16, 1/16.
        assert_eq!(u.data[5], 0.1875 * 4.0 + 0.1875 * 8.0 + 0.0625 * 12.0);
        assert_eq!(u.data[15], 12.0);
        // Same size copies.
        assert_eq!(upsample(&t, (2, 2)).unwrap(), t);
    }

    #[test]
    fn leading_dimensions_are_planes() {
        let t = Tensor::new(vec![2, 1, 2], vec![0.0, 1.0, 10.0, 20.0]).unwrap();
        let u = upsample(&t, (1, 4)).unwrap();
        assert_eq!(u.shape, vec![2, 1, 4]);
        assert_eq!(u.data, vec![0.0, 0.25, 0.75, 1.0, 10.0, 12.5, 17.5, 20.0]);
    }

    #[test]
    fn errors() {
        let t = Tensor::new(vec![4], vec![0.0; 4]).unwrap();
        assert!(matches!(upsample(&t, (2, 2)), Err(Error::Shape(_))));
        let t = Tensor::new(vec![0, 3], vec![]).unwrap();
        assert!(matches!(upsample(&t, (2, 2)), Err(Error::Shape(_))));
        let t = Tensor::new(vec![2, 2], vec![0.0; 4]).unwrap();
        assert!(matches!(upsample(&t, (0, 2)), Err(Error::Invalid(_))));
        assert!(matches!(
            upsample(&t, (usize::MAX, 2)),
            Err(Error::Shape(_))
        ));
        assert!(matches!(
            upsample(&t, (usize::MAX / 4, 1)),
            Err(Error::Invalid(_))
        ));
    }
}
