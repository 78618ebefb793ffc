//! More of constant folding (see `fold`): element-wise maths, comparisons, matrix products and
//! ScatterND on constants — what modules compute in their constructors and exporters record as
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

/// ONNX ScatterND (no reduction): `data` with the slices `indices` name replaced by `updates`.
fn scatter_nd(data: &Folded, indices: &Folded, updates: &Folded) -> Result<Folded, String> {
    let q = indices.dims.len();
    let k = *indices
        .dims
        .last()
        .ok_or("ScatterND's indices are a scalar")?;
    if q == 0 || k > data.dims.len() {
        return Err(format!(
            "ScatterND indices of shape {:?} into data of shape {:?}",
            indices.dims, data.dims
        ));
    }
    let slice: usize = data.dims[k..].iter().product();
    let st = strides(&data.dims);
    let mut out = data.data.clone();
    for (s, index) in indices.data.chunks(k.max(1)).enumerate() {
        let mut at = 0usize;
        for (axis, &i) in index.iter().enumerate() {
            let d = data.dims[axis] as i64;
            let i = if i < 0.0 { i as i64 + d } else { i as i64 };
            if !(0..d).contains(&i) {
                return Err(format!(
                    "ScatterND index {i} is out of range on axis {axis}"
                ));
            }
            at += i as usize * st[axis];
        }
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
        let p = fold("Pow", &[t(&[2], &[4., 9.]), t(&[], &[-0.5])])
            .unwrap()
            .unwrap();
        assert_eq!(p.data, [0.5, 1.0 / 3.0]);
        let r = fold("Relu", &[t(&[2], &[-1., 2.])]).unwrap().unwrap();
        assert_eq!(r.data, [0., 2.]);
        assert!(fold("Conv", &[]).unwrap().is_none());
        assert!(fold("MatMul", &[t(&[2, 3], &[0.; 6]), t(&[2, 1], &[0.; 2])]).is_err());
    }
}
