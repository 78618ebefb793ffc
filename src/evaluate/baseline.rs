//! What a removed region is replaced with. Quantus's names: `black` and `white` are the
//! input's minimum and maximum, `mean` the mean of the input *as perturbed so far* (Quantus
//! recomputes it before every step, so later regions get a drifting value), `uniform` one
//! draw per step from U(low, high); `blur` (ours) the input blurred by a Gaussian.

use super::ranking::{order_of, Grid};
use crate::error::{Error, Result};
use crate::rng::SplitMix;

/// A perturbation baseline.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Baseline {
    /// The input's minimum (Quantus's default).
    Black,
    /// The input's maximum.
    White,
    /// The mean of the current perturbed input (padded as Quantus pads it for patches).
    Mean,
    /// One value per input and step from U(low, high), seeded (Quantus: 0 and 1).
    Uniform {
        /// Lower bound.
        low: f32,
        /// Upper bound.
        high: f32,
        /// Seed; input `i` draws from `seed + i`.
        seed: u64,
    },
    /// The input blurred per channel by a Gaussian of this standard deviation in pixels
    /// (kernel radius 3σ, edges clamped).
    Blur {
        /// σ in pixels.
        sigma: f32,
    },
    /// A constant.
    Value(f32),
}

impl Baseline {
    /// Parses `black`, `white`, `mean`, `uniform`, `blur` or a number.
    pub fn parse(s: &str, seed: u64, sigma: f32) -> Result<Baseline> {
        match s.to_ascii_lowercase().as_str() {
            "black" => Ok(Baseline::Black),
            "white" => Ok(Baseline::White),
            "mean" => Ok(Baseline::Mean),
            "uniform" => Ok(Baseline::Uniform {
                low: 0.0,
                high: 1.0,
                seed,
            }),
            "blur" => Ok(Baseline::Blur { sigma }),
            other => match other.parse::<f32>() {
                Ok(v) if v.is_finite() => Ok(Baseline::Value(v)),
                _ => Err(Error::Invalid(format!(
                    "baseline '{s}' is not black, white, mean, uniform, blur or a number"
                ))),
            },
        }
    }

    /// A name for summaries.
    pub fn name(&self) -> String {
        match self {
            Baseline::Black => "black".into(),
            Baseline::White => "white".into(),
            Baseline::Mean => "mean".into(),
            Baseline::Uniform { low, high, .. } => format!("uniform({low},{high})"),
            Baseline::Blur { sigma } => format!("blur({sigma})"),
            Baseline::Value(v) => format!("{v}"),
        }
    }

    /// Whether the fill is an image (one value per input value) rather than one per step.
    pub fn is_image(&self) -> bool {
        matches!(self, Baseline::Blur { .. })
    }
}

/// The replacement values of one input: one per step (the regions removed at step k get
/// `values[k − 1]`), or an image.
pub fn fill(
    x: &[f32],
    grid: &Grid,
    ranks: &[u32],
    per_step: usize,
    steps: usize,
    baseline: Baseline,
    item: usize,
) -> Vec<f32> {
    let min = x.iter().copied().fold(f32::INFINITY, f32::min);
    let max = x.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    match baseline {
        Baseline::Black => vec![min; steps],
        Baseline::White => vec![max; steps],
        Baseline::Value(v) => vec![v; steps],
        Baseline::Uniform { low, high, seed } => {
            let mut rng = SplitMix(seed.wrapping_add(item as u64));
            (0..steps)
                .map(|_| (low as f64 + (high - low) as f64 * rng.uniform()) as f32)
                .collect()
        }
        Baseline::Mean => drifting_mean(x, grid, ranks, per_step, steps),
        Baseline::Blur { sigma } => blur(x, grid.chw, sigma),
    }
}

/// Quantus's `mean`: before step k the mean of the (edge-padded, for patches) input with the
/// regions of steps 1…k−1 replaced.
fn drifting_mean(x: &[f32], grid: &Grid, ranks: &[u32], per_step: usize, steps: usize) -> Vec<f32> {
    let (sums, numel) = padded_region_sums(x, grid);
    let cells = grid.cells_per_region() as f64;
    let mut total: f64 = sums.iter().sum();
    let order = order_of(ranks);
    let mut out = Vec::with_capacity(steps);
    for k in 0..steps {
        let m = (total / numel as f64) as f32;
        out.push(m);
        let (a, b) = (
            (k * per_step).min(order.len()),
            ((k + 1) * per_step).min(order.len()),
        );
        for &r in &order[a..b] {
            // Quantus fills in float32 and sums in float32; the f64 sum differs by rounding.
            total += cells * m as f64 - sums[r];
        }
    }
    out
}

