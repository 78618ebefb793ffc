//! `Flatten` and `Reshape` → a glimpse reshape node (or nothing, when the shape stays).

use crate::error::{Error, Result};
use crate::onnx::import::attributes::attr_i;
use crate::onnx::import::{unsupported, Importer, Val};
use crate::onnx::proto::NodeProto;
use crate::onnx::OnnxOp;

pub(crate) fn flatten<'m>(imp: &mut Importer<'m, '_>, n: &'m NodeProto, name: &str) -> Result<()> {
    let x = imp.act(n, name, 0)?;
    let input = imp.shape(x).to_vec();
    let rank = input.len() as i64 + 1;
    let axis = attr_i(n, name, "axis", 1)?;
    let axis = if axis < 0 { axis + rank } else { axis };
    if axis != 1 {
        return Err(unsupported(
            n,
            name,
            format!("only axis 1 (keep the batch dimension) is supported, got axis {axis} of a rank-{rank} input"),
        ));
    }
    if input.len() == 1 {
        return imp.set(n, Val::Node(x));
    }
    let id = imp.push_reshape(name, x, vec![input.iter().product()])?;
    imp.set(n, Val::Node(id))
}

pub(crate) fn reshape<'m>(imp: &mut Importer<'m, '_>, n: &'m NodeProto, name: &str) -> Result<()> {
    let x = imp.act(n, name, 0)?;
    let input = imp.shape(x).to_vec();
    let target = imp
        .opt_shape_i64(n, name, 1)?
        .ok_or_else(|| Error::Onnx(format!("node '{name}' (Reshape) has no shape input")))?;
    let allow_zero = attr_i(n, name, "allowzero", 0)? != 0;
    if allow_zero && target.contains(&0) {
        return Err(unsupported(
            n,
            name,
            "allowzero = 1 with a 0 in the shape (an empty tensor) is not supported".into(),
        ));
    }
    let shape = reshape_target(&target, &input, imp.batch).map_err(|why| {
        Error::Shape(format!(
            "node '{name}' (Reshape) cannot reshape [N, {}] to {target:?}: {why}",
            input
                .iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ))
    })?;
    if shape == input {
        return imp.set(n, Val::Node(x));
    }
    let id = imp.push_reshape(name, x, shape)?;
    imp.set(n, Val::Node(id))
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
        b if Some(b) == batch => {}
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
        notes: "axis 1: the batch stays first",
        import: flatten,
    },
    OnnxOp {
        op_type: "Reshape",
        layer: "Reshape",
        notes: "batch stays first; 0 and −1 in shapes",
        import: reshape,
    },
];
