//! `Pad` with constant zeros on H and W, folded into the `Conv`s that read it (the form exporters
//! write for TensorFlow's asymmetric "SAME" padding). Any other constant Pad — another value,
//! other axes, or read by anything but convolutions — is a [`crate::layers::Pad`] node.

use super::attributes::{attr_s, MAX_WINDOW};
use super::{unsupported, Importer};
use crate::error::{Error, Result};
use crate::model::NodeId;
use crate::onnx::proto::NodeProto;

/// A Pad's output, known only to the convolutions that read it.
#[derive(Clone)]
pub(crate) struct PendingPad {
    /// The padded activation.
    pub input: NodeId,
    /// Zeros added as `[top, left, bottom, right]`.
    pub pads: [usize; 4],
    /// The Pad node's name, for errors.
    pub node: String,
}

impl<'m> Importer<'m, '_> {
    fn pad(&mut self, n: &'m NodeProto, name: &str) -> Result<()> {
        let mode = attr_s(n, name, "mode")?.unwrap_or_else(|| "constant".into());
        if mode != "constant" {
            return Err(unsupported(
                n,
                name,
                format!("mode '{mode}': only constant padding is supported"),
            ));
        }
        // A Pad of a pending Pad adds up; of anything else, it reads the activation as it is.
        let pending = n
            .input
            .first()
            .and_then(|t| self.pending_pads.get(t.as_str()))
            .cloned();
        let (x, before) = match &pending {
            Some(p) => (p.input, p.pads),
            None => (self.act_any(n, name, 0)?, [0; 4]),
        };
        let rank = self.onnx_shape(x).len();
        let pads = self
            .opt_const_i64(n, name, 1)?
            .ok_or_else(|| Error::Onnx(format!("node '{name}' (Pad) lacks its pads input")))?;
        let value = match self.opt_const_f32(n, name, 2)? {
            None => 0.0,
            Some(t) if t.data.len() == 1 => t.data[0],
            Some(t) => {
                return Err(Error::Shape(format!(
                    "node '{name}' (Pad): constant_value must be a scalar, has shape {:?}",
                    t.shape
                )))
            }
        };
        let axes = match self.opt_const_i64(n, name, 3)? {
            None => (0..rank as i64).collect(),
            Some(a) => a,
        };
        if pads.len() != 2 * axes.len() {
            return Err(Error::Onnx(format!(
                "node '{name}' (Pad): {} pads for {} axes (want two per axis)",
                pads.len(),
                axes.len()
            )));
        }
        let mut begin_end = vec![(0i64, 0i64); rank];
        let mut seen = vec![false; rank];
        for (k, &a) in axes.iter().enumerate() {
            let axis = if a < 0 { a + rank as i64 } else { a };
            if !(0..rank as i64).contains(&axis) {
                return Err(Error::Onnx(format!(
                    "node '{name}' (Pad): axis {a} is outside a rank-{rank} input"
                )));
            }
            if std::mem::replace(&mut seen[axis as usize], true) {
                return Err(Error::Onnx(format!(
                    "node '{name}' (Pad): axis {a} is given twice in {axes:?}"
                )));
            }
            begin_end[axis as usize] = (pads[k], pads[k + axes.len()]);
        }
        if let Some(bad) = pads.iter().find(|v| !(0..=MAX_WINDOW).contains(*v)) {
            return Err(unsupported(
                n,
                name,
                format!(
                    "pad {bad}: pads must be from 0 to {MAX_WINDOW} (cropping is not supported), \
                     got {pads:?}"
                ),
            ));
        }
        let into_convs = pending.is_some()
            || (self.conv_readers_only.contains(n.output[0].as_str()) && value == 0.0);
        let spatial =
            rank == 4 && !self.is_whole(x) && begin_end[0] == (0, 0) && begin_end[1] == (0, 0);
        if !(into_convs && spatial) {
            if pending.is_some() {
                return Err(unsupported(
                    n,
                    name,
                    "a Pad of a Pad folded into a convolution must pad H and W with zeros too"
                        .into(),
                ));
            }
            return crate::layers::pad::import_pad(self, n, name, x, &begin_end, value);
        }
        let (h, w) = (begin_end[2], begin_end[3]);
        let all = [h.0, w.0, h.1, w.1];
        let pending = PendingPad {
            input: x,
            pads: std::array::from_fn(|i| before[i] + all[i] as usize),
            node: name.to_string(),
        };
        self.pending_pads.insert(n.output[0].as_str(), pending);
        Ok(())
    }

    /// Identity and Dropout pass a Pad's output on unchanged: the pad stays pending under the
    /// new name. False when `n`'s input is not a Pad's output.
    pub(crate) fn forward_pending_pad(&mut self, n: &'m NodeProto) -> bool {
        let pending = n
            .input
            .first()
            .and_then(|t| self.pending_pads.get(t.as_str()))
            .cloned();
        match pending {
            Some(p) => {
                self.pending_pads.insert(n.output[0].as_str(), p);
                true
            }
            None => false,
        }
    }

    /// A convolution's (or a Pad's) input: the activation, and the zeros a Pad before it adds.
    pub(crate) fn conv_input(
        &mut self,
        n: &'m NodeProto,
        name: &str,
    ) -> Result<(NodeId, [usize; 4])> {
        match n
            .input
            .first()
            .and_then(|t| self.pending_pads.get(t.as_str()))
        {
            Some(p) => Ok((p.input, p.pads)),
            None => Ok((self.act(n, name, 0)?, [0; 4])),
        }
    }

    /// The error for a node other than a Conv reading a Pad's output.
    pub(crate) fn pad_reader_error(
        &self,
        n: &NodeProto,
        name: &str,
        tensor: &str,
    ) -> Option<Error> {
        self.pending_pads.get(tensor).map(|p| {
            unsupported(
                n,
                name,
                format!(
                    "it reads '{tensor}', the output of Pad '{}'; glimpse folds zero padding only into the data input (input 0) of a Conv",
                    p.node
                ),
            )
        })
    }
}

/// The registered mapping of `Pad`.
pub(crate) fn pad<'m>(imp: &mut Importer<'m, '_>, n: &'m NodeProto, name: &str) -> Result<()> {
    imp.pad(n, name)
}
