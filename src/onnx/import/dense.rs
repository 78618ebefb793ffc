//! `Gemm` and `MatMul` → [`Dense`], and a constant `Add` right after a MatMul as its bias.

use super::attributes::{attr_f, attr_i};
use super::{unsupported, Importer, Val};
use crate::error::{Error, Result};
use crate::layers::Dense;
use crate::model::{NodeId, Op, Tensor};
use crate::onnx::proto::{NodeProto, TensorProto};
use crate::onnx::tensor;

impl<'m> Importer<'m, '_> {
    pub(super) fn gemm(&mut self, n: &'m NodeProto, name: &str) -> Result<()> {
        if attr_i(n, name, "transA", 0)? != 0 {
            return Err(unsupported(
                n,
                name,
                "transA = 1 is not supported; the activation must be A, [N, in]".into(),
            ));
        }
        let a = match self.input(n, name, 0)? {
            Val::Node(id) => id,
            Val::Const(_) => {
                return Err(unsupported(
                    n,
                    name,
                    "A is a constant; glimpse needs the activation as A and the weight as B".into(),
                ))
            }
        };
        self.flat_input(name, "Gemm", a)?;
        let b = self.const_f32(n, name, 1)?;
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
        let bias = match self.opt_const_f32(n, name, 2)? {
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
        let op = Op::Dense(Dense {
            weight: Tensor::new(vec![out, inp], w)?,
            bias,
        });
        let id = self.push_node(name, op, vec![a])?;
        if !has_bias {
            self.bias_free_dense.insert(id, n.output[0].as_str());
        }
        self.set(n, Val::Node(id))
    }

    pub(super) fn matmul(&mut self, n: &'m NodeProto, name: &str) -> Result<()> {
        let a = self.act(n, name, 0)?;
        self.flat_input(name, "MatMul", a)?;
        let b = match self.input(n, name, 1)? {
            Val::Const(t) => tensor::to_f32(&t, self.base_dir)?,
            Val::Node(_) => {
                return Err(unsupported(
                    n,
                    name,
                    "the right operand must be a constant weight [in, out]; a product of two activations is not supported".into(),
                ))
            }
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
        let op = Op::Dense(Dense {
            weight: Tensor::new(vec![out, inp], w)?,
            bias: None,
        });
        let id = self.push_node(name, op, vec![a])?;
        self.bias_free_dense.insert(id, n.output[0].as_str());
        self.set(n, Val::Node(id))
    }

    /// Gemm and MatMul read `[N, F]` activations only.
    fn flat_input(&self, name: &str, op: &str, id: NodeId) -> Result<()> {
        let s = self.shape(id);
        if s.len() != 1 {
            return Err(Error::Shape(format!(
                "node '{name}' ({op}) needs a 2-D input [N, F], got per-item shape {s:?} (add a Flatten)"
            )));
        }
        Ok(())
    }

    /// `MatMul` (or a Gemm without C) then `Add` of a constant row: the constant becomes the
    /// Dense layer's bias.
    pub(super) fn fold_bias(
        &mut self,
        n: &'m NodeProto,
        name: &str,
        x: NodeId,
        c: &TensorProto,
    ) -> Result<()> {
        let foldable = self
            .bias_free_dense
            .get(&x)
            .is_some_and(|t| self.readers.get(t).copied() == Some(1));
        if !foldable {
            return Err(unsupported(
                n,
                name,
                format!(
                    "adding a constant ('{}') is supported only as the bias right after a MatMul, \
                     whose output nothing else reads; here it follows {} node '{}'",
                    c.name,
                    self.graph.nodes[x].op.kind(),
                    self.graph.nodes[x].name
                ),
            ));
        }
        let c = tensor::to_f32(c, self.base_dir)?;
        let Op::Dense(d) = &mut self.graph.nodes[x].op else {
            unreachable!("bias_free_dense holds Dense nodes only")
        };
        let out = d.weight.shape[0];
        let bias = row_bias(&c, out).ok_or_else(|| {
            Error::Shape(format!(
                "node '{name}' (Add): the bias has shape {:?}; glimpse supports [{out}] or [1, {out}]",
                c.shape
            ))
        })?;
        d.bias = Some(bias);
        self.bias_free_dense.remove(&x);
        self.set(n, Val::Node(x))
    }
}

/// A per-output bias from a constant of shape `[]`/`[1]`/`[1, 1]` (broadcast), `[out]` or `[1, out]`.
fn row_bias(c: &Tensor, out: usize) -> Option<Vec<f32>> {
    match c.shape.as_slice() {
        _ if c.data.len() == 1 && c.shape.len() <= 2 => Some(vec![c.data[0]; out]),
        [o] | [1, o] if *o == out => Some(c.data.clone()),
        _ => None,
    }
}
