//! Seeded noise: the same seed, input index and sample always give the same numbers, whatever
//! the batching. SmoothGrad's Gaussian noise, and the metrics' uniform noise, random subsets
//! and baseline values, each from a stream of its own (a salt per use).

use crate::rng::SplitMix;

/// Salts of the streams (the seed is xor-ed with one before keying).
const GAUSSIAN: u64 = 0x5EED_0000_0000_0000;
const UNIFORM: u64 = 0x5EED_0000_0000_0001;
/// Faithfulness correlation's random subsets.
pub const SUBSETS: u64 = 0x5EED_0000_0000_0002;
/// Monotonicity correlation's uniform baseline values.
pub const BASELINES: u64 = 0x5EED_0000_0000_0003;

/// The generator of copy `sample` of input `input` under `seed` for the use `salt`.
fn stream(seed: u64, salt: u64, input: usize, sample: usize) -> SplitMix {
    let mut key = SplitMix(seed ^ salt);
    SplitMix(
        key.next_u64()
            ^ (input as u64).wrapping_mul(0xA24B_AED4_963E_E407)
            ^ (sample as u64).wrapping_mul(0x9FB2_1C65_1E98_DF25),
    )
}

/// `len` values of N(0, σ²) for sample `sample` of input `input` under `seed` (Box–Muller).
pub fn gaussian_noise(seed: u64, input: usize, sample: usize, len: usize, sigma: f32) -> Vec<f32> {
    let mut rng = stream(seed, GAUSSIAN, input, sample);
    let mut out = Vec::with_capacity(len + 1);
    while out.len() < len {
        let (u1, u2) = (rng.unit(), rng.unit());
        let r = (-2.0 * u1.ln()).sqrt();
        let t = std::f64::consts::TAU * u2;
        out.push((r * t.cos()) as f32 * sigma);
        out.push((r * t.sin()) as f32 * sigma);
    }
    out.truncate(len);
    out
}

/// `len` values of U(low, high) in f64 for sample `sample` of input `input` under `seed`: the
/// robustness metrics' noise (Quantus's `uniform_noise`, Captum's `sensitivity_max`).
pub fn uniform_noise(
    seed: u64,
    input: usize,
    sample: usize,
    len: usize,
    low: f64,
    high: f64,
) -> Vec<f64> {
    let mut rng = stream(seed, UNIFORM, input, sample);
    (0..len)
        .map(|_| low + (high - low) * rng.uniform())
        .collect()
}

/// `k` distinct indices of `0..n` drawn without replacement (a partial Fisher–Yates shuffle),
/// in draw order, for draw `sample` of input `input`.
pub fn subset(seed: u64, salt: u64, input: usize, sample: usize, n: usize, k: usize) -> Vec<usize> {
    let mut rng = stream(seed, salt, input, sample);
    let mut idx: Vec<usize> = (0..n).collect();
    for j in 0..k.min(n) {
        let t = j + rng.below(n - j);
        idx.swap(j, t);
    }
    idx.truncate(k.min(n));
    idx
}

/// One value of U(low, high) for draw `sample` of input `input` under `seed` and `salt`.
pub fn uniform_value(
    seed: u64,
    salt: u64,
    input: usize,
    sample: usize,
    low: f64,
    high: f64,
) -> f64 {
    low + (high - low) * stream(seed, salt, input, sample).uniform()
}
