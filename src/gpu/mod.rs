//! The device context, the kernel registry and its pipeline cache.

mod context;
pub mod kernels;

pub use context::{backends_from_env, Gpu, KernelFlavor, SUBGROUP_LANES};
