//! Measurement shared by the criterion benches and `glimpse bench`: the matmul ceiling,
//! forward and LRP timings of a model, and the table they print.

pub mod matmul;

pub use matmul::{matmul, matmul_launch, MatmulBench};
