//! Recording programs with no GPU: passes, tensor lifetimes, buffer assignment, weights by key,
//! the typed kernel contract, and the forward pass of a graph. `gpu` makes them runnable.

mod device;
mod forward;
mod kernel;
mod matmul;
pub mod memory;
mod program;
pub mod tiles;
mod update;
mod weights;

pub use device::{
    DeviceProfile, KernelChoice, KernelFamily, KernelFlavor, KernelVariant, SUBGROUP_LANES,
};
pub use forward::{items_per_submission, record_forward, record_forward_to};
pub use kernel::{wgsl_constant_name, wgsl_constants, Field, Kernel, KernelInfo, Params, WgslEnum};
pub use matmul::{matmul_launch, matmul_program, MatmulParams, MATMUL, MATMUL_SUBGROUP};
pub use program::{
    binds, ConstId, ConstSource, Launch, Out, Pass, Program, Repeat, Resource, TensorId,
};
pub use update::{record_ascent, AscentParams, ASCENT};
pub use weights::{Param, WeightKey, WeightMod};

#[cfg(test)]
mod tests;
