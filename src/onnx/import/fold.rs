//! Constant folding at import: the shape arithmetic exporters leave in a graph (TorchScript's
//! `Shape → Gather → Div → Slice` for `x.chunk(2, 1)`, `Shape → Concat → Reshape` for views)
//! computed once from the static shapes, so that both of PyTorch's exporters' graphs load
//! without onnxsim. A node is folded when all its inputs are constants, or for `Shape`, when its
//! input's shape is known. glimpse runs a graph per item, as it computes at batch 1, so a batch
//! size the graph input leaves open folds as 1.

use std::borrow::Cow;

use super::attributes::{attr, attr_i, attr_ints};
use super::{unsupported, Importer, Val};
use crate::error::{Error, Result};
use crate::onnx::proto::{DataType, NodeProto, TensorProto};
use crate::onnx::tensor;

/// The operators folded when their inputs are constant.
pub(crate) const FOLDABLE: &[&str] = &[
    "Shape",
    "Gather",
    "Unsqueeze",
    "Squeeze",
    "Concat",
    "Add",
    "Sub",
    "Mul",
    "Div",
    "Mod",
    "Equal",
    "Where",
    "Cast",
    "Slice",
    "Reshape",
    "Expand",
    "Transpose",
    "ConstantOfShape",
    "Range",
    // Element-wise maths, matrix products and scatters (`fold_math`).
    "Sqrt",
    "Relu",
    "Sigmoid",
    "Exp",
    "Log",
    "Abs",
    "Neg",
    "Sign",
    "Tanh",
    "Not",
    "Reciprocal",
    "Floor",
    "Ceil",
    "Pow",
    "Less",
    "Greater",
    "LessOrEqual",
    "GreaterOrEqual",
    "Max",
    "Min",
    "And",
    "Or",
    "MatMul",
    "ScatterND",
    "GatherND",
    "Clip",
];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Kind {
    Float,
    Int,
    Bool,
}

/// A constant being folded: values in f64 (exact for the integers of shapes).
#[derive(Clone, Debug)]
pub(super) struct Folded {
    pub(super) dims: Vec<usize>,
    pub(super) data: Vec<f64>,
    pub(super) kind: Kind,
}

impl Folded {
    /// The values as integers; `None` if one is not a number.
    fn as_ints(&self) -> Option<Vec<i64>> {
        self.data
            .iter()
            .map(|&v| (!v.is_nan()).then_some(v as i64))
            .collect()
    }

    fn to_proto(&self, name: &str) -> TensorProto {
        let mut t = TensorProto {
            dims: self.dims.iter().map(|&d| d as i64).collect(),
            name: name.to_string(),
            ..TensorProto::default()
        };
        match self.kind {
            Kind::Float => {
                t.data_type = DataType::Float as i32;
                t.float_data = self.data.iter().map(|&v| v as f32).collect();
            }
            Kind::Int => {
                t.data_type = DataType::Int64 as i32;
                t.int64_data = self.data.iter().map(|&v| v as i64).collect();
            }
            Kind::Bool => {
                t.data_type = DataType::Bool as i32;
                t.int32_data = self.data.iter().map(|&v| (v != 0.0) as i32).collect();
            }
        }
        t
    }
}

fn read(imp: &Importer, t: &TensorProto) -> Result<Folded> {
    let dims: Vec<usize> = t.dims.iter().map(|&d| d.max(0) as usize).collect();
    if t.data_type == DataType::Bool as i32 {
        let n: usize = dims.iter().product();
        let data: Vec<f64> = if t.raw_data.len() == n {
            t.raw_data.iter().map(|&b| (b != 0) as u8 as f64).collect()
        } else if t.int32_data.len() == n {
            t.int32_data
                .iter()
                .map(|&v| (v != 0) as u8 as f64)
                .collect()
        } else {
            return Err(Error::Onnx(format!(
                "boolean constant '{}' holds no {n} values",
                t.name
            )));
        };
        return Ok(Folded {
            dims,
            data,
            kind: Kind::Bool,
        });
    }
    match tensor::to_i64(t, imp.base_dir) {
        Ok((d, v)) => Ok(Folded {
            dims: d,
            data: v.into_iter().map(|v| v as f64).collect(),
            kind: Kind::Int,
        }),
        Err(_) => {
            let f = tensor::to_f32(t, imp.base_dir)?;
            Ok(Folded {
                dims: f.shape,
                data: f.data.iter().map(|&v| v as f64).collect(),
                kind: Kind::Float,
            })
        }
    }
}

