//! The pipeline builder: graph + method → scheduled passes over buffers planned from lifetimes.

pub(crate) mod adjoint;
mod builder;
pub mod conv_transpose;
pub mod dense;
pub(crate) mod flow;
pub mod forward;
mod matmul;
pub mod memory;
pub mod predict;

pub use builder::{ConstId, Launch, Plan, PlanBuilder, Resource, TensorId};
pub use forward::record_forward;
pub use matmul::{matmul, matmul_launch, matmul_plan};
pub use predict::ForwardPlan;
