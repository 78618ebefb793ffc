//! Which feature map a CAM is taken at: a layer by index or ONNX node name, checked to be a
//! convolutional feature map `[C, H, W]`, and for CAM the global-average-pool + dense head.

use crate::error::{Error, Result};
use crate::explain::LayerRef;
use crate::layers::LayerClass;
use crate::model::{Graph, NodeId, Op};

/// Whether a node of this class outputs a feature map a CAM can be taken at (when its shape is
/// `[C, H, W]`): every class that computes one, not the input, reshapes or the softmax.
fn computes_feature_map(class: LayerClass) -> bool {
    match class {
        LayerClass::Convolution
        | LayerClass::Dense
        | LayerClass::Sum
        | LayerClass::Product
        | LayerClass::AvgPool
        | LayerClass::MaxPool
        | LayerClass::Activation
        | LayerClass::Normalisation
        | LayerClass::LayerNorm
        | LayerClass::Concat => true,
        LayerClass::Input
        | LayerClass::Reshape
        | LayerClass::Select
        | LayerClass::Softmax
        | LayerClass::Constant => false,
    }
}

/// The node `layer` names, checked to output a feature map `[C, H, W]` before `start`.
pub fn feature_layer(graph: &Graph, layer: &LayerRef, start: NodeId) -> Result<NodeId> {
    let id = match layer {
        LayerRef::Index(i) if *i < graph.nodes.len() => *i,
        LayerRef::Index(i) => {
            return Err(Error::Invalid(format!(
                "layer index {i} does not exist: the model has nodes 0..{}",
                graph.nodes.len()
            )))
        }
        LayerRef::Name(name) => graph.find(name).ok_or_else(|| {
            let convs: Vec<&str> = graph
                .nodes
                .iter()
                .filter(|n| n.op.layer().class() == LayerClass::Convolution)
                .map(|n| n.name.as_str())
                .collect();
            Error::Invalid(format!(
                "no layer named '{name}'; convolutions: {}",
                convs.join(", ")
            ))
        })?,
    };
    let node = &graph.nodes[id];
    if !computes_feature_map(node.op.layer().class()) {
        return Err(Error::Invalid(
            format!(
                "'{}' ({}) passes values on without computing a feature map: choose a convolutional feature map",
                node.name,
                node.op.kind()
            ),
        ));
    }
    if node.shape.len() != 3 {
        return Err(Error::Invalid(format!(
            "layer '{}' ({}) outputs {:?}, not a convolutional feature map [C, H, W]",
            node.name,
            node.op.kind(),
            node.shape
        )));
    }
    if id >= start {
        return Err(Error::Invalid(format!(
            "layer '{}' does not come before the explained output '{}'",
            node.name, graph.nodes[start].name
        )));
    }
    Ok(id)
}

/// The last feature map `[C, H, W]` with more than one position before `start` (the map a
/// classifier head reads): the default layer of Grad-CAM.
pub fn last_feature_map(graph: &Graph, start: NodeId) -> Result<NodeId> {
    (1..start)
        .rev()
        .find(|&i| {
            let s = &graph.nodes[i].shape;
            s.len() == 3
                && s[1] * s[2] > 1
                && computes_feature_map(graph.nodes[i].op.layer().class())
        })
        .ok_or_else(|| Error::Invalid("the model has no convolutional feature map".into()))
}

/// CAM's head: the explained node must be a dense layer reading (through reshapes) a global
/// average pool. Returns the pooled feature map's node and the dense weights `[F, C]`.
pub fn gap_dense_head(graph: &Graph, start: NodeId) -> Result<(NodeId, Vec<f32>)> {
    let node = &graph.nodes[start];
    let no_head = |why: String| {
        Error::Invalid(format!(
            "CAM needs a global-average-pool + dense head, but {why}; use grad-cam instead"
        ))
    };
    let Op::Dense(d) = &node.op else {
        return Err(no_head(format!(
            "the explained output '{}' is {}",
            node.name,
            node.op.kind()
        )));
    };
    let mut i = node.inputs[0];
    while graph.nodes[i].op.layer().class() == LayerClass::Reshape {
        i = graph.nodes[i].inputs[0];
    }
    let pooled = &graph.nodes[i];
    // An average pool to one value per channel, whose window (if it has one) is the whole plane.
    let plane = &graph.nodes[pooled.inputs.first().copied().unwrap_or(0)].shape;
    let whole = pooled.op.layer().class() == LayerClass::AvgPool
        && pooled.shape.get(1..) == Some(&[1, 1][..])
        && !matches!(&pooled.op, Op::AvgPool2d(crate::layers::AvgPool2d(p))
            if p.kernel[..] != plane[1..] || p.pads != [0; 4]);
    if !whole {
        return Err(no_head(format!(
            "the dense layer '{}' reads '{}' ({})",
            node.name,
            pooled.name,
            pooled.op.kind()
        )));
    }
    Ok((pooled.inputs[0], d.weight.data.clone()))
}
