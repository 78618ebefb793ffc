//! `Gemm` and `MatMul` → [`Dense`], and a constant `Add` right after a MatMul as its bias.

use crate::error::{Error, Result};
use crate::layers::{Dense, TokenDense};
use crate::model::{NodeId, Op, Tensor};
use crate::onnx::import::attributes::{attr_f, attr_i};
use crate::onnx::import::{unsupported, Importer, Val};
use crate::onnx::proto::{NodeProto, TensorProto};
use crate::onnx::tensor;
use crate::onnx::OnnxOp;

pub(crate) fn gemm<'m>(imp: &mut Importer<'m, '_>, n: &'m NodeProto, name: &str) -> Result<()> {
    if attr_i(n, name, "transA", 0)? != 0 {
        return Err(unsupported(
            n,
            name,
            "transA = 1 is not supported; the activation must be A, [N, in]".into(),
        ));
    }
    let a = match imp.input(n, name, 0)? {
        Val::Node(id) => imp
            .lead(id)
            .filter(|&l| imp.shape(l).len() == 1)
            .unwrap_or(id),
        Val::Const(_) => {
            return Err(unsupported(
                n,
                name,
                "A is a constant; glimpse needs the activation as A and the weight as B".into(),
            ))
        }
    };
    // A in whole form is `[rows, in]` per item (tokens the graph merged with the batch).
    let whole = imp.is_whole(a);
    if !whole {
        flat_input(imp, name, "Gemm", a)?;
    }
    let b = imp.const_f32(n, name, 1)?;
    if b.shape.len() != 2 {
        return Err(Error::Onnx(format!(
            "node '{name}' (Gemm): B must be 2-D, has shape {:?}",
            b.shape
        )));
    }
    let trans_b = match attr_i(n, name, "transB", 0)? {
        0 => false,
        1 => true,
        t => {
            return Err(Error::Onnx(format!(
                "node '{name}' (Gemm): transB must be 0 or 1, got {t}"
            )))
        }
    };
    let alpha = attr_f(n, name, "alpha", 1.0)? as f64;
    let beta = attr_f(n, name, "beta", 1.0)? as f64;
    let (out, inp) = if trans_b {
        (b.shape[0], b.shape[1])
    } else {
        (b.shape[1], b.shape[0])
    };
    let mut w = vec![0f32; out * inp];
    for o in 0..out {
        for i in 0..inp {
            let v = if trans_b {
                b.data[o * inp + i]
            } else {
                b.data[i * out + o]
            };
            w[o * inp + i] = (alpha * v as f64) as f32;
        }
    }
    let bias = match imp.opt_const_f32(n, name, 2)? {
        Some(c) if beta != 0.0 => Some(
            row_bias(&c, out)
                .ok_or_else(|| {
                    Error::Shape(format!(
                        "node '{name}' (Gemm): C has shape {:?}; glimpse supports a scalar, [{out}] or [1, {out}]",
                        c.shape
                    ))
                })?
                .into_iter()
                .map(|v| (beta * v as f64) as f32)
                .collect(),
        ),
        _ => None,
    };
    let has_bias = bias.is_some();
    let dense = Dense {
        weight: Tensor::new(vec![out, inp], w)?,
        bias,
    };
    let op = if whole {
        Op::TokenDense(TokenDense { dense })
    } else {
        Op::Dense(dense)
    };
    let id = imp.push_form(n, name, op, vec![a], whole)?;
    if !has_bias {
        imp.bias_free_dense.insert(id, n.output[0].as_str());
    }
    Ok(())
}

