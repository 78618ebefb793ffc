//! Seeded Gaussian noise for SmoothGrad: the same seed, input index and sample always give the
//! same noise, whatever the batching.

/// SplitMix64: a small, well-mixed generator.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in (0, 1].
    fn unit(&mut self) -> f64 {
        ((self.next() >> 11) + 1) as f64 / (1u64 << 53) as f64
    }
}

/// `len` values of N(0, σ²) for sample `sample` of input `input` under `seed` (Box–Muller).
pub fn gaussian_noise(seed: u64, input: usize, sample: usize, len: usize, sigma: f32) -> Vec<f32> {
    let mut key = SplitMix(seed ^ 0x5EED_0000_0000_0000);
    let mut rng = SplitMix(
        key.next()
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
