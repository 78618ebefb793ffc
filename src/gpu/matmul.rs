//! Running the ceiling matmul (for tests of the kernel that sets the benchmarks' ceiling).

use super::{Executable, Gpu};
use crate::error::{Error, Result};
use crate::plan::matmul_program;

/// Computes `A[m×k]·B[k×n]` (row-major, `n` a multiple of 4) with the engine's matmul kernel in
/// the device's flavor.
pub fn matmul(gpu: &Gpu, m: usize, k: usize, n: usize, a: &[f32], b: &[f32]) -> Result<Vec<f32>> {
    if a.len() != m * k || b.len() != k * n {
        return Err(Error::Shape(format!(
            "matmul {m}×{k}·{k}×{n} given {} and {} values",
            a.len(),
            b.len()
        )));
    }
    let (program, [ta, tb, tc]) = matmul_program(&gpu.profile(), m, k, n)?;
    let mut exe = Executable::standalone(gpu, program)?;
    exe.write(ta, a)?;
    exe.write(tb, b)?;
    Ok(exe.run(&[(tc, m * n)])?.remove(0))
}
