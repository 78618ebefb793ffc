//! Channel weights of the CAM family and pytorch-grad-cam's post-processing, on the host: they
//! touch one small feature map per input.

use crate::error::Result;
use crate::model::Tensor;
use crate::render::upsample::upsample;

/// Grad-CAM: `w_c = mean_hw ∂y/∂A_c`.
pub fn grad_cam_weights(grad: &[f32], channels: usize) -> Vec<f32> {
    let hw = grad.len() / channels;
    grad.chunks(hw)
        .map(|g| (g.iter().map(|&v| v as f64).sum::<f64>() / hw as f64) as f32)
        .collect()
}

/// Grad-CAM++ (Chattopadhay et al. 2018, eq. 19) as pytorch-grad-cam computes it:
/// `w_c = Σ_hw relu(G)·α`, `α = G² / (2G² + (Σ_hw A_c)·G³ + 1e-6)`, α = 0 where G = 0.
pub fn grad_cam_pp_weights(act: &[f32], grad: &[f32], channels: usize) -> Vec<f32> {
    let hw = grad.len() / channels;
    (0..channels)
        .map(|c| {
            let (a, g) = (&act[c * hw..(c + 1) * hw], &grad[c * hw..(c + 1) * hw]);
            let sum_a: f64 = a.iter().map(|&v| v as f64).sum();
            let w: f64 = g
                .iter()
                .map(|&gv| {
                    let gv = gv as f64;
                    if gv == 0.0 {
                        return 0.0;
                    }
                    let g2 = gv * gv;
                    let alpha = g2 / (2.0 * g2 + sum_a * g2 * gv + 1e-6);
                    gv.max(0.0) * alpha
                })
                .sum();
            w as f32
        })
        .collect()
}

/// `Σ_c w_c A_c` over a feature map `[C, h·w]`.
pub fn weighted_sum(act: &[f32], weights: &[f32]) -> Vec<f32> {
    let hw = act.len() / weights.len().max(1);
    let mut out = vec![0.0f64; hw];
    for (c, &w) in weights.iter().enumerate() {
        for (o, &a) in out.iter_mut().zip(&act[c * hw..(c + 1) * hw]) {
            *o += w as f64 * a as f64;
        }
    }
    out.iter().map(|&v| v as f32).collect()
}

/// pytorch-grad-cam's map from a raw CAM `[h, w]` to the input size `to`: ReLU, min-max
/// normalisation (`(c − min) / (1e-7 + max)`), bilinear resize (half-pixel centres, as
/// `F.interpolate(align_corners=False)` and `cv2.resize`), then ReLU and min-max again.
pub fn grad_cam_image(raw: &Tensor, to: (usize, usize)) -> Result<Tensor> {
    let mut c = raw.clone();
    relu_min_max(&mut c.data);
    let mut up = upsample(&c, to)?;
    relu_min_max(&mut up.data);
    Ok(up)
}

fn relu_min_max(v: &mut [f32]) {
    v.iter_mut().for_each(|x| *x = x.max(0.0));
    let lo = v.iter().cloned().fold(f32::INFINITY, f32::min);
    v.iter_mut().for_each(|x| *x -= lo);
    let hi = v.iter().cloned().fold(f32::NEG_INFINITY, f32::max);
    v.iter_mut().for_each(|x| *x /= 1e-7 + hi);
}
