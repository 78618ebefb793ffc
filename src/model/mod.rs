//! The model graph: a DAG of layers over NCHW f32 tensors, with shapes and canonizers.

mod canonize;
mod compose;
mod graph;
mod load;
mod tensor;

pub use canonize::fold_batch_norm;
pub use compose::compose;
pub use graph::{Graph, Node, NodeId, Op};
pub use load::{load_model, load_model_from_bytes, load_model_with, LoadOptions};
pub use tensor::{checked_numel, Tensor};