/// `MatMul` by a constant right operand: a dense layer (per row on `[.., rows, in]` items).
pub(crate) fn import_matmul_weight<'m>(
    imp: &mut Importer<'m, '_>,
    n: &'m NodeProto,
    name: &str,
) -> Result<()> {
    let a = imp.act_any(n, name, 0)?;
    let whole = imp.is_whole(a);
    let token_wise = imp.shape(a).len() > 1;
    if !token_wise {
        flat_input(imp, name, "MatMul", a)?;
    }
    let b = match imp.input(n, name, 1)? {
        Val::Const(t) => tensor::to_f32(&t, imp.base_dir)?,
        Val::Node(_) => unreachable!("a product of two activations is a MatMul layer"),
    };
    if b.shape.len() != 2 {
        return Err(unsupported(
            n,
            name,
            format!("the weight must be 2-D [in, out], has shape {:?}", b.shape),
        ));
    }
    let (inp, out) = (b.shape[0], b.shape[1]);
    let mut w = vec![0f32; out * inp];
    for i in 0..inp {
        for o in 0..out {
            w[o * inp + i] = b.data[i * out + o];
        }
    }
    let dense = Dense {
        weight: Tensor::new(vec![out, inp], w)?,
        bias: None,
    };
    // On `[.., rows, in]` items (channels-last MLPs, token-wise layers), one Dense per row.
    let op = if token_wise {
        Op::TokenDense(TokenDense { dense })
    } else {
        Op::Dense(dense)
    };
    let id = imp.push_form(n, name, op, vec![a], whole)?;
    imp.bias_free_dense.insert(id, n.output[0].as_str());
    Ok(())
}

/// Gemm and MatMul read `[N, F]` activations only.
fn flat_input(imp: &Importer, name: &str, op: &str, id: NodeId) -> Result<()> {
    let s = imp.shape(id);
    if s.len() != 1 {
        return Err(Error::Shape(format!(
            "node '{name}' ({op}) needs a 2-D input [N, F], got per-item shape {s:?} (add a Flatten)"
        )));
    }
    Ok(())
}

/// `MatMul` (or a Gemm without C) then `Add` of a constant row: the constant becomes the
/// Dense layer's bias. Returns whether it did (the Dense output has no other reader, and the
/// constant is one value per output feature).
pub(crate) fn fold_bias<'m>(
    imp: &mut Importer<'m, '_>,
    n: &'m NodeProto,
    x: NodeId,
    c: &TensorProto,
) -> Result<bool> {
    let foldable = imp
        .bias_free_dense
        .get(&x)
        .is_some_and(|t| imp.readers.get(t).copied() == Some(1));
    if !foldable {
        return Ok(false);
    }
    let c = tensor::to_f32(c, imp.base_dir)?;
    let d = match &mut imp.graph.nodes[x].op {
        Op::Dense(d) => d,
        Op::TokenDense(t) => &mut t.dense,
        _ => unreachable!("bias_free_dense holds dense nodes only"),
    };
    let out = d.weight.shape[0];
    // Trailing 1s right-aligned against the output's rank are still one value per feature.
    let rows_of_one = c.shape.len() <= 1 || c.shape[..c.shape.len() - 1].iter().all(|&d| d == 1);
    let Some(bias) =
        row_bias(&c, out).or_else(|| (rows_of_one && c.data.len() == out).then(|| c.data.clone()))
    else {
        return Ok(false);
    };
    d.bias = Some(bias);
    imp.bias_free_dense.remove(&x);
    imp.set(n, Val::Node(x))?;
    Ok(true)
}

/// A per-output bias from a constant of shape `[]`/`[1]`/`[1, 1]` (broadcast), `[out]` or `[1, out]`.
fn row_bias(c: &Tensor, out: usize) -> Option<Vec<f32>> {
    match c.shape.as_slice() {
        _ if c.data.len() == 1 && c.shape.len() <= 2 => Some(vec![c.data[0]; out]),
        [o] | [1, o] if *o == out => Some(c.data.clone()),
        _ => None,
    }
}

/// The ONNX operators imported as [`Dense`].
pub(crate) const ONNX: &[OnnxOp] = &[OnnxOp {
    op_type: "Gemm",
    layer: "Dense",
    notes: "transB, alpha, beta; transA only with a constant A is refused",
    import: gemm,
}];
