//! glimpse explains neural networks on the GPU: each layer's forward pass and each backward
//! rule is a WGSL compute shader run through wgpu, recorded once per model, method and batch
//! size as a program over buffers planned from lifetimes.
//!
//! ```no_run
//! # fn main() -> glimpse::Result<()> {
//! let model = glimpse::DeviceModel::new(&glimpse::Gpu::new()?, glimpse::load_model("m.onnx")?);
//! let method: glimpse::Method = "lrp:epsilon-plus-flat".parse()?;
//! let mut explainer = glimpse::Explainer::new(&model, &method, 16)?;
//! # let x = glimpse::Tensor::zeros(vec![1, 1, 28, 28]);
//! let e = explainer.explain(&x, &[glimpse::Target::Predicted])?; // e.map: the relevance maps
//! # Ok(()) }
//! ```

pub mod error;
pub mod explain;
pub mod gpu;
pub mod io;
pub mod layers;
pub mod model;
pub mod onnx;
pub mod plan;
mod predict;
pub mod render;

pub use error::{Error, Result};
pub use explain::{Explainer, Explanation, Method, Target};
pub use gpu::{DeviceModel, Gpu};
pub use model::{load_model, load_model_with, Graph, LoadOptions, Tensor};
pub use predict::Predictor;
