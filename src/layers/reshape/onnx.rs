//! `Flatten` and `Reshape` → a glimpse reshape node (or nothing, when the shape stays).

use crate::error::{Error, Result};
use crate::model::{NodeId, Op};
use crate::onnx::import::attributes::{attr_i, attr_ints};
use crate::onnx::import::{unsupported, Importer, Val};
use crate::onnx::proto::NodeProto;
use crate::onnx::OnnxOp;

pub(crate) fn flatten<'m>(imp: &mut Importer<'m, '_>, n: &'m NodeProto, name: &str) -> Result<()> {
    let x = imp.act_any(n, name, 0)?;
    let whole_shape = imp.onnx_shape(x);
    let rank = whole_shape.len() as i64;
    let axis = attr_i(n, name, "axis", 1)?;
    let axis = if axis < 0 { axis + rank } else { axis };
    if !(0..=rank).contains(&axis) {
        return Err(unsupported(
            n,
            name,
            format!("axis {axis} of a rank-{rank} input"),
        ));
    }
    let (a, b) = whole_shape.split_at(axis as usize);
    let mut target = vec![
        a.iter().product::<usize>() as i64,
        b.iter().product::<usize>() as i64,
    ];
    if axis == 1 && !imp.is_whole(x) {
        target[0] = 0; // the batch stays first, whatever its size
    }
    reshape_to(imp, n, name, x, &target)
}

pub(crate) fn reshape<'m>(imp: &mut Importer<'m, '_>, n: &'m NodeProto, name: &str) -> Result<()> {
    let x = imp.act_any(n, name, 0)?;
    let target = imp
        .opt_const_i64(n, name, 1)?
        .ok_or_else(|| Error::Onnx(format!("node '{name}' (Reshape) has no shape input")))?;
    let allow_zero = attr_i(n, name, "allowzero", 0)? != 0;
    if allow_zero && target.contains(&0) {
        return Err(unsupported(
            n,
            name,
            "allowzero = 1 with a 0 in the shape (an empty tensor) is not supported".into(),
        ));
    }
    reshape_to(imp, n, name, x, &target)
}

/// `Squeeze` and `Unsqueeze` of an activation: reshapes that drop or add axes of size 1.
pub(crate) fn squeeze<'m>(imp: &mut Importer<'m, '_>, n: &'m NodeProto, name: &str) -> Result<()> {
    let x = imp.act_any(n, name, 0)?;
    let shape = imp.onnx_shape(x);
    let unsqueeze = n.op_type == "Unsqueeze";
    // Opset 13 moved `axes` from an attribute to an input.
    let axes = match imp.opt_const_i64(n, name, 1)? {
        Some(a) => Some(a),
        None => attr_ints(n, name, "axes")?,
    };
    let out_rank = if unsqueeze {
        shape.len() + axes.as_ref().map_or(0, |a| a.len())
    } else {
        shape.len()
    } as i64;
    let norm = |a: i64| if a < 0 { a + out_rank } else { a };
    let mut keeps_batch = !imp.is_whole(x);
    let target: Vec<usize> = match (unsqueeze, axes) {
        (true, Some(axes)) => {
            let axes: Vec<i64> = axes.iter().map(|&a| norm(a)).collect();
            keeps_batch &= !axes.contains(&0);
            let mut rest = shape.iter();
            (0..out_rank)
                .map(|k| {
                    if axes.contains(&k) {
                        Some(1)
                    } else {
                        rest.next().copied()
                    }
                })
                .collect::<Option<Vec<usize>>>()
                .ok_or_else(|| unsupported(n, name, format!("axes {axes:?} do not fit")))?
        }
        (true, None) => return Err(unsupported(n, name, "Unsqueeze without axes".into())),
        (false, axes) => {
            let axes: Option<Vec<i64>> = axes.map(|a| a.iter().map(|&a| norm(a)).collect());
            let mut out = Vec::with_capacity(shape.len());
            for (k, &d) in shape.iter().enumerate() {
                let drop = axes.as_ref().map_or(d == 1, |a| a.contains(&(k as i64)));
                keeps_batch &= !(k == 0 && drop);
                if drop && d != 1 {
                    return Err(unsupported(
                        n,
                        name,
                        format!("axis {k} has size {d}, not 1 (shape {shape:?} at batch 1)"),
                    ));
                }
                if !drop {
                    out.push(d);
                }
            }
            out
        }
    };
    let mut target: Vec<i64> = target.iter().map(|&d| d as i64).collect();
    if keeps_batch {
        target[0] = 0; // the batch stays first, whatever its size
    }
    reshape_to(imp, n, name, x, &target)
}

