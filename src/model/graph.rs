//! The graph: nodes in topological order, each with its per-item output shape.

use crate::error::{Error, Result};
use crate::layers::{
    Add, AvgPool2d, BatchNorm, Concat, Constant, Conv2d, ConvTranspose2d, Dense, Elementwise,
    GlobalAvgPool, Layer, LayerNorm, MatMul, MaxPool2d, Mul, Pad, Pool2d, Reshape, Slice, Softmax,
    TokenDense, Transpose,
};

/// Index of a node in [`Graph::nodes`].
pub type NodeId = usize;

/// What a node computes: one variant per layer kind, each a type implementing [`Layer`]. Shapes
/// exclude the batch dimension.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum Op {
    /// The graph's single input.
    Input,
    /// 2-D convolution (stride, padding, dilation, groups).
    Conv2d(Conv2d),
    /// 2-D transposed convolution (ONNX ConvTranspose: stride, pads, output padding, dilation,
    /// groups).
    ConvTranspose2d(ConvTranspose2d),
    /// Fully connected layer `y = W x + b`.
    Dense(Dense),
    /// A dense layer on each row of an item's last axis.
    TokenDense(TokenDense),
    /// Per-channel affine map from a batch normalisation that could not be folded.
    BatchNorm(BatchNorm),
    /// Layer normalisation over an item's trailing axes.
    LayerNorm(LayerNorm),
    /// An element-wise function (ReLU, Clip, Sigmoid, …: one row of the element-wise table).
    Elementwise(Elementwise),
    /// Max pooling over (possibly overlapping) windows.
    MaxPool2d(MaxPool2d),
    /// Average pooling; `Pool2d::count_include_pad` follows ONNX.
    AvgPool2d(AvgPool2d),
    /// Mean over H and W, keeping `[C, 1, 1]`.
    GlobalAvgPool(GlobalAvgPool),
    /// Same values in a new per-item shape (Flatten, Reshape).
    Reshape(Reshape),
    /// Element-wise sum of two or more inputs of one shape.
    Add(Add),
    /// Element-wise product of two activations, broadcasting.
    Mul(Mul),
    /// Product of two activations as matrices, broadcasting (attention).
    MatMul(MatMul),
    /// A tensor the same for every item (class tokens, position embeddings).
    Constant(Constant),
    /// The per-item axes permuted.
    Transpose(Transpose),
    /// A constant border on per-item axes.
    Pad(Pad),
    /// A box of each item (Slice; each output of Split).
    Slice(Slice),
    /// Concatenation along channels.
    Concat(Concat),
    /// Softmax along one axis of each item.
    Softmax(Softmax),
}

impl Op {
    /// The layer this node is: the one place every kind's behaviour is dispatched from.
    pub fn layer(&self) -> &dyn Layer {
        match self {
            Op::Input => &crate::layers::input::Input,
            Op::Conv2d(l) => l,
            Op::ConvTranspose2d(l) => l,
            Op::Dense(l) => l,
            Op::TokenDense(l) => l,
            Op::BatchNorm(l) => l,
            Op::LayerNorm(l) => l,
            Op::Elementwise(l) => l,
            Op::MaxPool2d(l) => l,
            Op::AvgPool2d(l) => l,
            Op::GlobalAvgPool(l) => l,
            Op::Reshape(l) => l,
            Op::Add(l) => l,
            Op::Mul(l) => l,
            Op::MatMul(l) => l,
            Op::Constant(l) => l,
            Op::Transpose(l) => l,
            Op::Slice(l) => l,
            Op::Pad(l) => l,
            Op::Concat(l) => l,
            Op::Softmax(l) => l,
        }
    }

    /// A short name for messages and plans.
    pub fn kind(&self) -> &'static str {
        self.layer().kind()
    }

    /// `max(x, 0)`.
    pub fn relu() -> Op {
        Op::Elementwise(Elementwise::relu())
    }

    /// `min(max(x, min), max)`; ReLU6 is `clip(0, 6)`.
    pub fn clip(min: f32, max: f32) -> Op {
        Op::Elementwise(Elementwise::clip(min, max))
    }

    /// Max pooling with this window.
    pub fn max_pool(window: Pool2d) -> Op {
        Op::MaxPool2d(MaxPool2d(window))
    }

    /// Average pooling with this window.
    pub fn avg_pool(window: Pool2d) -> Op {
        Op::AvgPool2d(AvgPool2d(window))
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
        let in_shapes: Vec<&[usize]> = inputs
            .iter()
            .map(|&i| self.nodes[i].shape.as_slice())
            .collect();
        let shape = op
            .layer()
            .output_shape(&in_shapes)
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
        self.push(name, Op::Reshape(Reshape { shape }), vec![input])
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
        self.nodes.iter().map(|n| n.op.layer().macs(&n.shape)).sum()
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
