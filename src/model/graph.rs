//! The graph: nodes in topological order, each with its per-item output shape.

use crate::error::{Error, Result};
use crate::layers::{self, BatchNorm, Conv2d, Dense, Pool2d};

/// Index of a node in [`Graph::nodes`].
pub type NodeId = usize;

/// What a node computes. Shapes exclude the batch dimension.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum Op {
    /// The graph's single input.
    Input,
    /// 2-D convolution (stride, padding, dilation, groups).
    Conv2d(Conv2d),
    /// Fully connected layer `y = W x + b`.
    Dense(Dense),
    /// Per-channel affine map from a batch normalisation that could not be folded.
    BatchNorm(BatchNorm),
    /// `max(x, 0)`.
    Relu,
    /// `min(max(x, min), max)`; ReLU6 is `Clip { min: 0, max: 6 }`.
    Clip { min: f32, max: f32 },
    /// Max pooling over (possibly overlapping) windows.
    MaxPool2d(Pool2d),
    /// Average pooling; `Pool2d::count_include_pad` follows ONNX.
    AvgPool2d(Pool2d),
    /// Mean over H and W, keeping `[C, 1, 1]`.
    GlobalAvgPool,
    /// Same values in a new per-item shape (Flatten, Reshape).
    Reshape,
    /// Element-wise sum of two or more inputs of one shape.
    Add,
    /// Concatenation along channels.
    Concat,
    /// Softmax over the features of each item; only as the last node.
    Softmax,
}

impl Op {
    /// A short name for messages and plans.
    pub fn kind(&self) -> &'static str {
        match self {
            Op::Input => "Input",
            Op::Conv2d(_) => "Conv2d",
            Op::Dense(_) => "Dense",
            Op::BatchNorm(_) => "BatchNorm",
            Op::Relu => "Relu",
            Op::Clip { .. } => "Clip",
            Op::MaxPool2d(_) => "MaxPool2d",
            Op::AvgPool2d(_) => "AvgPool2d",
            Op::GlobalAvgPool => "GlobalAvgPool",
            Op::Reshape => "Reshape",
            Op::Add => "Add",
            Op::Concat => "Concat",
            Op::Softmax => "Softmax",
        }
    }
}

/// One layer of the graph.
#[derive(Clone, Debug)]
pub struct Node {
    /// Name (the ONNX node name, or a generated one).
    pub name: String,
    /// What it computes.
    pub op: Op,
    /// Producers of its inputs; always earlier nodes.
    pub inputs: Vec<NodeId>,
    /// Output shape of one batch item (`[C, H, W]` or `[F]`).
    pub shape: Vec<usize>,
}

/// A network as a DAG with one input (node 0) and one output.
#[derive(Clone, Debug)]
pub struct Graph {
    /// Nodes in topological order; node 0 is the input.
    pub nodes: Vec<Node>,
    /// The node whose value is the network's output.
    pub output: NodeId,
}

/// Largest number of values in one item's tensor; protects against absurd dimensions.
pub const MAX_ITEM_NUMEL: usize = 1 << 31;

impl Graph {
    /// A graph holding only its input of the given per-item shape.
    pub fn new(input_shape: Vec<usize>) -> Result<Self> {
        check_dims("input", &input_shape)?;
        Ok(Graph {
            nodes: vec![Node {
                name: "input".into(),
                op: Op::Input,
                inputs: vec![],
                shape: input_shape,
            }],
            output: 0,
        })
    }

    /// Appends a node, checking its inputs exist and inferring its shape; it becomes the output.
    pub fn push(&mut self, name: impl Into<String>, op: Op, inputs: Vec<NodeId>) -> Result<NodeId> {
        let name = name.into();
        if matches!(op, Op::Input) {
            return Err(Error::Graph(format!(
                "node '{name}': only node 0 is an input"
            )));
        }
        if let Some(&bad) = inputs.iter().find(|&&i| i >= self.nodes.len()) {
            return Err(Error::Graph(format!(
                "node '{name}' reads node {bad}, which does not exist (yet)"
            )));
        }
        if self
            .nodes
            .last()
            .is_some_and(|n| matches!(n.op, Op::Softmax))
        {
            return Err(Error::Graph(format!(
                "node '{name}' follows a Softmax; Softmax is supported only as the last layer"
            )));
        }
        let in_shapes: Vec<&[usize]> = inputs
            .iter()
            .map(|&i| self.nodes[i].shape.as_slice())
            .collect();
        let shape = layers::output_shape(&op, &in_shapes)
            .map_err(|e| Error::Graph(format!("node '{name}' ({}): {e}", op.kind())))?;
        check_dims(&name, &shape)?;
        self.nodes.push(Node {
            name,
            op,
            inputs,
            shape,
        });
        self.output = self.nodes.len() - 1;
        Ok(self.output)
    }

