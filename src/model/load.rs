//! Loading a model: ONNX import, then the canonizers the options ask for.

use std::path::Path;

use super::{fold_batch_norm, Graph};
use crate::error::Result;

/// Which canonizers [`load_model_with`] applies after importing the ONNX graph.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoadOptions {
    /// Fold each BatchNorm into the convolution or dense layer before it (the function is
    /// unchanged; LRP then sees one linear layer, as Zennit's canonizer makes it). A CAM taken
    /// at a convolution followed by a BatchNorm needs the convolution's own output: load
    /// without folding for that.
    pub fold_batch_norm: bool,
}

impl Default for LoadOptions {
    fn default() -> Self {
        LoadOptions {
            fold_batch_norm: true,
        }
    }
}

/// Loads an ONNX model with the default canonizers (BatchNorm folded where possible).
pub fn load_model(path: impl AsRef<Path>) -> Result<Graph> {
    load_model_with(path, &LoadOptions::default())
}

/// Loads an ONNX model and applies the canonizers `options` ask for.
pub fn load_model_with(path: impl AsRef<Path>, options: &LoadOptions) -> Result<Graph> {
    Ok(canonize(crate::onnx::load(path.as_ref())?, options))
}

/// Loads an ONNX model from its bytes and applies the canonizers `options` ask for: the path a
/// file takes, without the file (so a model keeping its weights in external data is an error).
pub fn load_model_from_bytes(bytes: &[u8], options: &LoadOptions) -> Result<Graph> {
    Ok(canonize(crate::onnx::from_bytes(bytes, None)?, options))
}

fn canonize(mut graph: Graph, options: &LoadOptions) -> Graph {
    if options.fold_batch_norm {
        fold_batch_norm(&mut graph);
    }
    graph
}
