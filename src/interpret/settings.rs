//! How a prototype is optimised: the optimiser, the start point, the penalties and the record.

use crate::error::{Error, Result};

/// The update rule of the ascent.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Optimizer {
    /// Adam (Kingma & Ba) as `torch.optim.Adam` on −J.
    Adam {
        /// Step size.
        lr: f32,
        /// Decay of the first moment.
        beta1: f32,
        /// Decay of the second moment.
        beta2: f32,
        /// Added to √v̂.
        eps: f32,
    },
    /// Plain gradient ascent `x += lr · ∇J`.
    Ascent {
        /// Step size.
        lr: f32,
    },
}

impl Optimizer {
    /// Adam with PyTorch's defaults and step size `lr`.
    pub fn adam(lr: f32) -> Optimizer {
        Optimizer::Adam {
            lr,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
        }
    }

    /// The step size.
    pub fn lr(&self) -> f32 {
        match *self {
            Optimizer::Adam { lr, .. } | Optimizer::Ascent { lr } => lr,
        }
    }
}

/// Where the ascent starts.
#[derive(Clone, Debug, PartialEq)]
pub enum Init {
    /// Every value `v`.
    Constant(f32),
    /// Uniform noise in `[center − spread, center + spread]`, seeded (the same on every
    /// machine).
    Noise {
        /// Seed of the generator.
        seed: u64,
        /// Centre of the interval.
        center: f32,
        /// Half its width.
        spread: f32,
    },
    /// One item's values (e.g. the data mean), repeated for every prototype.
    Values(Vec<f32>),
    /// Every prototype's values, item after item.
    Batch(Vec<f32>),
}

impl Init {
    /// The start point of `batch` prototypes of `size` values each.
    pub fn values(&self, batch: usize, size: usize) -> Result<Vec<f32>> {
        match self {
            Init::Constant(v) => Ok(vec![*v; batch * size]),
            Init::Noise {
                seed,
                center,
                spread,
            } => {
                let mut rng = crate::rng::SplitMix(*seed);
                Ok((0..batch * size)
                    .map(|_| center + spread * (2.0 * rng.uniform_f32() - 1.0))
                    .collect())
            }
            Init::Values(v) if v.len() == size => Ok(v.repeat(batch)),
            Init::Batch(v) if v.len() == batch * size => Ok(v.clone()),
            Init::Values(v) | Init::Batch(v) => Err(Error::Shape(format!(
                "the start point has {} values; {batch} prototype(s) of {size} values need {} or {}",
                v.len(),
                size,
                batch * size
            ))),
        }
    }
}

/// Penalties subtracted from the objective: `J = obj − l2·Σx² − l1·Σ|x| − tv·TV(x)` (TV the
/// anisotropic total variation per channel).
#[derive(Clone, Copy, Debug, PartialEq, Default)]
pub struct Penalties {
    /// λ of `Σx²`.
    pub l2: f32,
    /// λ of `Σ|x|`.
    pub l1: f32,
    /// λ of the total variation.
    pub tv: f32,
}

/// Lucid's robustness transforms: every step the model sees the prototype shifted and scaled
/// by a fresh random draw (bilinear sampling, zero outside), so that the prototype must work
/// under all of them. Drawn on the GPU from (seed, step, item).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Transforms {
    /// Largest shift in pixels, each direction (0: none).
    pub jitter: f32,
    /// Range of the scale factor (`(1, 1)`: none).
    pub scale: (f32, f32),
    /// Seed of the draws.
    pub seed: u32,
}

impl Default for Transforms {
    fn default() -> Self {
        Transforms {
            jitter: 0.0,
            scale: (1.0, 1.0),
            seed: 0,
        }
    }
}

impl Transforms {
    /// Whether any transform is on.
    pub fn active(&self) -> bool {
        self.jitter != 0.0 || self.scale != (1.0, 1.0)
    }
}

/// A Gaussian blur of the prototype after every `every`-th update.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Blur {
    /// Period in steps.
    pub every: usize,
    /// Standard deviation in pixels (the window reaches 2σ).
    pub sigma: f32,
}

impl Blur {
    /// The window's half width.
    pub fn radius(&self) -> usize {
        (2.0 * self.sigma).ceil().max(1.0) as usize
    }
}

/// A density expert's term `weight · log p(x)` added to the objective (the paper's AM with an
/// expert: prototypes drawn towards the data).
#[derive(Clone, Debug, PartialEq)]
pub struct ExpertTerm {
    /// The density.
    pub expert: std::sync::Arc<super::expert::Expert>,
    /// λ of `log p(x)`.
    pub weight: f32,
}

/// Lucid's diversity term: prototypes of the same objective in one batch are pushed apart by
/// the cosine similarity of the Gram matrices of a node's activations (style, in Gatys et al.'s
/// sense), so that they show different facets of what the unit responds to. Item `b`'s term is
/// `d_b = (1/B) Σ_{b' ≠ b} ⟨Ĝ_b, Ĝ_b'⟩` over the `B` items sharing its objective, `Ĝ` the Gram
/// matrix `A Aᵀ` of the node's `[C, …]` values `A` normalised to unit Frobenius norm;
/// `J_b −= weight · d_b` (Lucid's and Lucent's `diversity`, whose sum over the batch this is).
#[derive(Clone, Debug, PartialEq)]
pub struct Diversity {
    /// The node whose activations are compared, by ONNX name or index.
    pub node: crate::explain::LayerRef,
    /// λ of the term.
    pub weight: f32,
}

