//! `BatchNormalization` (inference form) → [`BatchNorm`].

use super::attributes::{attr_f, attr_i};
use super::{unsupported, Importer};
use crate::error::{Error, Result};
use crate::layers::BatchNorm;
use crate::model::Op;
use crate::onnx::proto::NodeProto;

impl<'m> Importer<'m, '_> {
    pub(super) fn batch_norm(&mut self, n: &'m NodeProto, name: &str) -> Result<()> {
        if attr_i(n, name, "training_mode", 0)? != 0 {
            return Err(unsupported(
                n,
                name,
                "training_mode = 1 is not supported; export the model in eval mode".into(),
            ));
        }
        self.no_extra_output(n, name, "the running-statistics output (training form)")?;
        let x = self.act(n, name, 0)?;
        let mut p = Vec::with_capacity(4);
        for i in 1..=4 {
            let t = self.const_f32(n, name, i)?;
            if t.shape.len() != 1 {
                return Err(Error::Shape(format!(
                    "node '{name}' (BatchNormalization): input {i} must be 1-D, has shape {:?}",
                    t.shape
                )));
            }
            p.push(t.data);
        }
        let eps = attr_f(n, name, "epsilon", 1e-5)?;
        let bn = BatchNorm::from_stats(&p[0], &p[1], &p[2], &p[3], eps)
            .map_err(|e| Error::Shape(format!("node '{name}' (BatchNormalization): {e}")))?;
        self.push(n, name, Op::BatchNorm(bn), vec![x])
    }
}
