//! The device side: adapter and device, the kernel registry and pipeline cache, executables
//! (allocation, bind groups, submission, readback) and the device model with its weight store.

mod context;
mod executable;
pub mod kernels;
mod matmul;
mod model;

pub use crate::plan::{DeviceProfile, KernelFlavor, SUBGROUP_LANES};
pub use context::{backends_from_env, Gpu};
pub use executable::Executable;
pub use matmul::matmul;
pub use model::DeviceModel;