pub(super) fn strides(dims: &[usize]) -> Vec<usize> {
    let mut s = vec![1; dims.len()];
    for k in (0..dims.len().saturating_sub(1)).rev() {
        s[k] = s[k + 1] * dims[k + 1];
    }
    s
}

/// ONNX's multidirectional broadcast of `shapes` (right-aligned).
pub(super) fn broadcast_dims(shapes: &[&[usize]]) -> Option<Vec<usize>> {
    let rank = shapes.iter().map(|s| s.len()).max().unwrap_or(0);
    (0..rank)
        .map(|k| {
            let ds: Vec<usize> = shapes
                .iter()
                .filter_map(|s| (k + s.len()).checked_sub(rank).map(|i| s[i]))
                .collect();
            let m = ds.iter().copied().max().unwrap_or(1);
            ds.iter().all(|&d| d == m || d == 1).then_some(m)
        })
        .collect()
}

/// The value of `f` broadcast to `out`.
pub(super) fn broadcast_to(f: &Folded, out: &[usize]) -> Vec<f64> {
    let lead = out.len() - f.dims.len();
    let st = strides(&f.dims);
    let ost = strides(out);
    (0..out.iter().product())
        .map(|i: usize| {
            let mut at = 0;
            for (k, &d) in f.dims.iter().enumerate() {
                let idx = (i / ost[k + lead]) % out[k + lead];
                if d > 1 {
                    at += idx * st[k];
                }
            }
            f.data[at]
        })
        .collect()
}

fn axis_of(axis: i64, rank: usize) -> Option<usize> {
    let a = if axis < 0 { axis + rank as i64 } else { axis };
    (0..rank as i64).contains(&a).then_some(a as usize)
}

