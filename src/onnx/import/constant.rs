//! `Constant`: a constant tensor from an attribute.

use std::borrow::Cow;

use super::{unsupported, Importer, Val};
use crate::error::{Error, Result};
use crate::onnx::proto::{DataType, NodeProto, TensorProto};

impl<'m> Importer<'m, '_> {
    fn constant(&mut self, n: &'m NodeProto, name: &str) -> Result<()> {
        let a = match n.attribute.as_slice() {
            [a] => a,
            _ => {
                return Err(Error::Onnx(format!(
                    "Constant node '{name}' must have exactly one attribute, has {}",
                    n.attribute.len()
                )))
            }
        };
        let out = n.output[0].clone();
        let t = match a.name.as_str() {
            "value" => {
                let t = a.t.as_ref().ok_or_else(|| {
                    Error::Onnx(format!("Constant node '{name}' has an empty 'value'"))
                })?;
                if t.name.is_empty() {
                    Cow::Owned(TensorProto {
                        name: out,
                        ..t.clone()
                    })
                } else {
                    Cow::Borrowed(t)
                }
            }
            "value_float" => Cow::Owned(TensorProto {
                name: out,
                data_type: DataType::Float as i32,
                float_data: vec![a.f],
                ..Default::default()
            }),
            "value_floats" => Cow::Owned(TensorProto {
                name: out,
                data_type: DataType::Float as i32,
                dims: vec![a.floats.len() as i64],
                float_data: a.floats.clone(),
                ..Default::default()
            }),
            "value_int" => Cow::Owned(TensorProto {
                name: out,
                data_type: DataType::Int64 as i32,
                int64_data: vec![a.i],
                ..Default::default()
            }),
            "value_ints" => Cow::Owned(TensorProto {
                name: out,
                data_type: DataType::Int64 as i32,
                dims: vec![a.ints.len() as i64],
                int64_data: a.ints.clone(),
                ..Default::default()
            }),
            other => {
                return Err(unsupported(
                    n,
                    name,
                    format!("a Constant given by '{other}' is not supported"),
                ))
            }
        };
        self.set(n, Val::Const(t))
    }
}

/// The registered mapping of `Constant`.
pub(crate) fn constant<'m>(imp: &mut Importer<'m, '_>, n: &'m NodeProto, name: &str) -> Result<()> {
    imp.constant(n, name)
}
