//! glimpse explains neural networks on the GPU: each layer's forward pass and each backward
//! rule is a WGSL compute shader run through wgpu, planned once per model and batch size.

pub mod error;
pub mod layers;
pub mod model;
pub mod onnx;

pub use error::{Error, Result};