/// Reshapes `x` to the ONNX `target`: keeping the batch first where the target does, else in
/// whole form (the batch merged with, or moved among, other axes).
fn reshape_to<'m>(
    imp: &mut Importer<'m, '_>,
    n: &'m NodeProto,
    name: &str,
    x: NodeId,
    target: &[i64],
) -> Result<()> {
    let fail = |imp: &Importer, why: String| {
        Error::Shape(format!(
            "node '{name}' ({}) cannot reshape {:?} (at batch 1) to {target:?}: {why}",
            n.op_type,
            imp.onnx_shape(x)
        ))
    };
    if let Some(l) = (!imp.is_whole(x)).then_some(x).or_else(|| imp.lead(x)) {
        let input = imp.shape(l).to_vec();
        if let Ok(shape) = reshape_target(target, &input, imp.batch) {
            if shape == input {
                return imp.set(n, Val::Node(l));
            }
            let id = imp.push_reshape(name, l, shape)?;
            return imp.set(n, Val::Node(id));
        }
    }
    let w = imp.act_whole(n, name, 0)?;
    let input = imp.shape(w).to_vec();
    let shape = whole_target(target, &input).map_err(|why| fail(imp, why))?;
    if shape == input {
        return imp.set(n, Val::Node(w));
    }
    let op = Op::Reshape(super::Reshape { shape });
    imp.push_form(n, name, op, vec![w], true)?;
    Ok(())
}

/// The shape a Reshape to `target` gives a tensor of shape `input` (both whole, at batch 1):
/// `0` copies a dimension, `-1` is inferred.
fn whole_target(target: &[i64], input: &[usize]) -> std::result::Result<Vec<usize>, String> {
    let mut shape = Vec::with_capacity(target.len());
    for (i, &d) in target.iter().enumerate() {
        match d {
            0 => shape.push(*input.get(i).ok_or_else(|| {
                format!("dimension {i} is 0 but the input has no such dimension")
            })?),
            -1 => shape.push(0),
            d if d > 0 => shape.push(d as usize),
            d => return Err(format!("dimension {d} is invalid")),
        }
    }
    infer(&mut shape, target, input.iter().product())?;
    Ok(shape)
}

/// Fills the one `-1` of `target` (0 in `shape` there) so that `shape` holds `numel` values.
fn infer(shape: &mut [usize], target: &[i64], numel: usize) -> std::result::Result<(), String> {
    let holes: Vec<usize> = (0..target.len()).filter(|&i| target[i] == -1).collect();
    let known: usize = (0..shape.len())
        .filter(|i| !holes.contains(i))
        .map(|i| shape[i])
        .product();
    match holes.as_slice() {
        [] if known == numel => Ok(()),
        [] => Err(format!("it holds {known} values, the input {numel}")),
        [h] if known > 0 && numel.is_multiple_of(known) => {
            shape[*h] = numel / known;
            Ok(())
        }
        [_] => Err(format!("{numel} values do not divide into {known}")),
        _ => Err("two dimensions are -1".into()),
    }
}

/// The per-item shape a Reshape to `target` gives an input `[N, ...input]`: `0` copies a
/// dimension, `-1` is inferred, and the batch dimension must stay first (as `0`, `-1`, or the
/// graph input's fixed batch size).
fn reshape_target(
    target: &[i64],
    input: &[usize],
    batch: Option<i64>,
) -> std::result::Result<Vec<usize>, String> {
    let Some((&first, rest)) = target.split_first() else {
        return Err("the shape is empty".into());
    };
    let numel: usize = input.iter().product();
    match first {
        0 => {}
        -1 => {
            if rest.contains(&-1) {
                return Err("two dimensions are -1".into());
            }
        }
        // An open batch folds as 1 (the graph runs per item, as at batch 1).
        b if b == batch.unwrap_or(1) => {}
        b => {
            return Err(format!(
                "its first dimension {b} would change the batch dimension; use 0 or -1 there"
            ))
        }
    }
    let mut shape = Vec::with_capacity(rest.len());
    let mut infer = None;
    for (i, &d) in rest.iter().enumerate() {
        match d {
            0 => shape.push(*input.get(i).ok_or_else(|| {
                format!(
                    "dimension {} is 0 but the input has no such dimension",
                    i + 1
                )
            })?),
            -1 if infer.is_none() => {
                infer = Some(i);
                shape.push(1);
            }
            -1 => return Err("two dimensions are -1".into()),
            d if d > 0 => {
                shape.push(usize::try_from(d).map_err(|_| format!("dimension {d} is too large"))?)
            }
            d => return Err(format!("dimension {d} is invalid")),
        }
    }
    let known = shape
        .iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .ok_or("the shape overflows")?;
    if let Some(i) = infer {
        if known == 0 || !numel.is_multiple_of(known) {
            return Err(format!(
                "{numel} values per item do not divide into {known}"
            ));
        }
        shape[i] = numel / known;
    } else if known != numel {
        return Err(format!(
            "it holds {known} values per item, the input {numel}"
        ));
    }
    Ok(shape)
}

/// The ONNX operators imported as [`super::Reshape`].
pub(crate) const ONNX: &[OnnxOp] = &[
    OnnxOp {
        op_type: "Flatten",
        layer: "Reshape",
        notes: "any axis",
        import: flatten,
    },
    OnnxOp {
        op_type: "Reshape",
        layer: "Reshape",
        notes: "0 and −1 in shapes; the batch may merge into another axis (attention's heads)",
        import: reshape,
    },
    OnnxOp {
        op_type: "Squeeze",
        layer: "Reshape",
        notes: "axes of size 1, as input or attribute",
        import: squeeze,
    },
    OnnxOp {
        op_type: "Unsqueeze",
        layer: "Reshape",
        notes: "",
        import: squeeze,
    },
];
