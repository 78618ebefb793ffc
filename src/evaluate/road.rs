//! ROAD (Rong et al. 2022, Quantus's `ROAD`): remove the p % most relevant pixels by noisy
//! linear imputation and ask whether the model still predicts the class, for every p. Quantus
//! 0.6.0 ranks the C·H·W values of a map as if they were H·W pixels, which works for one channel
//! and fails on colour images; here pixels are ranked by their map summed over channels, which
//! is Quantus's order for one channel. The imputed copies go through the forward pass in batches.

use super::copies::{check_inputs, class_score, run_copies};
use super::imputation::impute;
use super::ranking::Order;
use crate::error::{Error, Result};
use crate::explain::argmax;
use crate::explain::gradient::gaussian_noise;
use crate::gpu::DeviceModel;
use crate::model::Tensor;
use crate::predict::Predictor;

/// ROAD's options.
#[derive(Clone, Debug, PartialEq)]
pub struct Road {
    /// Percentages of the pixels removed (Quantus: 1, 3, …, 99).
    pub percentages: Vec<f64>,
    /// σ of the Gaussian noise added to imputed values (Quantus: 0.01).
    pub noise: f32,
    /// Most relevant first (Quantus's) or least relevant first.
    pub order: Order,
    /// Seed of the noise: input i at percentage j always draws the same values.
    pub seed: u64,
}

impl Default for Road {
    fn default() -> Self {
        Road {
            percentages: (1..100).step_by(2).map(f64::from).collect(),
            noise: 0.01,
            order: Order::Morf,
            seed: 0,
        }
    }
}

/// ROAD curves of a batch.
#[derive(Clone, Debug)]
pub struct RoadEvaluation {
    /// 1 where the class is still predicted after imputing p %, per input and percentage,
    /// `[N, P]`.
    pub curves: Tensor,
    /// The class's softmax probability at every imputed copy, `[N, P]`.
    pub probabilities: Tensor,
    /// Per input, the mean of its curve.
    pub scores: Vec<f64>,
}

impl Road {
    /// Pixels removed at percentage `p` of an image of `pixels` (Quantus's int(size · p / 100)).
    pub fn removed(pixels: usize, p: f64) -> usize {
        ((pixels as f64 * p / 100.0) as usize).min(pixels)
    }

    /// The imputed copy of `x` (`[C, H, W]`) with the pixels `order` ranks first removed, at
    /// percentage index `j` of input `input` (the noise's key).
    pub fn imputed(
        &self,
        x: &[f32],
        chw: [usize; 3],
        ranked: &[usize],
        j: usize,
        input: usize,
    ) -> Result<Vec<f32>> {
        let [c, h, w] = chw;
        let k = Road::removed(h * w, self.percentages[j]);
        let pixels = &ranked[..k];
        let solved = impute(x, chw, pixels)?;
        let noise = gaussian_noise(self.seed, input, j, c * k, self.noise);
        let mut out = x.to_vec();
        for ch in 0..c {
            for (t, &p) in pixels.iter().enumerate() {
                out[ch * h * w + p] = (solved[ch * k + t] + noise[ch * k + t] as f64) as f32;
            }
        }
        Ok(out)
    }

    /// ROAD of `x` (`[N, C, H, W]`) explained by `maps` (`[N, C, H, W]` or `[N, 1, H, W]`) for
    /// `classes`, the logits read by `predictor`; `first` is x's first input's index in the
    /// run.
    pub fn evaluate(
        &self,
        model: &DeviceModel,
        predictor: &mut Predictor,
        x: &Tensor,
        maps: &Tensor,
        classes: &[usize],
        first: usize,
    ) -> Result<RoadEvaluation> {
        let shape = model.graph().input_shape();
        let [c, h, w] = match shape[..] {
            [c, h, w] => [c, h, w],
            _ => {
                return Err(Error::Invalid(format!(
                    "road imputes pixels of images [C, H, W]; the model takes {shape:?}"
                )))
            }
        };
        let n = check_inputs(model, x)?;
        let plane = h * w;
        let per_map = maps.numel() / n.max(1);
        if maps.shape.first() != Some(&n) || (per_map != c * plane && per_map != plane) {
            return Err(Error::Shape(format!(
                "maps of shape {:?} fit neither the inputs {:?} nor [N, 1, H, W]",
                maps.shape, x.shape
            )));
        }
        if classes.len() != n {
            return Err(Error::Shape(format!(
                "{} classes for {n} inputs",
                classes.len()
            )));
        }
        if self.percentages.is_empty() || self.percentages.iter().any(|p| !(0.0..100.0).contains(p))
        {
            return Err(Error::Invalid(format!(
                "road: percentages must lie in [0, 100), got {:?}",
                self.percentages
            )));
        }
        if matches!(self.order, Order::Random { .. }) {
            return Err(Error::Invalid(
                "road removes pixels in morf or lerf order".into(),
            ));
        }
        if !(self.noise.is_finite() && self.noise >= 0.0) {
            return Err(Error::Invalid(format!(
                "road: noise σ {} must be ≥ 0",
                self.noise
            )));
        }
        maps.check_finite("the maps")?;
        let p = self.percentages.len();
        let numel = c * plane;
        let mut curves = Tensor::zeros(vec![n, p]);
        let mut probabilities = Tensor::zeros(vec![n, p]);
        let graph = model.graph();
        let f: usize = graph.nodes[crate::explain::engine::explained_node(graph)]
            .shape
            .iter()
            .product();
        if let Some(&class) = classes.iter().find(|&&k| k >= f) {
            return Err(Error::Invalid(format!(
                "class {class} does not exist: the model has {f} outputs"
            )));
        }
        let mut ranked_of: Vec<Option<Vec<usize>>> = vec![None; n];
        // Copy k is percentage k % P of input k / P.
        run_copies(
            predictor,
            x,
            n * p,
            |k, out| {
                let (i, j) = (k / p, k % p);
                let ranked = ranked_of[i].get_or_insert_with(|| {
                    pixel_order(
                        &maps.data[i * per_map..(i + 1) * per_map],
                        plane,
                        self.order,
                    )
                });
                let xi = &x.data[i * numel..(i + 1) * numel];
                out.extend(self.imputed(xi, [c, h, w], ranked, j, first + i)?);
                Ok(())
            },
            |k, row| {
                let class = classes[k / p];
                curves.data[k] = f32::from(argmax(row) == class);
                probabilities.data[k] = class_score(row, class, true) as f32;
                Ok(())
            },
        )?;
        let scores = curves
            .data
            .chunks(p)
            .map(|r| r.iter().map(|&v| v as f64).sum::<f64>() / p as f64)
            .collect();
        Ok(RoadEvaluation {
            curves,
            probabilities,
            scores,
        })
    }
}

/// Pixels by their map summed over channels, most relevant first for MoRF (least for LeRF);
/// equal sums in index order.
fn pixel_order(map: &[f32], plane: usize, order: Order) -> Vec<usize> {
    let mut sums = vec![0.0f64; plane];
    for (f, &v) in map.iter().enumerate() {
        sums[f % plane] += v as f64;
    }
    let mut idx: Vec<usize> = (0..plane).collect();
    match order {
        Order::Lerf => idx.sort_by(|&a, &b| sums[a].total_cmp(&sums[b])),
        _ => idx.sort_by(|&a, &b| sums[b].total_cmp(&sums[a])),
    }
    idx
}
