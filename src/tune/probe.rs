//! The network kernels are timed on when no model is given: one of each convolution shape the
//! shipped models and VGG16 spend their time in, small enough to time in seconds on lavapipe.

use crate::error::Result;
use crate::layers::{Conv2d, Dense, Elementwise, Func, GlobalAvgPool};
use crate::model::{Graph, Op, Tensor};
use crate::rng::SplitMix;

/// Input side of the probe (32 channels): VGG16's 56×56 stage.
const SIDE: usize = 56;

/// The probe, its time mostly in 3×3 convolutions as VGG-like and ResNet-like models spend
/// theirs: 32 → 64 (too narrow for Winograd), 64 → 64, 64 → 128 with stride 2 (28×28 out),
/// 128 → 128, then a 1×1 expansion 128 → 256 (EfficientNet's kind), each followed by ReLU, then
/// global average pooling and a 256 → 1000 classifier. 0.37 G multiply-adds per item, 62 % of
/// them in the convolutions Winograd takes.
pub fn probe_graph() -> Result<Graph> {
    let mut rng = SplitMix(0x7u64);
    let mut g = Graph::new(vec![32, SIDE, SIDE])?;
    let mut at = 0;
    let layers = [
        (32, 64, 3, 1),
        (64, 64, 3, 1),
        (64, 128, 3, 2),
        (128, 128, 3, 1),
        (128, 256, 1, 1),
    ];
    for (i, &(cin, cout, k, stride)) in layers.iter().enumerate() {
        let pad = k / 2;
        let conv = Conv2d {
            weight: he(&mut rng, vec![cout, cin, k, k], cin * k * k)?,
            bias: Some(vec![0.01; cout]),
            stride: [stride, stride],
            pads: [pad; 4],
            dilation: [1, 1],
            groups: 1,
        };
        at = g.push(format!("conv{i}"), Op::Conv2d(conv), vec![at])?;
        let relu = Op::Elementwise(Elementwise::new(Func::Relu));
        at = g.push(format!("relu{i}"), relu, vec![at])?;
    }
    at = g.push("pool", Op::GlobalAvgPool(GlobalAvgPool), vec![at])?;
    let fc = Dense {
        weight: he(&mut rng, vec![1000, 256], 256)?,
        bias: Some(vec![0.0; 1000]),
    };
    g.push("fc", Op::Dense(fc), vec![at])?;
    Ok(g)
}

/// The dense probe: VGG's classifier at half width, 4096 → 2048 → ReLU → 2048 → 1000 (the
/// convolution probe's classifier is too small to time the dense kernels on). 12.4 M
/// multiply-adds per item.
pub fn dense_probe_graph() -> Result<Graph> {
    let mut rng = SplitMix(0x5u64);
    let mut g = Graph::new(vec![4096])?;
    let mut at = 0;
    for (i, (inputs, outputs)) in [(4096, 2048), (2048, 1000)].into_iter().enumerate() {
        if i > 0 {
            let relu = Op::Elementwise(Elementwise::new(Func::Relu));
            at = g.push(format!("relu{i}"), relu, vec![at])?;
        }
        let fc = Dense {
            weight: he(&mut rng, vec![outputs, inputs], inputs)?,
            bias: Some(vec![0.0; outputs]),
        };
        at = g.push(format!("fc{i}"), Op::Dense(fc), vec![at])?;
    }
    Ok(g)
}

/// He-normal weights of `shape` for `fan_in` inputs.
fn he(rng: &mut SplitMix, shape: Vec<usize>, fan_in: usize) -> Result<Tensor> {
    let n = shape.iter().product();
    let scale = (2.0 / fan_in as f64).sqrt();
    Tensor::new(
        shape,
        (0..n).map(|_| (rng.normal() * scale) as f32).collect(),
    )
}

/// A seeded standard-normal batch for `graph`.
pub fn probe_input(graph: &Graph, batch: usize) -> Result<Tensor> {
    let mut rng = SplitMix(0x11u64 + batch as u64);
    let shape: Vec<usize> = std::iter::once(batch)
        .chain(graph.input_shape().iter().copied())
        .collect();
    let n = shape.iter().product();
    Tensor::new(shape, (0..n).map(|_| rng.normal() as f32).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_probe_has_every_family_and_the_stated_size() {
        let g = probe_graph().unwrap();
        let convs = g.nodes.iter().filter(|n| matches!(n.op, Op::Conv2d(_)));
        assert_eq!(convs.count(), 5);
        assert!(g.nodes.iter().any(|n| matches!(n.op, Op::Dense(_))));
        let gmacs = g.macs_per_item() as f64 / 1e9;
        assert!((gmacs - 0.373).abs() < 0.001, "{gmacs} G multiply-adds");
        let dense = dense_probe_graph().unwrap();
        assert_eq!(dense.macs_per_item(), 4096 * 2048 + 2048 * 1000);
    }
}
