//! `Add` of two activations and `Concat` along channels; an `Add` of a constant goes to
//! [`Importer::fold_bias`].

use super::attributes::{attr, attr_i};
use super::{unsupported, Importer, Val};
use crate::error::{Error, Result};
use crate::model::Op;
use crate::onnx::proto::NodeProto;

impl<'m> Importer<'m, '_> {
    pub(super) fn add(&mut self, n: &'m NodeProto, name: &str) -> Result<()> {
        if n.input.len() != 2 {
            return Err(Error::Onnx(format!(
                "node '{name}' (Add) needs two inputs, has {}",
                n.input.len()
            )));
        }
        match (self.input(n, name, 0)?, self.input(n, name, 1)?) {
            (Val::Node(a), Val::Node(b)) => {
                if self.shape(a) != self.shape(b) {
                    return Err(unsupported(
                        n,
                        name,
                        format!(
                            "its inputs have per-item shapes {:?} and {:?}; broadcasting is not supported",
                            self.shape(a),
                            self.shape(b)
                        ),
                    ));
                }
                self.push(n, name, Op::Add, vec![a, b])
            }
            (Val::Node(x), Val::Const(c)) | (Val::Const(c), Val::Node(x)) => {
                self.fold_bias(n, name, x, &c)
            }
            (Val::Const(_), Val::Const(_)) => Err(unsupported(
                n,
                name,
                "both inputs are constants; constant folding is not supported".into(),
            )),
        }
    }

    pub(super) fn concat(&mut self, n: &'m NodeProto, name: &str) -> Result<()> {
        let mut inputs = Vec::with_capacity(n.input.len());
        for i in 0..n.input.len() {
            inputs.push(self.act(n, name, i)?);
        }
        let Some(&first) = inputs.first() else {
            return Err(Error::Onnx(format!("node '{name}' (Concat) has no inputs")));
        };
        let rank = self.shape(first).len() as i64 + 1;
        if attr(n, "axis").is_none() {
            return Err(Error::Onnx(format!(
                "node '{name}' (Concat) has no axis attribute"
            )));
        }
        let axis = attr_i(n, name, "axis", 1)?;
        let norm = if axis < 0 { axis + rank } else { axis };
        if norm != 1 {
            return Err(unsupported(
                n,
                name,
                format!("only concatenation along channels (axis 1) is supported, got axis {axis} of a rank-{rank} input"),
            ));
        }
        self.push(n, name, Op::Concat, inputs)
    }
}
