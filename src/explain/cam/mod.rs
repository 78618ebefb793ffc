//! The CAM family: CAM (Zhou et al. 2016) for global-average-pool + dense heads, Grad-CAM
//! (Selvaraju et al. 2017) and Grad-CAM++ (Chattopadhay et al. 2018) at any convolutional
//! feature map. The GPU runs forward and the backward pass down to the chosen layer in one
//! submission and returns only that layer's value and gradient; the channel weights and the
//! upsampling to the input (pytorch-grad-cam's post-processing) are done here.
//!
//! Folding a BatchNorm into the convolution before it changes that convolution's output: to
//! take a CAM at a convolution followed by a BatchNorm, give the unfolded graph
//! ([`crate::onnx::load`]).

mod layer;
mod weights;

pub use layer::{feature_layer, gap_dense_head, last_feature_map};
pub use weights::{grad_cam_image, grad_cam_pp_weights, grad_cam_weights, weighted_sum};

use crate::error::Result;
use crate::explain::backward::{gradient_rules, Seed};
use crate::explain::engine::{explained_node, Engine, EngineSpec};
use crate::explain::explanation::{check_batch, target_of, CamExtras};
use crate::explain::gradient::AtInput;
use crate::explain::{Explanation, LayerRef, Target};
use crate::gpu::DeviceModel;
use crate::layers::GradMode;
use crate::model::{NodeId, Tensor};

/// Which CAM.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CamKind {
    /// CAM: the dense head's weights of the explained class.
    Cam,
    /// Grad-CAM: channel weights = spatial means of the gradient.
    GradCam,
    /// Grad-CAM++: channel weights from eq. 19 of the paper, as pytorch-grad-cam.
    GradCamPlusPlus,
}

/// A CAM plan for a model and a layer, compiled once.
pub struct CamPlan {
    engine: Engine,
    kind: CamKind,
    layer: NodeId,
    head: Option<Vec<f32>>,
    layer_shape: Vec<usize>,
    layer_name: String,
    in_shape: Vec<usize>,
}

impl CamPlan {
    /// Bytes this plan allocated on the device besides the model's shared weights (its
    /// tensor buffers and its own constants).
    pub fn memory_bytes(&self) -> u64 {
        self.engine.memory_bytes()
    }

    /// Plans `kind` at `layer` (by default CAM's pooled map, or the last feature map before
    /// the head for Grad-CAM) for up to `batch` inputs per submission.
    pub fn new(
        model: &DeviceModel,
        kind: CamKind,
        layer: Option<&LayerRef>,
        batch: usize,
    ) -> Result<Self> {
        let graph = model.graph();
        let start = explained_node(graph);
        let (layer, head) = match kind {
            CamKind::Cam => {
                let (pooled, w) = gap_dense_head(graph, start)?;
                if let Some(l) = layer {
                    let chosen = feature_layer(graph, l, start)?;
                    if chosen != pooled {
                        return Err(crate::Error::Invalid(format!(
                            "CAM is defined at the map the global average pool reads ('{}'), not at '{}'",
                            graph.nodes[pooled].name, graph.nodes[chosen].name
                        )));
                    }
                }
                (pooled, Some(w))
            }
            CamKind::GradCam | CamKind::GradCamPlusPlus => match layer {
                Some(l) => (feature_layer(graph, l, start)?, None),
                None => (last_feature_map(graph, start)?, None),
            },
        };
        let spec = EngineSpec {
            rules: gradient_rules(graph, GradMode::Gradient),
            seed: Seed::Gradient,
            reference: false,
            samples: 1,
            combine: None,
            stop: layer,
            read_stop_value: true,
            sums: false,
            batch,
            filter: Default::default(),
        };
        Ok(CamPlan {
            engine: Engine::new(model, &spec)?,
            kind,
            layer,
            head,
            layer_shape: graph.nodes[layer].shape.clone(),
            layer_name: graph.nodes[layer].name.clone(),
            in_shape: graph.input_shape().to_vec(),
        })
    }

    /// The layer the maps are taken at.
    pub fn layer(&self) -> NodeId {
        self.layer
    }

    /// Inputs per submission.
    pub fn batch(&self) -> usize {
        self.engine.inputs_per_run()
    }

    /// Explains `x` (`[N, ...input]`) with one target per item (or one for all).
    pub fn run(&mut self, x: &Tensor, targets: &[Target]) -> Result<Explanation> {
        let n = check_batch(x, &self.in_shape, targets)?;
        let src = AtInput { x, targets };
        let got = self.engine.run_all(n, &src, &[])?;
        let f = got.outputs.len() / n;
        let outputs = Tensor::new(vec![n, f], got.outputs)?;
        let values = got.stop_value.unwrap_or_default();
        let grads = got.m1;
        let (c, h, w) = (
            self.layer_shape[0],
            self.layer_shape[1],
            self.layer_shape[2],
        );
        let (ih, iw) = match self.in_shape.as_slice() {
            [_, ih, iw] => (*ih, *iw),
            _ => (h, w),
        };
        let l = c * h * w;
        let mut raw = Vec::with_capacity(n * h * w);
        let mut map = Vec::with_capacity(n * ih * iw);
        for i in 0..n {
            let (a, g) = (&values[i * l..(i + 1) * l], &grads[i * l..(i + 1) * l]);
            let weights = match self.kind {
                CamKind::Cam => {
                    let row = &outputs.data[i * f..(i + 1) * f];
                    let t = target_of(targets, i).weights_for(row)?;
                    let dense = self.head.as_deref().unwrap_or_default();
                    (0..c)
                        .map(|k| (0..f).map(|o| t[o] * dense[o * c + k]).sum())
                        .collect()
                }
                CamKind::GradCam => grad_cam_weights(g, c),
                CamKind::GradCamPlusPlus => grad_cam_pp_weights(a, g, c),
            };
            let r = Tensor::new(vec![1, h, w], weighted_sum(a, &weights))?;
            map.extend(grad_cam_image(&r, (ih, iw))?.data);
            raw.extend(r.data);
        }
        let map = Tensor::new(vec![n, 1, ih, iw], map)?;
        let mut e = Explanation::new(map, outputs, targets)?;
        e.cam = Some(CamExtras {
            raw: Tensor::new(vec![n, 1, h, w], raw)?,
            layer: self.layer,
            layer_name: self.layer_name.clone(),
        });
        Ok(e)
    }
}
