//! Kernel rates per flavor: the 1024³ matmul (the device's ceiling) and one VGG16 convolution
//! (conv3: 56×56 = 3136 pixels, 256 → 256 channels, 3×3, so a 3136×256×2304 GEMM).

use super::matmul::MatmulBench;
use super::timing::{median_time, ForwardBench};
use crate::zoo::Normal;
use glimpse::error::Result;
use glimpse::gpu::{Gpu, KernelFlavor};
use glimpse::layers::Conv2d;
use glimpse::model::{Graph, Op};

/// Side of the square matmul that sets the ceiling.
pub const CEILING_N: usize = 1024;

/// A graph of one convolution `cin → cout`, 3×3, padding 1, on `hw × hw`, seeded weights.
pub fn conv_graph(cin: usize, cout: usize, hw: usize) -> Result<Graph> {
    let mut rng = Normal::new(3);
    let mut g = Graph::new(vec![cin, hw, hw])?;
    let c = Conv2d {
        weight: rng.he(vec![cout, cin, 3, 3], cin * 9),
        bias: Some(vec![0.0; cout]),
        stride: [1, 1],
        pads: [1, 1, 1, 1],
        dilation: [1, 1],
        groups: 1,
    };
    g.push("conv", Op::Conv2d(c), vec![0])?;
    Ok(g)
}

/// VGG16's conv3 layers: a 3136×256×2304 implicit GEMM.
pub fn vgg_conv_graph() -> Result<Graph> {
    conv_graph(256, 256, 56)
}

/// Rates of one kernel flavor.
#[derive(Clone, Debug)]
pub struct KernelRow {
    /// The flavor.
    pub flavor: KernelFlavor,
    /// 1024³ matmul, GFLOP/s.
    pub matmul_gflops: f64,
    /// VGG16 conv3 (batch 1), GFLOP/s.
    pub conv_gflops: f64,
}

/// The ceiling: GFLOP/s of the 1024³ matmul in the device's flavor, median of `reps`.
pub fn ceiling_gflops(gpu: &Gpu, reps: usize) -> Result<f64> {
    let mut m = MatmulBench::new(gpu, CEILING_N)?;
    let t = median_time(reps, || m.run())?;
    Ok(m.flops() / t.as_secs_f64() / 1e9)
}

/// GFLOP/s of VGG16's conv3 at batch 1 in the device's flavor, median of `reps`.
pub fn conv_gflops(gpu: &Gpu, reps: usize) -> Result<f64> {
    let g = vgg_conv_graph()?;
    let flops = 2.0 * g.macs_per_item() as f64;
    let mut f = ForwardBench::new(&glimpse::DeviceModel::new(gpu, g), 1)?;
    let t = median_time(reps, || f.run())?;
    Ok(flops / t.as_secs_f64() / 1e9)
}

/// Both rates for every flavor the device supports.
pub fn measure_kernels(gpu: &Gpu, reps: usize) -> Result<Vec<KernelRow>> {
    gpu.supported_flavors()
        .into_iter()
        .map(|flavor| {
            let g = gpu.with_flavor(flavor);
            Ok(KernelRow {
                flavor,
                matmul_gflops: ceiling_gflops(&g, reps)?,
                conv_gflops: conv_gflops(&g, reps)?,
            })
        })
        .collect()
}