/// Folds node `n` (every input a constant, or `Shape` of a node of known shape) into a constant.
pub(crate) fn fold_node<'m>(
    imp: &mut Importer<'m, '_>,
    n: &'m NodeProto,
    name: &str,
) -> Result<()> {
    let op = n.op_type.as_str();
    let fail = |why: String| unsupported(n, name, format!("folding its constant inputs: {why}"));
    if op == "Shape" {
        let dims: Vec<f64> = match imp.input(n, name, 0)? {
            Val::Node(id) => {
                let mut dims = imp.onnx_shape(id);
                if !imp.is_whole(id) {
                    dims[0] = imp.batch.unwrap_or(1) as usize;
                }
                dims.iter().map(|&d| d as f64).collect()
            }
            Val::Const(t) => t.dims.iter().map(|&d| d as f64).collect(),
        };
        let rank = dims.len() as i64;
        let clampi = |v: i64| (if v < 0 { v + rank } else { v }).clamp(0, rank) as usize;
        let start = clampi(attr_i(n, name, "start", 0)?);
        let end = match attr(n, "end") {
            Some(_) => clampi(attr_i(n, name, "end", rank)?),
            None => rank as usize,
        };
        let part = dims[start..end.max(start)].to_vec();
        let f = Folded {
            dims: vec![part.len()],
            data: part,
            kind: Kind::Int,
        };
        return store(imp, n, f);
    }
    let mut xs = Vec::with_capacity(n.input.len());
    for (i, input) in n.input.iter().enumerate() {
        if input.is_empty() {
            xs.push(None);
            continue;
        }
        match imp.input(n, name, i)? {
            Val::Const(t) => xs.push(Some(read(imp, &t)?)),
            Val::Node(_) => {
                return Err(fail(format!(
                    "input {i} ('{input}') is computed from the graph input"
                )))
            }
        }
    }
    if op == "Clip" && xs.len() == 1 {
        // Below opset 11 the bounds are attributes; fold_math takes them as inputs.
        for bound in ["min", "max"] {
            xs.push(attr(n, bound).map(|a| Folded {
                dims: vec![],
                data: vec![a.f as f64],
                kind: Kind::Float,
            }));
        }
    }
    let ints = |f: &Folded| {
        f.as_ints()
            .ok_or_else(|| fail("an integer input is not a number".into()))
    };
    let arg = |i: usize| -> Result<&Folded> {
        xs.get(i)
            .and_then(|x| x.as_ref())
            .ok_or_else(|| fail(format!("input {i} is missing")))
    };
    if op == "GatherND" && attr_i(n, name, "batch_dims", 0)? != 0 {
        return Err(fail("GatherND with batch_dims ≠ 0".into()));
    }
    if let Some(f) = super::fold_math::fold(op, &xs).map_err(fail)? {
        return store(imp, n, f);
    }
    let f = match op {
        "Add" | "Sub" | "Mul" | "Div" | "Mod" | "Equal" => {
            let (a, b) = (arg(0)?, arg(1)?);
            let out = broadcast_dims(&[&a.dims, &b.dims]).ok_or_else(|| {
                fail(format!(
                    "shapes {:?} and {:?} do not broadcast",
                    a.dims, b.dims
                ))
            })?;
            let (va, vb) = (broadcast_to(a, &out), broadcast_to(b, &out));
            let int = a.kind != Kind::Float && b.kind != Kind::Float;
            let fmod = attr_i(n, name, "fmod", 0)? != 0;
            let data = va
                .iter()
                .zip(&vb)
                .map(|(&x, &y)| match op {
                    "Add" => x + y,
                    "Sub" => x - y,
                    "Mul" => x * y,
                    "Div" if int => (x / y).trunc(),
                    "Div" => x / y,
                    "Mod" if fmod || !int => x % y,
                    "Mod" => x - y * (x / y).floor(),
                    _ => (x == y) as u8 as f64,
                })
                .collect::<Vec<f64>>();
            if int && op == "Div" && vb.contains(&0.0) {
                return Err(fail("an integer division by zero".into()));
            }
            let kind = match (op, int) {
                ("Equal", _) => Kind::Bool,
                (_, true) => Kind::Int,
                _ => Kind::Float,
            };
            Folded {
                dims: out,
                data,
                kind,
            }
        }
        "Where" => {
            let (c, a, b) = (arg(0)?, arg(1)?, arg(2)?);
            let out = broadcast_dims(&[&c.dims, &a.dims, &b.dims])
                .ok_or_else(|| fail("the shapes do not broadcast".into()))?;
            let (vc, va, vb) = (
                broadcast_to(c, &out),
                broadcast_to(a, &out),
                broadcast_to(b, &out),
            );
            let data = (0..vc.len())
                .map(|i| if vc[i] != 0.0 { va[i] } else { vb[i] })
                .collect();
            Folded {
                dims: out,
                data,
                kind: a.kind,
            }
        }
        "Cast" => {
            let x = arg(0)?.clone();
            let to = attr_i(n, name, "to", DataType::Float as i64)?;
            let kind = match to {
                t if t == DataType::Float as i64 || t == DataType::Double as i64 => Kind::Float,
                t if t == DataType::Bool as i64 => Kind::Bool,
                _ => Kind::Int,
            };
            let data = x
                .data
                .iter()
                .map(|&v| match kind {
                    Kind::Float => v,
                    Kind::Int => v.trunc(),
                    Kind::Bool => (v != 0.0) as u8 as f64,
                })
                .collect();
            Folded {
                dims: x.dims,
                data,
                kind,
            }
        }
        "Gather" => {
            let (x, idx) = (arg(0)?, arg(1)?);
            let axis = axis_of(attr_i(n, name, "axis", 0)?, x.dims.len())
                .ok_or_else(|| fail("axis out of range".into()))?;
            let d = x.dims[axis] as i64;
            let outer: usize = x.dims[..axis].iter().product();
            let inner: usize = x.dims[axis + 1..].iter().product();
            let mut data = Vec::new();
            for o in 0..outer {
                for j in ints(idx)? {
                    let j = if j < 0 { j + d } else { j };
                    if !(0..d).contains(&j) {
                        return Err(fail(format!("index {j} out of range for size {d}")));
                    }
                    let base = (o * x.dims[axis] + j as usize) * inner;
                    data.extend_from_slice(&x.data[base..base + inner]);
                }
            }
            let dims = [&x.dims[..axis], &idx.dims[..], &x.dims[axis + 1..]].concat();
            Folded {
                dims,
                data,
                kind: x.kind,
            }
        }
        "Unsqueeze" | "Squeeze" => {
            let x = arg(0)?.clone();
            let axes = match xs.get(1).and_then(|a| a.as_ref()) {
                Some(a) => Some(ints(a)?),
                None => attr_ints(n, name, "axes")?,
            };
            let mut dims = x.dims.clone();
            if op == "Unsqueeze" {
                let axes = axes.ok_or_else(|| fail("no axes".into()))?;
                let rank = dims.len() + axes.len();
                let mut at: Vec<usize> = axes
                    .iter()
                    .map(|&a| axis_of(a, rank).ok_or_else(|| fail("axis out of range".into())))
                    .collect::<Result<_>>()?;
                at.sort_unstable();
                for a in at {
                    dims.insert(a, 1);
                }
            } else {
                let rank = dims.len();
                let gone: Vec<usize> = match axes {
                    Some(a) => a
                        .iter()
                        .map(|&a| axis_of(a, rank).ok_or_else(|| fail("axis out of range".into())))
                        .collect::<Result<_>>()?,
                    None => (0..rank).filter(|&k| dims[k] == 1).collect(),
                };
                dims = (0..rank)
                    .filter(|k| !gone.contains(k))
                    .map(|k| dims[k])
                    .collect();
            }
            Folded { dims, ..x }
        }
        "Concat" => {
            let parts: Vec<&Folded> = xs.iter().flatten().collect();
            let first = parts.first().ok_or_else(|| fail("no inputs".into()))?;
            let axis = axis_of(attr_i(n, name, "axis", 0)?, first.dims.len())
                .ok_or_else(|| fail("axis out of range".into()))?;
            let outer: usize = first.dims[..axis].iter().product();
            let mut dims = first.dims.clone();
            dims[axis] = parts.iter().map(|p| p.dims[axis]).sum();
            let mut data = Vec::new();
            for o in 0..outer {
                for p in &parts {
                    let chunk: usize = p.dims[axis..].iter().product();
                    data.extend_from_slice(&p.data[o * chunk..(o + 1) * chunk]);
                }
            }
            Folded {
                dims,
                data,
                kind: first.kind,
            }
        }
        "Slice" => {
            let x = arg(0)?;
            let (starts, ends) = (ints(arg(1)?)?, ints(arg(2)?)?);
            let axes = match xs.get(3).and_then(|a| a.as_ref()) {
                Some(a) => ints(a)?,
                None => (0..starts.len() as i64).collect(),
            };
            let steps = match xs.get(4).and_then(|a| a.as_ref()) {
                Some(s) => ints(s)?,
                None => vec![1; starts.len()],
            };
            let mut ranges: Vec<(usize, usize, i64)> = x.dims.iter().map(|&d| (0, d, 1)).collect();
            for k in 0..starts.len() {
                let a = axis_of(axes[k], x.dims.len())
                    .ok_or_else(|| fail("axis out of range".into()))?;
                ranges[a] =
                    match crate::layers::slice::onnx_range(starts[k], ends[k], steps[k], x.dims[a])
                    {
                        Some(r) => (r.start, r.len, r.step),
                        None => (0, 0, 1),
                    };
            }
            let dims: Vec<usize> = ranges.iter().map(|r| r.1).collect();
            let (st, ost) = (strides(&x.dims), strides(&dims));
            let data = (0..dims.iter().product())
                .map(|i: usize| {
                    let at: i64 = (0..dims.len())
                        .map(|k| {
                            let idx = ((i / ost[k]) % dims[k]) as i64;
                            (ranges[k].0 as i64 + idx * ranges[k].2) * st[k] as i64
                        })
                        .sum();
                    x.data[at as usize]
                })
                .collect();
            Folded {
                dims,
                data,
                kind: x.kind,
            }
        }
        "Reshape" => {
            let (x, shape) = (arg(0)?, ints(arg(1)?)?);
            let numel: usize = x.dims.iter().product();
            let mut dims: Vec<usize> = shape
                .iter()
                .enumerate()
                .map(|(k, &s)| {
                    if s == 0 {
                        x.dims.get(k).copied().unwrap_or(0)
                    } else {
                        s.max(1) as usize
                    }
                })
                .collect();
            if let Some(k) = shape.iter().position(|&s| s == -1) {
                let rest: usize = dims
                    .iter()
                    .enumerate()
                    .filter(|&(j, _)| j != k)
                    .map(|(_, &d)| d)
                    .product();
                dims[k] = numel / rest.max(1);
            }
            if dims.iter().product::<usize>() != numel {
                return Err(fail(format!("{:?} cannot take {numel} values", shape)));
            }
            Folded { dims, ..x.clone() }
        }
        "Expand" => {
            let (x, shape) = (arg(0)?, ints(arg(1)?)?);
            let target: Vec<usize> = shape.iter().map(|&d| d.max(0) as usize).collect();
            let out = broadcast_dims(&[&x.dims, &target])
                .ok_or_else(|| fail("the shapes do not broadcast".into()))?;
            Folded {
                data: broadcast_to(x, &out),
                dims: out,
                kind: x.kind,
            }
        }
        "Transpose" => {
            let x = arg(0)?;
            let rank = x.dims.len();
            let perm: Vec<usize> = match attr_ints(n, name, "perm")? {
                Some(p) => p.iter().map(|&a| a.max(0) as usize).collect(),
                None => (0..rank).rev().collect(),
            };
            let mut sorted = perm.clone();
            sorted.sort_unstable();
            if sorted != (0..rank).collect::<Vec<_>>() {
                return Err(fail(format!("perm {perm:?} of a rank-{rank} constant")));
            }
            let dims: Vec<usize> = perm.iter().map(|&a| x.dims[a]).collect();
            let (st, ost) = (strides(&x.dims), strides(&dims));
            let data = (0..x.data.len())
                .map(|i| {
                    let at: usize = (0..rank)
                        .map(|k| ((i / ost[k]) % dims[k]) * st[perm[k]])
                        .sum();
                    x.data[at]
                })
                .collect();
            Folded {
                dims,
                data,
                kind: x.kind,
            }
        }
        "ConstantOfShape" => {
            let dims: Vec<usize> = ints(arg(0)?)?.iter().map(|&d| d.max(0) as usize).collect();
            let value = match attr(n, "value").and_then(|a| a.t.as_ref()) {
                Some(t) => read(imp, t)?,
                None => Folded {
                    dims: vec![1],
                    data: vec![0.0],
                    kind: Kind::Float,
                },
            };
            let v = value.data.first().copied().unwrap_or(0.0);
            Folded {
                data: vec![v; dims.iter().product()],
                dims,
                kind: value.kind,
            }
        }
        "Range" => {
            let (start, limit, delta) = (arg(0)?, arg(1)?, arg(2)?);
            let (s, l, d) = (start.data[0], limit.data[0], delta.data[0]);
            if d == 0.0 {
                return Err(fail("a Range with delta 0".into()));
            }
            let count = ((l - s) / d).ceil().max(0.0) as usize;
            Folded {
                dims: vec![count],
                data: (0..count).map(|k| s + k as f64 * d).collect(),
                kind: start.kind,
            }
        }
        _ => return Err(fail("glimpse does not fold this operator".into())),
    };
    store(imp, n, f)
}

fn store<'m>(imp: &mut Importer<'m, '_>, n: &'m NodeProto, f: Folded) -> Result<()> {
    let t = f.to_proto(&n.output[0]);
    imp.set(n, Val::Const(Cow::Owned(t)))
}
