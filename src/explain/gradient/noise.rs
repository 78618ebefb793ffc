//! Seeded Gaussian noise for SmoothGrad: the same seed, input index and sample always give the
//! same noise, whatever the batching.

use crate::rng::SplitMix;

/// `len` values of N(0, σ²) for sample `sample` of input `input` under `seed` (Box–Muller).
pub fn gaussian_noise(seed: u64, input: usize, sample: usize, len: usize, sigma: f32) -> Vec<f32> {
    let mut key = SplitMix(seed ^ 0x5EED_0000_0000_0000);
    let mut rng = SplitMix(
        key.next_u64()
            ^ (input as u64).wrapping_mul(0xA24B_AED4_963E_E407)
            ^ (sample as u64).wrapping_mul(0x9FB2_1C65_1E98_DF25),
    );
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
/// robustness metrics' noise (Quantus's `uniform_noise`, Captum's `sensitivity_max`), drawn from
/// a stream of its own so that it never repeats SmoothGrad's.
pub fn uniform_noise(
    seed: u64,
    input: usize,
    sample: usize,
    len: usize,
    low: f64,
    high: f64,
) -> Vec<f64> {
    let mut key = SplitMix(seed ^ 0x5EED_0000_0000_0001);
    let mut rng = SplitMix(
        key.next_u64()
            ^ (input as u64).wrapping_mul(0xA24B_AED4_963E_E407)
            ^ (sample as u64).wrapping_mul(0x9FB2_1C65_1E98_DF25),
    );
    (0..len)
        .map(|_| low + (high - low) * rng.uniform())
        .collect()
}
