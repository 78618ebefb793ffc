//! glimpse explains neural networks on the GPU: each layer's forward pass and each backward
//! rule is a WGSL compute shader run through wgpu, planned once per model and batch size.

pub mod error;
pub mod explain;
pub mod gpu;
pub mod io;
pub mod layers;
pub mod model;
pub mod onnx;
pub mod plan;
pub mod render;

pub use error::{Error, Result};
pub use gpu::Gpu;
pub use model::{load_model, load_model_with, Graph, LoadOptions, Tensor};
pub use plan::ForwardPlan;
