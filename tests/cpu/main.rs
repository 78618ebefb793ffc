//! The tests that need no GPU, in one binary: the Rust–WGSL contract, and the ONNX fixtures
//! against onnxruntime through the f64 reference.

mod contract;
mod conv_transpose;
mod onnx_fixtures;