/// Each region's sum over the edge-padded image and the padded image's size.
fn padded_region_sums(x: &[f32], grid: &Grid) -> (Vec<f64>, usize) {
    if grid.features {
        return (x.iter().map(|&v| v as f64).collect(), x.len());
    }
    let [c, h, w] = grid.chw;
    let (hp, wp) = (grid.blocks[0] * grid.size, grid.blocks[1] * grid.size);
    let mut sums = vec![0.0f64; grid.count()];
    for ch in 0..c {
        for yp in 0..hp {
            let y = yp.saturating_sub(grid.pad[0]).min(h - 1);
            for xp in 0..wp {
                let xx = xp.saturating_sub(grid.pad[1]).min(w - 1);
                let r = (yp / grid.size) * grid.blocks[1] + xp / grid.size;
                sums[r] += x[(ch * h + y) * w + xx] as f64;
            }
        }
    }
    (sums, c * hp * wp)
}

/// A separable Gaussian blur per channel, edges clamped.
fn blur(x: &[f32], [c, h, w]: [usize; 3], sigma: f32) -> Vec<f32> {
    let radius = (3.0 * sigma).ceil().max(0.0) as isize;
    let weights: Vec<f64> = (-radius..=radius)
        .map(|d| (-((d * d) as f64) / (2.0 * (sigma as f64).powi(2)).max(1e-12)).exp())
        .collect();
    let norm: f64 = weights.iter().sum();
    let pass = |src: &[f64], along_w: bool| -> Vec<f64> {
        let mut out = vec![0.0; src.len()];
        for ch in 0..c {
            for y in 0..h {
                for xx in 0..w {
                    let mut s = 0.0;
                    for (i, wt) in weights.iter().enumerate() {
                        let d = i as isize - radius;
                        let (yy, xs) = if along_w {
                            (y, (xx as isize + d).clamp(0, w as isize - 1) as usize)
                        } else {
                            ((y as isize + d).clamp(0, h as isize - 1) as usize, xx)
                        };
                        s += wt * src[(ch * h + yy) * w + xs];
                    }
                    out[(ch * h + y) * w + xx] = s / norm;
                }
            }
        }
        out
    };
    let v: Vec<f64> = x.iter().map(|&v| v as f64).collect();
    pass(&pass(&v, true), false)
        .into_iter()
        .map(|v| v as f32)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::evaluate::ranking::Regions;

    #[test]
    fn mean_drifts_as_quantus_recomputes_it() {
        let x = [0.0f32, 4.0, 8.0, 12.0];
        let g = Grid::new(&[4], Regions::Features).unwrap();
        // Remove index 3, then 2, one per step: means 6, (0+4+8+6)/4 = 4.5, (0+4+4.5+6)/4.
        let m = fill(&x, &g, &[3, 2, 1, 0], 1, 3, Baseline::Mean, 0);
        assert_eq!(m, vec![6.0, 4.5, 3.625]);
    }

    #[test]
    fn padded_sums_repeat_the_edges() {
        let x: Vec<f32> = (0..9).map(|v| v as f32).collect();
        let g = Grid::new(&[1, 3, 3], Regions::Patches { size: 2 }).unwrap();
        let (sums, numel) = padded_region_sums(&x, &g);
        assert_eq!(numel, 16);
        // One row and column of padding, all below and right (Quantus's floor / ceil split):
        // rows [0 1 2 2 / 3 4 5 5 / 6 7 8 8 / 6 7 8 8].
        assert_eq!(g.pad, [0, 0]);
        assert_eq!(sums, vec![8.0, 14.0, 26.0, 32.0]);
    }

    #[test]
    fn blur_keeps_constants_and_smooths() {
        let flat = blur(&[2.0; 25], [1, 5, 5], 1.0);
        assert!(flat.iter().all(|v| (v - 2.0).abs() < 1e-6));
        let mut x = [0.0f32; 25];
        x[12] = 1.0;
        let b = blur(&x, [1, 5, 5], 1.0);
        assert!(b[12] < 1.0 && b[11] > 0.0 && (b[11] - b[13]).abs() < 1e-7);
    }
}
