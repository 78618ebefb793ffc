//! More of constant folding (see `fold`): element-wise maths, comparisons, matrix products,
//! Clip, ScatterND and GatherND (`batch_dims` 0) on constants — what modules compute in their constructors and exporters record as
//! graph nodes (Swin's shifted-window masks, Swin V2's position-bias MLP, `head_dim ** -0.5`).

use super::fold::{broadcast_dims, broadcast_to, strides, Folded, Kind};

/// `Some(value)` of `op` on constant inputs `xs` if this module folds `op`; errors say why not.
pub(super) fn fold(op: &str, xs: &[Option<Folded>]) -> Result<Option<Folded>, String> {
    let arg = |i: usize| {
        xs.get(i)
            .and_then(|x| x.as_ref())
            .ok_or_else(|| format!("input {i} is missing"))
    };
    let unary = |f: fn(f64) -> f64, kind: Option<Kind>| -> Result<Option<Folded>, String> {
        let x = arg(0)?;
        Ok(Some(Folded {
            dims: x.dims.clone(),
            data: x.data.iter().map(|&v| f(v)).collect(),
            kind: kind.unwrap_or(x.kind),
        }))
    };
    let float = Some(Kind::Float);
    match op {
        "Sqrt" => unary(f64::sqrt, float),
        "Relu" => unary(|v| v.max(0.0), None),
        "Sigmoid" => unary(|v| 1.0 / (1.0 + (-v).exp()), float),
        "Exp" => unary(f64::exp, float),
        "Log" => unary(f64::ln, float),
        "Abs" => unary(f64::abs, None),
        "Neg" => unary(|v| -v, None),
        "Sign" => unary(|v| if v == 0.0 { 0.0 } else { v.signum() }, None),
        "Tanh" => unary(f64::tanh, float),
        "Reciprocal" => unary(|v| 1.0 / v, float),
        "Floor" => unary(f64::floor, None),
        "Ceil" => unary(f64::ceil, None),
        "Not" => unary(|v| (v == 0.0) as u8 as f64, Some(Kind::Bool)),
        "Pow" | "Less" | "Greater" | "LessOrEqual" | "GreaterOrEqual" | "Max" | "Min" | "And"
        | "Or" => {
            if matches!(op, "Max" | "Min") && xs.len() != 2 {
                return Err(format!("{op} of {} inputs (glimpse folds two)", xs.len()));
            }
            let (a, b) = (arg(0)?, arg(1)?);
            let out = broadcast_dims(&[&a.dims, &b.dims])
                .ok_or_else(|| format!("shapes {:?} and {:?} do not broadcast", a.dims, b.dims))?;
            let (va, vb) = (broadcast_to(a, &out), broadcast_to(b, &out));
            let test = |t: bool| t as u8 as f64;
            let data = va
                .iter()
                .zip(&vb)
                .map(|(&x, &y)| match op {
                    "Pow" => x.powf(y),
                    "Less" => test(x < y),
                    "Greater" => test(x > y),
                    "LessOrEqual" => test(x <= y),
                    "GreaterOrEqual" => test(x >= y),
                    "Max" => x.max(y),
                    "Min" => x.min(y),
                    "And" => test(x != 0.0 && y != 0.0),
                    _ => test(x != 0.0 || y != 0.0),
                })
                .collect();
            let kind = match op {
                "Pow" | "Max" | "Min" => a.kind,
                _ => Kind::Bool,
            };
            Ok(Some(Folded {
                dims: out,
                data,
                kind,
            }))
        }
        "MatMul" => matmul(arg(0)?, arg(1)?).map(Some),
        "ScatterND" => scatter_nd(arg(0)?, arg(1)?, arg(2)?).map(Some),
        "GatherND" => gather_nd(arg(0)?, arg(1)?).map(Some),
        "Clip" => {
            let bound = |i: usize, or: f64| match xs.get(i).and_then(|b| b.as_ref()) {
                Some(b) if b.data.len() == 1 => Ok(b.data[0]),
                Some(_) => Err(format!("Clip's bound {i} is not one value")),
                None => Ok(or),
            };
            let (lo, hi) = (bound(1, f64::NEG_INFINITY)?, bound(2, f64::INFINITY)?);
            let x = arg(0)?;
            Ok(Some(Folded {
                dims: x.dims.clone(),
                data: x.data.iter().map(|&v| v.max(lo).min(hi)).collect(),
                kind: x.kind,
            }))
        }
        _ => Ok(None),
    }
}

/// ONNX MatMul of two constants of rank ≥ 2, the leading axes broadcasting.
fn matmul(a: &Folded, b: &Folded) -> Result<Folded, String> {
    let (ra, rb) = (a.dims.len(), b.dims.len());
    if ra < 2 || rb < 2 || a.dims[ra - 1] != b.dims[rb - 2] {
        return Err(format!(
            "MatMul of shapes {:?} and {:?} (glimpse folds matrices whose inner sizes agree)",
            a.dims, b.dims
        ));
    }
    let (m, k, n) = (a.dims[ra - 2], a.dims[ra - 1], b.dims[rb - 1]);
    let lead = broadcast_dims(&[&a.dims[..ra - 2], &b.dims[..rb - 2]])
        .ok_or_else(|| format!("the leading axes of {:?} and {:?} differ", a.dims, b.dims))?;
    // Each input broadcast to [..lead, its matrix].
    let full = |f: &Folded, r: usize, c: usize| {
        let mut dims = lead.clone();
        dims.extend([r, c]);
        broadcast_to(f, &dims)
    };
    let (va, vb) = (full(a, m, k), full(b, k, n));
    let count: usize = lead.iter().product();
    let mut data = vec![0.0; count * m * n];
    for l in 0..count {
        for i in 0..m {
            for j in 0..n {
                data[(l * m + i) * n + j] = (0..k)
                    .map(|t| va[(l * m + i) * k + t] * vb[(l * k + t) * n + j])
                    .sum();
            }
        }
    }
    let mut dims = lead;
    dims.extend([m, n]);
    Ok(Folded {
        dims,
        data,
        kind: a.kind,
    })
}

