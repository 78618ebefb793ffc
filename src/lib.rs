//! glimpse explains neural networks on the GPU: each layer's forward pass and each backward
//! rule is a WGSL compute shader run through wgpu, recorded once per model, method and batch
//! size as a program over buffers planned from lifetimes.
//!
//! The README's library example (a doc test) shows the API: `load_model`, a `DeviceModel`, a
//! `Method`, an `Explainer`, one `Explanation`.

pub mod error;
pub mod evaluate;
pub mod explain;
pub mod gpu;
pub mod interpret;
pub mod io;
pub mod layers;
pub mod model;
pub mod onnx;
pub mod plan;
mod predict;
pub mod render;
mod rng;
pub mod tune;

pub use error::{Error, Result};

/// The README's code runs as a doc test.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
pub use evaluate::{EvalOptions, Evaluation, Evaluator, Metric};
pub use explain::{Explainer, Explanation, Method, Target};
pub use gpu::{DeviceModel, Gpu};
pub use model::{load_model, load_model_with, Graph, LoadOptions, Tensor};
pub use predict::Predictor;
