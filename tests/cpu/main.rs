//! The tests that need no GPU, in one binary: the Rust–WGSL contract, the ONNX fixtures
//! against onnxruntime through the f64 reference, and the fuzzers' regressions.

mod contract;
mod conv_transpose;
mod fuzz_regressions;
mod onnx_fixtures;
