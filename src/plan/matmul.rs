//! The device's ceiling: the engine's own `layers/matmul` kernel on square matrices, in the
//! variant a [`KernelFlavor`] selects, timed like every other plan.

use super::{Launch, Plan, PlanBuilder, Resource, TensorId};
use crate::error::{Error, Result};
use crate::gpu::{Gpu, KernelFlavor, SUBGROUP_LANES};

/// The kernel file and entry point of the matmul for `flavor`, and its workgroup grid for an
/// `m×n` output.
pub fn matmul_launch(
    flavor: KernelFlavor,
    m: usize,
    n: usize,
) -> (&'static str, &'static str, Launch) {
    let n4 = n / 4;
    match flavor {
        KernelFlavor::Tiled => (
            "layers/matmul",
            "tiled",
            Launch::Grid([n4.div_ceil(16) as u32, m.div_ceil(64) as u32, 1]),
        ),
        KernelFlavor::Registers => (
            "layers/matmul",
            "registers",
            Launch::Flat {
                count: (m.div_ceil(4) * n4) as u64,
                size: 64,
            },
        ),
        // 16 rows × 32 column quads per 8-lane subgroup (scripts/gen_subgroup_kernels.py).
        KernelFlavor::Subgroup => (
            "layers/matmul_subgroup",
            "subgroup",
            Launch::Flat {
                count: (m.div_ceil(16) * n4.div_ceil(32)) as u64 * SUBGROUP_LANES as u64,
                size: SUBGROUP_LANES,
            },
        ),
    }
}

/// A planned `C[m×n] = A[m×k]·B[k×n]` in the device's flavor: the plan and its A, B, C.
pub fn matmul_plan(gpu: &Gpu, m: usize, k: usize, n: usize) -> Result<(Plan, [TensorId; 3])> {
    if !n.is_multiple_of(4) || m == 0 || k == 0 || n == 0 {
        return Err(Error::Invalid(format!(
            "matmul {m}×{k}·{k}×{n}: sizes must be positive and n a multiple of 4"
        )));
    }
    let mut b = PlanBuilder::new(gpu);
    let ta = b.tensor("A", m * k)?;
    let tb = b.tensor("B", k * n)?;
    let tc = b.tensor("C", m * n)?;
    for t in [ta, tb, tc] {
        b.keep(t);
    }
    let (kernel, entry, launch) = matmul_launch(gpu.flavor(), m, n);
    let p = vec![m as u32, n as u32, k as u32, 0];
    let bindings = vec![
        (0, Resource::Uniform(p)),
        (1, Resource::Tensor(ta)),
        (2, Resource::Tensor(tb)),
        (3, Resource::Tensor(tc)),
    ];
    b.pass(kernel, entry, bindings, &[tc], launch);
    Ok((b.build()?, [ta, tb, tc]))
}

/// Computes `A[m×k]·B[k×n]` (row-major, `n` a multiple of 4) with the engine's matmul kernel in
/// the device's flavor; for tests of the kernel that sets the ceiling.
pub fn matmul(gpu: &Gpu, m: usize, k: usize, n: usize, a: &[f32], b: &[f32]) -> Result<Vec<f32>> {
    let (mut plan, [ta, tb, tc]) = matmul_plan(gpu, m, k, n)?;
    if a.len() != m * k || b.len() != k * n {
        return Err(Error::Shape(format!(
            "matmul {m}×{k}·{k}×{n} given {} and {} values",
            a.len(),
            b.len()
        )));
    }
    plan.write(ta, a)?;
    plan.write(tb, b)?;
    Ok(plan.run(&[(tc, m * n)])?.remove(0))
}
