//! The model graph: a DAG of layers over NCHW f32 tensors, with shapes and canonizers.

mod canonize;
mod graph;
mod tensor;
pub mod zoo;

pub use canonize::fold_batch_norm;
pub use graph::{Graph, Node, NodeId, Op};
pub use tensor::{checked_numel, Tensor};
pub use zoo::{vgg16, vgg_small};
