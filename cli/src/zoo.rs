//! Networks built in code with seeded random weights, for benchmarks: VGG16 at 224² and a small
//! VGG-style net for quick runs. Weights are He-scaled (`N(0, 2/fan_in)`), biases zero, so
//! activations keep their scale through the ReLUs and stay finite.

use glimpse::error::Result;
use glimpse::layers::{Conv2d, Dense, Pool2d};
use glimpse::model::{Graph, Op, Tensor};

/// One feature-extractor stage of a VGG: a 3×3 convolution (padding 1) + ReLU with this many
/// output channels, or a 2×2 max pool with stride 2.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VggStage {
    /// Convolution 3×3, padding 1, then ReLU.
    Conv(usize),
    /// Max pool 2×2, stride 2.
    Pool,
}

use VggStage::{Conv as C, Pool as P};

/// VGG16's feature extractor (configuration "D" of Simonyan & Zisserman).
pub const VGG16_FEATURES: [VggStage; 18] = [
    C(64),
    C(64),
    P,
    C(128),
    C(128),
    P,
    C(256),
    C(256),
    C(256),
    P,
    C(512),
    C(512),
    C(512),
    P,
    C(512),
    C(512),
    C(512),
    P,
];

/// VGG16 for `[3, 224, 224]` inputs and 1000 classes (13 convolutions, 3 dense layers, no
/// softmax, no dropout): 15.5 GMAC per image, 138 M parameters.
pub fn vgg16(seed: u64) -> Result<Graph> {
    vgg(&VGG16_FEATURES, [3, 224, 224], &[4096, 4096], 1000, seed)
}

/// A VGG-style net small enough for quick runs: `[3, 64, 64]` inputs, 8 convolutions of 32 to
/// 128 channels, dense 2048 → 256 → 10 (about 150 MMAC per image).
pub fn vgg_small(seed: u64) -> Result<Graph> {
    let features = [
        C(32),
        C(32),
        P,
        C(64),
        C(64),
        P,
        C(128),
        C(128),
        P,
        C(128),
        C(128),
        P,
    ];
    vgg(&features, [3, 64, 64], &[256], 10, seed)
}

/// A VGG: the `features` stages, flatten, dense layers of `hidden` widths each followed by a
/// ReLU, and a dense layer of `classes` logits.
pub fn vgg(
    features: &[VggStage],
    input: [usize; 3],
    hidden: &[usize],
    classes: usize,
    seed: u64,
) -> Result<Graph> {
    let mut rng = Normal::new(seed);
    let mut g = Graph::new(input.to_vec())?;
    let mut at = 0;
    let (mut conv, mut pool) = (0, 0);
    for stage in features {
        let channels = g.nodes[at].shape[0];
        match *stage {
            VggStage::Conv(out) => {
                conv += 1;
                let fan_in = channels * 9;
                let c = Conv2d {
                    weight: rng.he(vec![out, channels, 3, 3], fan_in),
                    bias: Some(vec![0.0; out]),
                    stride: [1, 1],
                    pads: [1, 1, 1, 1],
                    dilation: [1, 1],
                    groups: 1,
                };
                at = g.push(format!("conv{conv}"), Op::Conv2d(c), vec![at])?;
                at = g.push(format!("relu{conv}"), Op::relu(), vec![at])?;
            }
            VggStage::Pool => {
                pool += 1;
                let p = Pool2d {
                    kernel: [2, 2],
                    stride: [2, 2],
                    pads: [0; 4],
                    count_include_pad: false,
                    ceil_mode: false,
                };
                at = g.push(format!("pool{pool}"), Op::max_pool(p), vec![at])?;
            }
        }
    }
    let flat: usize = g.nodes[at].shape.iter().product();
    at = g.push_reshape("flatten", at, vec![flat])?;
    let widths: Vec<usize> = hidden.iter().copied().chain([classes]).collect();
    for (i, &out) in widths.iter().enumerate() {
        let fan_in = g.nodes[at].shape[0];
        let d = Dense {
            weight: rng.he(vec![out, fan_in], fan_in),
            bias: Some(vec![0.0; out]),
        };
        at = g.push(format!("fc{}", i + 1), Op::Dense(d), vec![at])?;
        if i + 1 < widths.len() {
            at = g.push(format!("fc{}_relu", i + 1), Op::relu(), vec![at])?;
        }
    }
    Ok(g)
}

/// Seeded standard normal values: SplitMix64 and the Box–Muller transform.
pub struct Normal {
    state: u64,
    spare: Option<f64>,
}

impl Normal {
    /// A generator for `seed`.
    pub fn new(seed: u64) -> Self {
        Normal {
            state: seed,
            spare: None,
        }
    }

    fn uniform(&mut self) -> f64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        // 53 random bits in (0, 1].
        ((z >> 11) as f64 + 1.0) / (1u64 << 53) as f64
    }

    /// One standard normal value.
    pub fn sample(&mut self) -> f64 {
        if let Some(v) = self.spare.take() {
            return v;
        }
        let (u, v) = (self.uniform(), self.uniform());
        let r = (-2.0 * u.ln()).sqrt();
        let t = std::f64::consts::TAU * v;
        self.spare = Some(r * t.sin());
        r * t.cos()
    }

    /// A tensor of `N(0, 2 / fan_in)` values (He initialisation for ReLU networks).
    pub fn he(&mut self, shape: Vec<usize>, fan_in: usize) -> Tensor {
        let std = (2.0 / fan_in.max(1) as f64).sqrt();
        let n = shape.iter().product();
        let data = (0..n).map(|_| (self.sample() * std) as f32).collect();
        Tensor { shape, data }
    }

    /// A tensor of standard normal values (benchmark inputs).
    pub fn tensor(&mut self, shape: Vec<usize>) -> Tensor {
        let n = shape.iter().product();
        let data = (0..n).map(|_| self.sample() as f32).collect();
        Tensor { shape, data }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vgg16_has_the_published_shape_and_cost() {
        let g = vgg16(1).unwrap();
        assert_eq!(g.output_shape(), &[1000]);
        let convs = g
            .nodes
            .iter()
            .filter(|n| matches!(n.op, Op::Conv2d(_)))
            .count();
        let dense = g
            .nodes
            .iter()
            .filter(|n| matches!(n.op, Op::Dense(_)))
            .count();
        assert_eq!((convs, dense), (13, 3));
        // 15.47 GMAC (the usual "15.5 GFLOPs" counts multiply-adds).
        let macs = g.macs_per_item();
        assert!((15_400_000_000..15_600_000_000).contains(&macs), "{macs}");
        assert_eq!(g.nodes[g.find("flatten").unwrap()].shape, vec![512 * 7 * 7]);
    }

    #[test]
    fn weights_are_seeded_and_he_scaled() {
        let a = vgg_small(7).unwrap();
        let b = vgg_small(7).unwrap();
        let w = |g: &Graph| match &g.nodes[g.find("conv3").unwrap()].op {
            Op::Conv2d(c) => c.weight.clone(),
            _ => unreachable!(),
        };
        assert_eq!(w(&a), w(&b));
        let t = w(&a);
        let var = t.data.iter().map(|&v| (v as f64).powi(2)).sum::<f64>() / t.numel() as f64;
        let want = 2.0 / (32.0 * 9.0);
        assert!((var / want - 1.0).abs() < 0.05, "variance {var} vs {want}");
        assert_ne!(w(&vgg_small(8).unwrap()), t);
    }
}
