//! The device side: adapter and device, the kernel registry and pipeline cache, executables
//! (allocation, bind groups, submission, readback) and the device model with its weight store.

mod context;
mod executable;
mod health;
mod host;
pub mod kernels;
mod matmul;
mod memory;
mod model;

pub use crate::plan::{DeviceProfile, KernelFlavor, SUBGROUP_LANES};
pub use context::{backends_from_env, Gpu, GpuOptions};
pub use executable::Executable;
pub use health::FAULT_ENV;
pub use host::host_cpu;
pub use matmul::matmul;
pub use memory::MEMORY_LIMIT_ENV;
pub use model::DeviceModel;
