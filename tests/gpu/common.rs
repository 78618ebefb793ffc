//! Shared by the GPU tests: one device, seeded data, the tolerance check, the f64 references.
#![allow(dead_code)]

use std::sync::OnceLock;

use glimpse::gpu::GpuOptions;
use glimpse::tune::TuneCache;
use glimpse::{DeviceModel, Gpu, Graph, Tensor};

/// The device every test of this binary shares, its kernels chosen by adapter type (or
/// `GLIMPSE_KERNELS`), never by what this machine measured: golden figures stay reproducible.
/// No adapter is a failure, never a skip.
pub fn gpu() -> &'static Gpu {
    static GPU: OnceLock<Gpu> = OnceLock::new();
    let options = GpuOptions {
        tune_cache: TuneCache::Off,
        ..GpuOptions::default()
    };
    GPU.get_or_init(|| match Gpu::with_options(&options) {
        Ok(g) => g,
        Err(e) => panic!("GPU tests need an adapter: {e}"),
    })
}

/// A device of its own with storage-buffer bindings capped at `max_binding` bytes (to test
/// batch splitting and chunking), its kernels chosen as the shared device's are.
pub fn limited(max_binding: u64) -> Gpu {
    Gpu::with_options(&GpuOptions {
        max_binding: Some(max_binding),
        tune_cache: TuneCache::Off,
        ..GpuOptions::default()
    })
    .unwrap()
}

/// `graph` on the shared device.
pub fn model(graph: &Graph) -> DeviceModel {
    DeviceModel::new(gpu(), graph.clone())
}

/// A small seeded generator (xorshift64*), so tests need no extra crate.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    /// Uniform in [-1, 1).
    pub fn next(&mut self) -> f32 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        let v = self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 40;
        (v as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
    }
    pub fn vec(&mut self, n: usize) -> Vec<f32> {
        (0..n).map(|_| self.next()).collect()
    }
    pub fn tensor(&mut self, shape: &[usize]) -> Tensor {
        let n = shape.iter().product();
        Tensor::new(shape.to_vec(), self.vec(n)).unwrap()
    }
}

/// Asserts `|got − want| ≤ atol + rtol·|want|` element-wise, naming the worst element.
pub fn assert_close(what: &str, got: &[f32], want: &[f64], atol: f64, rtol: f64) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    let mut worst = (0usize, 0.0f64);
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        let excess = (g as f64 - w).abs() - (atol + rtol * w.abs());
        if excess > worst.1 || !g.is_finite() {
            worst = (i, if g.is_finite() { excess } else { f64::INFINITY });
        }
    }
    assert!(
        worst.1 <= 0.0,
        "{what}: element {} is {} but the reference is {} (tolerance {atol} + {rtol}·|ref|)",
        worst.0,
        got[worst.0],
        want[worst.0]
    );
}

/// The f64 reference relevance at the input for `composite`, starting from `w ⊙ f(x)` with each
/// item's target weighting (one target, or one per item).
pub fn reference_relevance(
    graph: &glimpse::Graph,
    composite: &glimpse::explain::Composite,
    x: &Tensor,
    targets: &[glimpse::explain::Target],
) -> Tensor<f64> {
    let xs = x.to_f64();
    let start = glimpse::explain::explained_node(graph);
    let out = &glimpse::layers::reference_forward(graph, &xs)[start];
    let f = out.shape[1];
    let mut seed = Tensor::zeros(out.shape.clone());
    for i in 0..x.shape[0] {
        let row: Vec<f32> = out.data[i * f..(i + 1) * f]
            .iter()
            .map(|&v| v as f32)
            .collect();
        let w = targets[i.min(targets.len() - 1)].weights_for(&row).unwrap();
        for (j, wj) in w.iter().enumerate() {
            seed.data[i * f + j] = *wj as f64 * out.data[i * f + j];
        }
    }
    let rules = composite.node_rules(graph, start).unwrap();
    let r = glimpse::explain::backward::reference_backward(graph, &rules, &xs, start, &seed, None);
    r[0].clone().expect("relevance reaches the input")
}

/// `assets/<path>` of the repository.
pub fn asset(path: &str) -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("assets")
        .join(path)
}

/// max |got − want| ÷ max |want|.
pub fn relative(got: &[f64], want: &[f32]) -> f64 {
    let scale = want.iter().fold(0.0f64, |a, &v| a.max(v.abs() as f64));
    let worst = got
        .iter()
        .zip(want)
        .fold(0.0f64, |a, (&g, &w)| a.max((g - w as f64).abs()));
    worst / scale
}

/// Central finite differences (h = 1e-6) of the f64 reference's logit `class` at item `item` of
/// the batch `x`: what the gradient tests hold a GPU gradient to.
pub fn finite_difference_gradient(
    graph: &Graph,
    x: &Tensor,
    item: usize,
    class: usize,
) -> Vec<f64> {
    let d = x.numel() / x.shape[0];
    let x0: Vec<f64> = x.data[item * d..(item + 1) * d]
        .iter()
        .map(|&v| v as f64)
        .collect();
    let mut shape = x.shape.clone();
    shape[0] = 1;
    let score = |v: &[f64]| {
        let t = Tensor::new(shape.clone(), v.to_vec()).unwrap();
        glimpse::layers::reference_forward(graph, &t)[graph.output].data[class]
    };
    (0..d)
        .map(|j| {
            let (mut up, mut down) = (x0.clone(), x0.clone());
            up[j] += 1e-6;
            down[j] -= 1e-6;
            (score(&up) - score(&down)) / 2e-6
        })
        .collect()
}
