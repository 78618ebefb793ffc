//! Keys of the device model's weight store: which node's parameter tensor, in which layout,
//! with which modification (the LRP rules' modified weights). Programs name weights by key; the
//! store computes and uploads each key once for every program built on the model.

use crate::model::NodeId;

/// How a rule modifies a layer's weights (and, where the rule keeps it, its bias alike).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum WeightMod {
    /// `W`.
    Plain,
    /// `max(W, 0)`.
    Positive,
    /// `min(W, 0)`.
    Negative,
    /// `W + γ·max(W, 0)`.
    GammaPositive(f32),
    /// `W + γ·min(W, 0)`.
    GammaNegative(f32),
    /// `W²`.
    Square,
    /// All ones.
    Ones,
}

impl WeightMod {
    /// The modified value of one parameter, computed in f64.
    pub fn apply(self, w: f32) -> f32 {
        self.apply_f64(w as f64) as f32
    }

    /// The modified value of one parameter in f64 (for the references).
    pub fn apply_f64(self, w: f64) -> f64 {
        match self {
            WeightMod::Plain => w,
            WeightMod::Positive => w.max(0.0),
            WeightMod::Negative => w.min(0.0),
            WeightMod::GammaPositive(g) => w + g as f64 * w.max(0.0),
            WeightMod::GammaNegative(g) => w + g as f64 * w.min(0.0),
            WeightMod::Square => w * w,
            WeightMod::Ones => 1.0,
        }
    }

    fn bits(self) -> (u8, u32) {
        match self {
            WeightMod::Plain => (0, 0),
            WeightMod::Positive => (1, 0),
            WeightMod::Negative => (2, 0),
            WeightMod::GammaPositive(g) => (3, g.to_bits()),
            WeightMod::GammaNegative(g) => (4, g.to_bits()),
            WeightMod::Square => (5, 0),
            WeightMod::Ones => (6, 0),
        }
    }
}

impl Eq for WeightMod {}

impl std::hash::Hash for WeightMod {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.bits().hash(state)
    }
}

/// A node's parameter tensor in the layout a kernel reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Param {
    /// The weight as stored (`[C_out, C_in/g, KH, KW]`, transposed convolutions
    /// `[C_in, C_out/g, KH, KW]`, dense `[out, in]`).
    Weight,
    /// A convolution's weight packed for the blocked forward kernels: `[g][K][C_out/g ↑ 4]`.
    ConvPacked,
    /// A convolution's weight packed for the blocked adjoint kernels: `[g][C_out/g·KH·KW][C_in/g ↑ 4]`.
    ConvAdjointPacked,
    /// A 3×3 convolution's weight transformed for Winograd F(2×2, 3×3): `[16][C_in][C_out ↑ 4]`.
    ConvWinograd,
    /// The same for its adjoint (kernels flipped, channels swapped): `[16][C_out][C_in ↑ 4]`.
    ConvAdjointWinograd,
    /// The bias (one value per output channel or feature).
    Bias,
    /// A per-channel scale (BatchNorm).
    Scale,
    /// Per-channel scale then shift (BatchNorm's forward).
    Affine,
}

/// One entry of the weight store.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct WeightKey {
    /// The node the parameter belongs to.
    pub node: NodeId,
    /// Which tensor, in which layout.
    pub param: Param,
    /// How it is modified.
    pub modifier: WeightMod,
}
