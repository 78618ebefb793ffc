//! The device's ceiling: the engine's own matmul kernel on square matrices, in the variant a
//! [`KernelFlavor`] selects (`gpu::matmul` runs it; the benchmarks time it).

use super::tiles::{SUBGROUP_MATMUL_QUADS, SUBGROUP_MATMUL_ROWS};
use super::{
    binds, DeviceProfile, Kernel, KernelFlavor, Launch, Out, Program, TensorId, SUBGROUP_LANES,
};
use crate::error::{Error, Result};

crate::params! {
    /// `C[m×n] = A[m×k]·B[k×n]`.
    pub struct MatmulParams { pub m: u32, pub n: u32, pub k: u32, pub pad0: u32 }
}

crate::kernel!(
    /// The tiled and register-blocked matmul.
    pub MATMUL: MatmulParams = "matmul/matmul"
);
crate::kernel!(
    /// The subgroup matmul (generated).
    pub MATMUL_SUBGROUP: MatmulParams = "matmul/matmul_subgroup"
);

/// The kernel and entry point of the matmul for `flavor`, and its launch for an `m×n` output.
pub fn matmul_launch(
    flavor: KernelFlavor,
    m: usize,
    n: usize,
) -> (&'static Kernel<MatmulParams>, &'static str, Launch) {
    let n4 = n / 4;
    match flavor {
        KernelFlavor::Tiled => (
            &MATMUL,
            "tiled",
            Launch::Grid([n4.div_ceil(16) as u32, m.div_ceil(64) as u32, 1]),
        ),
        KernelFlavor::Registers => (
            &MATMUL,
            "registers",
            Launch::Flat {
                count: (m.div_ceil(4) * n4) as u64,
                size: 64,
            },
        ),
        KernelFlavor::Subgroup => (
            &MATMUL_SUBGROUP,
            "subgroup",
            Launch::Flat {
                count: (m.div_ceil(SUBGROUP_MATMUL_ROWS)
                    * n4.div_ceil(SUBGROUP_MATMUL_QUADS * SUBGROUP_LANES as usize))
                    as u64
                    * SUBGROUP_LANES as u64,
                size: SUBGROUP_LANES,
            },
        ),
    }
}

/// A recorded `C[m×n] = A[m×k]·B[k×n]` in the profile's dense flavor, with its kept A, B, C.
pub fn matmul_program(
    profile: &DeviceProfile,
    m: usize,
    k: usize,
    n: usize,
) -> Result<(Program, [TensorId; 3])> {
    if !n.is_multiple_of(4) || m == 0 || k == 0 || n == 0 {
        return Err(Error::Invalid(format!(
            "matmul {m}×{k}·{k}×{n}: sizes must be positive and n a multiple of 4"
        )));
    }
    let mut p = Program::new(profile);
    let ta = p.tensor("A", m * k)?;
    let tb = p.tensor("B", k * n)?;
    let tc = p.tensor("C", m * n)?;
    for t in [ta, tb, tc] {
        p.keep(t);
    }
    let (kernel, entry, launch) = matmul_launch(profile.kernels.dense.flavor, m, n);
    let params = MatmulParams {
        m: m as u32,
        n: n as u32,
        k: k as u32,
        pad0: 0,
    };
    p.pass(
        kernel,
        entry,
        &params,
        binds(&[ta, tb], &[], tc),
        Out::Write(tc),
        launch,
    )?;
    Ok((p, [ta, tb, tc]))
}