/// Everything but the objectives of one run.
#[derive(Clone, Debug, PartialEq)]
pub struct Settings {
    /// Number of updates.
    pub steps: usize,
    /// The curve's period: terms recorded at steps 0, every, 2·every, … and after the last.
    pub every: usize,
    /// The update rule.
    pub optimizer: Optimizer,
    /// The start point.
    pub init: Init,
    /// The penalties.
    pub penalties: Penalties,
    /// Values are clamped to this range after every update (the model's input range; ±∞ in a
    /// generator's code space).
    pub range: (f32, f32),
    /// Random shifts and scales the model sees each step.
    pub transforms: Transforms,
    /// A blur every few steps.
    pub blur: Option<Blur>,
    /// A density expert's term.
    pub expert: Option<ExpertTerm>,
    /// Steps at the start whose rectifiers pass Lucid's redirected gradient (see
    /// [`crate::layers::GradMode::Redirected`]; 0: none), so that ascent can start at dead
    /// units.
    pub redirect_steps: usize,
    /// A node whose values are read back with the prototypes: the generated picture in a
    /// generator's code space (see [`crate::model::compose`]).
    pub image_node: Option<usize>,
    /// Optimise a scaled spectrum of the image instead of its pixels (Lucid's Fourier
    /// parameterisation; the input range must be finite and no blur applies).
    pub fourier: Option<super::Fourier>,
    /// Push prototypes of the same objective apart.
    pub diversity: Option<Diversity>,
}

impl Default for Settings {
    /// Adam (lr 0.05), 200 steps from 0.5 ± 0.05 noise, λ2 = 1e-3, inputs in [0, 1]: what the
    /// shipped MNIST model needs for prototypes classified with p ≥ 0.99.
    fn default() -> Self {
        Settings {
            steps: 200,
            every: 10,
            optimizer: Optimizer::adam(0.05),
            init: Init::Noise {
                seed: 0,
                center: 0.5,
                spread: 0.05,
            },
            penalties: Penalties {
                l2: 1e-3,
                ..Penalties::default()
            },
            range: (0.0, 1.0),
            transforms: Transforms::default(),
            blur: None,
            expert: None,
            redirect_steps: 0,
            image_node: None,
            fourier: None,
            diversity: None,
        }
    }
}

impl Settings {
    /// Fails, naming the problem, on settings no run can use.
    pub fn check(&self) -> Result<()> {
        let finite = |name: &str, v: f32| {
            if v.is_finite() {
                Ok(())
            } else {
                Err(Error::Invalid(format!("{name} must be finite, got {v}")))
            }
        };
        if self.steps == 0 {
            return Err(Error::Invalid("steps must be at least 1".into()));
        }
        if self.every == 0 {
            return Err(Error::Invalid("the curve period must be at least 1".into()));
        }
        finite("the step size", self.optimizer.lr())?;
        if let Optimizer::Adam {
            beta1, beta2, eps, ..
        } = self.optimizer
        {
            if !(0.0..1.0).contains(&beta1) || !(0.0..1.0).contains(&beta2) || eps.is_nan() {
                return Err(Error::Invalid(format!(
                    "Adam needs 0 ≤ β < 1 and ε ≥ 0, got β = ({beta1}, {beta2}), ε = {eps}"
                )));
            }
        }
        let p = self.penalties;
        for (name, v) in [("l2", p.l2), ("l1", p.l1), ("tv", p.tv)] {
            finite(name, v)?;
        }
        let t = self.transforms;
        let jitter_ok = (0.0..1e4).contains(&t.jitter);
        let scale_ok = t.scale.0 > 0.0 && t.scale.0 <= t.scale.1 && t.scale.1 < 1e4;
        if !jitter_ok || !scale_ok {
            return Err(Error::Invalid(format!(
                "transforms need jitter ≥ 0 and 0 < scale low ≤ high, got jitter {}, scale {:?}",
                t.jitter, t.scale
            )));
        }
        if let Some(b) = self.blur {
            if b.every == 0 || !(b.sigma > 0.0 && b.sigma < 100.0) {
                return Err(Error::Invalid(format!(
                    "a blur needs a period ≥ 1 and 0 < σ < 100, got every {}, σ {}",
                    b.every, b.sigma
                )));
            }
        }
        if let Some(e) = &self.expert {
            finite("the expert's weight", e.weight)?;
        }
        if let Some(d) = &self.diversity {
            finite("the diversity weight", d.weight)?;
        }
        if self.fourier.is_some() && self.blur.is_some() {
            return Err(Error::Invalid(
                "a blur acts on pixels; it does not combine with the Fourier parameterisation"
                    .into(),
            ));
        }
        if self.range.0.is_nan() || self.range.1.is_nan() || self.range.0 > self.range.1 {
            return Err(Error::Invalid(format!(
                "the input range {:?} is empty",
                self.range
            )));
        }
        Ok(())
    }
}