    /// Appends a reshape (Flatten, Reshape) of `input` to the per-item `shape`; values keep their order.
    pub fn push_reshape(
        &mut self,
        name: impl Into<String>,
        input: NodeId,
        shape: Vec<usize>,
    ) -> Result<NodeId> {
        let name = name.into();
        let from = self.nodes.get(input).ok_or_else(|| {
            Error::Graph(format!(
                "node '{name}' reads node {input}, which does not exist"
            ))
        })?;
        check_dims(&name, &shape)?;
        if from.shape.iter().product::<usize>() != shape.iter().product::<usize>() {
            return Err(Error::Shape(format!(
                "node '{name}' reshapes {:?} to {shape:?}, which holds a different number of values",
                from.shape
            )));
        }
        self.nodes.push(Node {
            name,
            op: Op::Reshape,
            inputs: vec![input],
            shape,
        });
        self.output = self.nodes.len() - 1;
        Ok(self.output)
    }

    /// Per-item input shape.
    pub fn input_shape(&self) -> &[usize] {
        &self.nodes[0].shape
    }

    /// Per-item output shape.
    pub fn output_shape(&self) -> &[usize] {
        &self.nodes[self.output].shape
    }

    /// Values per item of the output (the number of classes of a classifier).
    pub fn output_len(&self) -> usize {
        self.output_shape().iter().product()
    }

    /// For each node, the nodes that read it.
    pub fn consumers(&self) -> Vec<Vec<NodeId>> {
        let mut out = vec![Vec::new(); self.nodes.len()];
        for (id, n) in self.nodes.iter().enumerate() {
            for &i in &n.inputs {
                out[i].push(id);
            }
        }
        out
    }

    /// Finds a node by name.
    pub fn find(&self, name: &str) -> Option<NodeId> {
        self.nodes.iter().position(|n| n.name == name)
    }

    /// Drops nodes the output does not depend on, keeping the order; returns the new graph.
    pub fn prune(&self) -> Graph {
        let mut live = vec![false; self.nodes.len()];
        live[self.output] = true;
        live[0] = true;
        for id in (0..self.nodes.len()).rev() {
            if live[id] {
                for &i in &self.nodes[id].inputs {
                    live[i] = true;
                }
            }
        }
        let mut remap = vec![usize::MAX; self.nodes.len()];
        let mut nodes = Vec::new();
        for (id, n) in self.nodes.iter().enumerate() {
            if live[id] {
                remap[id] = nodes.len();
                let mut n = n.clone();
                n.inputs = n.inputs.iter().map(|&i| remap[i]).collect();
                nodes.push(n);
            }
        }
        Graph {
            output: remap[self.output],
            nodes,
        }
    }

    /// Multiply-accumulate count of one item's forward pass (2 FLOP each), for benchmarks.
    pub fn macs_per_item(&self) -> u64 {
        self.nodes
            .iter()
            .map(|n| match &n.op {
                Op::Conv2d(c) => {
                    let per_out =
                        (c.weight.shape[1] * c.weight.shape[2] * c.weight.shape[3]) as u64;
                    n.shape.iter().product::<usize>() as u64 * per_out
                }
                Op::Dense(d) => d.weight.numel() as u64,
                _ => 0,
            })
            .sum()
    }
}

fn check_dims(name: &str, shape: &[usize]) -> Result<()> {
    if shape.is_empty() || shape.contains(&0) {
        return Err(Error::Shape(format!(
            "'{name}' has an empty shape {shape:?}"
        )));
    }
    match crate::model::checked_numel(shape) {
        Ok(n) if n <= MAX_ITEM_NUMEL => Ok(()),
        _ => Err(Error::Shape(format!(
            "'{name}' has absurd dimensions {shape:?} (more than {MAX_ITEM_NUMEL} values per item)"
        ))),
    }
}