/// The flat offset of the slice one ScatterND / GatherND index (its last axis) names in `data`.
fn slice_at(data: &Folded, index: &[f64], op: &str) -> Result<usize, String> {
    let st = strides(&data.dims);
    let mut at = 0usize;
    for (axis, &i) in index.iter().enumerate() {
        let d = data.dims[axis] as i64;
        let i = if i < 0.0 { i as i64 + d } else { i as i64 };
        if !(0..d).contains(&i) {
            return Err(format!("{op} index {i} is out of range on axis {axis}"));
        }
        at += i as usize * st[axis];
    }
    Ok(at)
}

/// The index length `k` of ScatterND / GatherND indices into `data` (their last axis).
fn index_len(data: &Folded, indices: &Folded, op: &str) -> Result<usize, String> {
    match indices.dims.last() {
        Some(&k) if (1..=data.dims.len()).contains(&k) => Ok(k),
        _ => Err(format!(
            "{op} indices of shape {:?} into data of shape {:?}",
            indices.dims, data.dims
        )),
    }
}

/// ONNX GatherND with `batch_dims` 0: the slices of `data` that `indices` name, shaped
/// `indices.dims[..q-1] ++ data.dims[k..]`.
fn gather_nd(data: &Folded, indices: &Folded) -> Result<Folded, String> {
    let k = index_len(data, indices, "GatherND")?;
    let slice: usize = data.dims[k..].iter().product();
    let mut out = Vec::with_capacity(indices.data.len() / k * slice);
    for index in indices.data.chunks(k) {
        let at = slice_at(data, &index[..k], "GatherND")?;
        out.extend_from_slice(&data.data[at..at + slice]);
    }
    let q = indices.dims.len();
    let mut dims = indices.dims[..q - 1].to_vec();
    dims.extend_from_slice(&data.dims[k..]);
    Ok(Folded {
        dims,
        data: out,
        kind: data.kind,
    })
}

/// ONNX ScatterND (no reduction): `data` with the slices `indices` name replaced by `updates`.
fn scatter_nd(data: &Folded, indices: &Folded, updates: &Folded) -> Result<Folded, String> {
    let k = index_len(data, indices, "ScatterND")?;
    let slice: usize = data.dims[k..].iter().product();
    let mut out = data.data.clone();
    for (s, index) in indices.data.chunks(k).enumerate() {
        let at = slice_at(data, &index[..k], "ScatterND")?;
        let src = updates
            .data
            .get(s * slice..(s + 1) * slice)
            .ok_or("ScatterND has fewer updates than its indices name")?;
        out[at..at + slice].copy_from_slice(src);
    }
    Ok(Folded {
        dims: data.dims.clone(),
        data: out,
        kind: data.kind,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(dims: &[usize], data: &[f64]) -> Option<Folded> {
        Some(Folded {
            dims: dims.to_vec(),
            data: data.to_vec(),
            kind: Kind::Float,
        })
    }

    #[test]
    fn constants_fold_as_onnx_defines() {
        let mm = fold(
            "MatMul",
            &[t(&[2, 2], &[1., 2., 3., 4.]), t(&[2, 1], &[1., 1.])],
        )
        .unwrap();
        assert_eq!(mm.unwrap().data, [3., 7.]);
        let s = fold(
            "ScatterND",
            &[
                t(&[2, 2], &[0.; 4]),
                t(&[1, 1], &[1.]),
                t(&[1, 2], &[5., 6.]),
            ],
        )
        .unwrap()
        .unwrap();
        assert_eq!(s.data, [0., 0., 5., 6.]);
        let g = fold(
            "GatherND",
            &[
                t(&[2, 2], &[1., 2., 3., 4.]),
                t(&[3, 2], &[1., 0., 0., 1., -1., -1.]),
            ],
        )
        .unwrap()
        .unwrap();
        assert_eq!(
            (g.dims.as_slice(), g.data.as_slice()),
            (&[3][..], &[3., 2., 4.][..])
        );
        let rows = fold(
            "GatherND",
            &[t(&[2, 2], &[1., 2., 3., 4.]), t(&[1, 1], &[1.])],
        )
        .unwrap()
        .unwrap();
        assert_eq!(
            (rows.dims.as_slice(), rows.data.as_slice()),
            (&[1, 2][..], &[3., 4.][..])
        );
        assert!(fold("GatherND", &[t(&[2], &[1., 2.]), t(&[1], &[2.])]).is_err());
        let p = fold("Pow", &[t(&[2], &[4., 9.]), t(&[], &[-0.5])])
            .unwrap()
            .unwrap();
        assert_eq!(p.data, [0.5, 1.0 / 3.0]);
        let c = fold("Clip", &[t(&[3], &[-1., 2., 9.]), None, t(&[], &[4.])])
            .unwrap()
            .unwrap();
        assert_eq!(c.data, [-1., 2., 4.]);
        let r = fold("Relu", &[t(&[2], &[-1., 2.])]).unwrap().unwrap();
        assert_eq!(r.data, [0., 2.]);
        assert!(fold("Conv", &[]).unwrap().is_none());
        assert!(fold("MatMul", &[t(&[2, 3], &[0.; 6]), t(&[2, 1], &[0.; 2])]).is_err());
    }
}
