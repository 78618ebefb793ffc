//! ONNX import: reads a `.onnx` file into a [`Graph`](crate::model::Graph).
//!
//! The protobuf messages are written by hand ([`proto`]); no protoc and no build script.
//! The importer accepts opsets 11 to 21 of the default domain, one float graph input
//! (`[N, C, H, W]` or `[N, F]`, the batch dimension fixed or symbolic) and one output, and
//! maps the operators in [`SUPPORTED_OPS`] onto glimpse's layers. BatchNormalization stays a
//! node; fold it with [`crate::model::fold_batch_norm`] afterwards if wanted.

mod import;
pub mod proto;
pub mod tensor;

#[cfg(test)]
mod tests;

pub use import::{from_bytes, load, MAX_OPSET, MIN_OPSET};

/// ONNX operator types the importer maps (default domain).
pub const SUPPORTED_OPS: &[&str] = &[
    "Conv",
    "Gemm",
    "MatMul",
    "Relu",
    "Clip",
    "MaxPool",
    "AveragePool",
    "GlobalAveragePool",
    "ReduceMean",
    "Flatten",
    "Reshape",
    "BatchNormalization",
    "Add",
    "Concat",
    "Dropout",
    "Identity",
    "Softmax",
    "Constant",
    "Pad",
];
