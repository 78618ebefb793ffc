//! ONNX import: reads a `.onnx` file into a [`Graph`](crate::model::Graph).
//!
//! The protobuf messages are written by hand ([`proto`]); no protoc and no build script.
//! The importer accepts opsets 11 to 21 of the default domain, one float graph input
//! (`[N, C, H, W]` or `[N, F]`, the batch dimension fixed or symbolic) and one output, and
//! maps the operators of [`supported_ops`]: each layer kind registers its own in its module
//! (`layers::<kind>::ONNX`); constants, no-ops and padding are resolved here, and element-wise
//! patterns exporters write (SiLU, GELU, HardSwish) are fused first. BatchNormalization stays
//! a node; [`crate::model::load_model`] folds it.

pub(crate) mod import;
pub mod proto;
pub mod tensor;

#[cfg(test)]
mod tests;

pub use import::{from_bytes, load, MAX_OPSET, MIN_OPSET};

use crate::error::Result;
use import::Importer;
use proto::NodeProto;

/// How one ONNX operator maps onto glimpse: for the importer's dispatch and the README's table.
#[derive(Clone, Copy)]
pub struct OnnxOp {
    /// The ONNX operator type (or, for fused patterns, the pattern).
    pub op_type: &'static str,
    /// What it becomes in glimpse.
    pub layer: &'static str,
    /// The forms supported, briefly.
    pub notes: &'static str,
    pub(crate) import: ImportFn,
}

/// Maps one ONNX node (of a supported type) onto the graph being built.
pub(crate) type ImportFn = for<'m, 'p> fn(&mut Importer<'m, 'p>, &'m NodeProto, &str) -> Result<()>;

impl std::fmt::Debug for OnnxOp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} → {}", self.op_type, self.layer)
    }
}

/// Every operator the importer maps: the layer kinds' registrations, then the importer's own.
pub fn supported_ops() -> Vec<&'static OnnxOp> {
    crate::layers::ONNX_OPS
        .iter()
        .flat_map(|ops| ops.iter())
        .chain(import::OWN_OPS)
        .chain(import::fuse::FUSED)
        .collect()
}

/// The supported operator types, comma-separated (for error messages).
pub fn supported_op_names() -> String {
    let mut names: Vec<&str> = supported_ops()
        .iter()
        .map(|o| o.op_type)
        .filter(|t| t.chars().all(|c| c.is_ascii_alphanumeric()))
        .collect();
    names.dedup();
    names.join(", ")
}

/// The README's table of supported operators, generated from the registrations.
pub fn markdown_table() -> String {
    let mut out = String::from("| ONNX | glimpse layer | notes |\n| --- | --- | --- |\n");
    for op in supported_ops() {
        out.push_str(&format!(
            "| {} | {} | {} |\n",
            op.op_type, op.layer, op.notes
        ));
    }
    out
}
