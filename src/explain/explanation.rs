//! The one result type of every method, and the checks every method makes of its inputs.

use super::Target;
use crate::error::{Error, Result};
use crate::model::{NodeId, Tensor};

/// Relevance of one node, summed per item, for the conservation report.
#[derive(Clone, Debug, PartialEq)]
pub struct LayerSum {
    /// Node name.
    pub name: String,
    /// Node kind.
    pub kind: &'static str,
    /// Sum of relevance per batch item.
    pub sums: Vec<f32>,
}

/// What a CAM adds to its explanation.
#[derive(Clone, Debug)]
pub struct CamExtras {
    /// `Σ_c w_c A_c` at the layer's resolution, before any ReLU, `[N, 1, h, w]` (Captum's
    /// `LayerGradCam`, pytorch-grad-cam's `get_cam_image`).
    pub raw: Tensor,
    /// The layer the maps were taken at.
    pub layer: NodeId,
    /// Its name.
    pub layer_name: String,
}

/// What reached one inner node (filtering's `record`).
#[derive(Clone, Debug)]
pub struct Recorded {
    /// The node and its name.
    pub node: NodeId,
    pub name: String,
    /// Relevance (or gradient) at the node, `[N, ...its shape]`.
    pub relevance: Tensor,
    /// Concept relevance per item and channel, `[N, C]` (zennit-crp's `ChannelConcept.attribute`:
    /// each channel's sum over the sum of their magnitudes).
    pub concepts: Tensor,
}

impl Recorded {
    /// The record of node `node` from its values `[n × item]`.
    pub(crate) fn new(node: NodeId, name: &str, shape: &[usize], values: Vec<f32>) -> Result<Self> {
        let n = values.len() / shape.iter().product::<usize>().max(1);
        let concepts = super::filter::concept_relevance(&values, n, shape[0]);
        Ok(Recorded {
            node,
            name: name.to_string(),
            relevance: Tensor::new(batch_shape(n, shape), values)?,
            concepts: Tensor::new(vec![n, shape[0]], concepts)?,
        })
    }
}

/// The result of explaining a batch, for every method.
#[derive(Clone, Debug)]
pub struct Explanation {
    /// The map over the input, `[N, ...input shape]` (relevance, attribution; a CAM's map is
    /// `[N, 1, H, W]` in `[0, 1]`).
    pub map: Tensor,
    /// The explained outputs f(x) (logits when the model ends in a softmax), `[N, F]`.
    pub outputs: Tensor,
    /// The class each item was explained for (argmax of its weighting).
    pub classes: Vec<usize>,
    /// The explained score `w · f(x)` per item.
    pub scores: Vec<f64>,
    /// Per-layer relevance sums, from output to input (LRP with the conservation report).
    pub layers: Option<Vec<LayerSum>>,
    /// The raw CAM and its layer (the CAM family).
    pub cam: Option<CamExtras>,
    /// The score at the reference point per item: f(x′) at the baseline (IG, DeepLIFT), or
    /// f(x̃) at Taylor's root point.
    pub reference_scores: Option<Vec<f64>>,
    /// What the map leaves unexplained per item: `f(x) − f(x′) − ΣR` for IG and DeepLIFT
    /// (completeness), `f(x) − ΣR` for Taylor.
    pub residuals: Option<Vec<f64>>,
    /// What reached the recorded inner nodes (filtering).
    pub records: Vec<Recorded>,
    /// The windows an input larger than the model's was explained by (sliding windows).
    pub windows: Option<super::window::WindowExtras>,
}

impl Explanation {
    /// Sum of the map per item.
    pub fn sums(&self) -> Vec<f64> {
        let n = self.map.shape[0];
        let item = self.map.numel() / n.max(1);
        self.map
            .data
            .chunks(item.max(1))
            .map(|c| c.iter().map(|&v| v as f64).sum())
            .collect()
    }

    /// Builds the result from the map and the outputs at x, resolving each item's class.
    pub(crate) fn new(map: Tensor, outputs: Tensor, targets: &[Target]) -> Result<Self> {
        let f = outputs.shape[1];
        let mut classes = Vec::with_capacity(outputs.shape[0]);
        let mut scores = Vec::with_capacity(outputs.shape[0]);
        for (i, row) in outputs.data.chunks(f).enumerate() {
            let w = target_of(targets, i).weights_for(row)?;
            classes.push(super::argmax(&w));
            scores.push(dot(&w, row));
        }
        Ok(Explanation {
            map,
            outputs,
            classes,
            scores,
            layers: None,
            cam: None,
            reference_scores: None,
            residuals: None,
            records: Vec::new(),
            windows: None,
        })
    }

    /// Sets the reference scores from the outputs at the references, and the residuals
    /// `score − reference − ΣR` (`subtract`) or `score − ΣR`.
    pub(crate) fn with_reference(
        mut self,
        reference_outputs: &[f32],
        targets: &[Target],
        subtract: bool,
    ) -> Result<Self> {
        let f = self.outputs.shape[1];
        let mut refs = Vec::with_capacity(self.scores.len());
        for i in 0..self.scores.len() {
            let w = target_of(targets, i).weights_for(&self.outputs.data[i * f..(i + 1) * f])?;
            refs.push(dot(&w, &reference_outputs[i * f..(i + 1) * f]));
        }
        let sums = self.sums();
        self.residuals = Some(
            (0..refs.len())
                .map(|i| self.scores[i] - if subtract { refs[i] } else { 0.0 } - sums[i])
                .collect(),
        );
        self.reference_scores = Some(refs);
        Ok(self)
    }
}

fn dot(w: &[f32], v: &[f32]) -> f64 {
    w.iter().zip(v).map(|(a, b)| *a as f64 * *b as f64).sum()
}

/// The target of item `i` (one for all, or one per item).
pub(crate) fn target_of(targets: &[Target], i: usize) -> &Target {
    &targets[if targets.len() == 1 { 0 } else { i }]
}

/// Checks a batch `[N, ...input]` (N ≥ 1, finite) and its targets (one, or one per item).
pub(crate) fn check_batch(x: &Tensor, in_shape: &[usize], targets: &[Target]) -> Result<usize> {
    if x.shape.len() != in_shape.len() + 1 || x.shape[1..] != in_shape[..] || x.shape[0] == 0 {
        return Err(Error::Shape(format!(
            "the model takes [N, {in_shape:?}], got {:?}",
            x.shape
        )));
    }
    x.check_finite("the input batch")?;
    let n = x.shape[0];
    if targets.is_empty() || (targets.len() != 1 && targets.len() != n) {
        return Err(Error::Invalid(format!(
            "{} targets for {n} inputs: give one, or one per input",
            targets.len()
        )));
    }
    Ok(n)
}

/// The shape `[n, ...item]`.
pub(crate) fn batch_shape(n: usize, item: &[usize]) -> Vec<usize> {
    std::iter::once(n).chain(item.iter().cloned()).collect()
}
