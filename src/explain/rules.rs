//! LRP rules as data. A rule on a linear layer (dense, conv) is a list of groups of terms:
//! each term feeds a modified input through modified weights, the terms of a group sum to the
//! group's denominator `z`, and each term sends back `coef · sign · x'' ⊙ W'ᵀ (R / stab(z))`.
//! Rules of the other layer classes are the backward recorder's node rules (pass, proportional,
//! the gradient, winner-take-all, a product's shares; see `backward::NodeRule`).
//!
//! Adding a rule touches, and only touches:
//! 1. one variant of [`Rule`] and its arm in [`Rule::recipe`]: for a linear-layer rule its
//!    groups of terms of [`InputMod`] and [`WeightMod`]; any other rule returns `None` there and
//!    gets its arm in `Composite::node_rules` (`composite.rs`), which maps it onto one of the
//!    backward recorder's node rules (pass, proportional, a VJP mode);
//! 2. its name in [`Rule::parse`] and [`RULE_NAMES`];
//! 3. the classes that take it in `LayerClass::accepts` (`composite.rs`).
//!
//! No WGSL: the GPU recorder and the f64 reference both read the recipe, and modified weights
//! are computed once per device model by the weight store.

use crate::error::{Error, Result};
pub use crate::plan::WeightMod;

/// What a term feeds into the layer in place of its input `x`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum InputMod {
    /// `x`.
    Identity,
    /// `max(x, 0)`.
    Positive,
    /// `min(x, 0)`.
    Negative,
    /// The lower bound `l` of the zᴮ rule.
    Low,
    /// The upper bound `h` of the zᴮ rule.
    High,
    /// A tensor of ones (flat, w²).
    Ones,
}

/// One term of a rule.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Term {
    /// Modified input.
    pub input: InputMod,
    /// Modified weights.
    pub weight: WeightMod,
    /// Whether the term keeps the (modified) bias; Zennit keeps it in the first term of a group.
    pub bias: bool,
    /// `±1`: the term's sign in `z` and in the relevance it sends back (zᴮ subtracts its bounds).
    pub sign: f32,
}

/// Which outputs a group sends relevance from (the γ rule splits them by the sign of `z`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutputMask {
    /// All outputs.
    All,
    /// Outputs whose unmodified pre-activation is positive.
    WherePositive,
    /// Outputs whose unmodified pre-activation is negative.
    WhereNegative,
}

/// Terms sharing one denominator.
#[derive(Clone, Debug, PartialEq)]
pub struct Group {
    /// Terms summed into `z` and sending relevance back.
    pub terms: Vec<Term>,
    /// Multiplier of the group's relevance (α, −β, or 1).
    pub coef: f32,
    /// Outputs the group serves.
    pub mask: OutputMask,
}

/// Lower or upper bound of the zᴮ rule: one value, or one per input channel.
#[derive(Clone, Debug, PartialEq)]
pub enum Bound {
    /// The same bound for every input value.
    Scalar(f32),
    /// One bound per input channel (e.g. `(0 − mean_c) / std_c`).
    PerChannel(Vec<f32>),
}

impl Bound {
    /// The bound of channel `c`.
    pub fn at(&self, c: usize) -> f32 {
        match self {
            Bound::Scalar(v) => *v,
            Bound::PerChannel(v) => v[c % v.len()],
        }
    }
}

/// An LRP rule for one layer.
#[derive(Clone, Debug, PartialEq)]
pub enum Rule {
    /// LRP-ε; `epsilon = 0` is LRP-0 (a zero denominator then sends nothing back).
    Epsilon { epsilon: f32 },
    /// LRP-γ (Zennit's form: positive and negative outputs handled separately).
    Gamma { gamma: f32 },
    /// LRP-αβ with `α − β = 1`, `α, β ≥ 0`.
    AlphaBeta { alpha: f32, beta: f32 },
    /// z⁺ (equals α1β0).
    ZPlus,
    /// zᴮ for inputs bounded by `[low, high]`.
    ZBox { low: Bound, high: Bound },
    /// w²: relevance by squared weights, independent of the input.
    WSquare,
    /// flat: relevance spread uniformly over the receptive field.
    Flat,
    /// Relevance passes unchanged (activations, unfolded BatchNorm, reshapes).
    Pass,
    /// Proportional to each input's share of the output (Add, average pooling; Zennit's Norm).
    Norm,
    /// Max pooling: all to the window's maximum, ties split equally.
    WinnerTakeAll,
    /// Max pooling: all to the window's first maximum in row-major order (PyTorch's max-pool
    /// gradient, which Zennit uses since it gives max pooling no rule).
    ArgMax,
    /// The layer's gradient, as Zennit treats a layer it gives no rule (activations, pools,
    /// normalisation).
    Gradient,
    /// A product of two activations as a gate (CP-LRP): the gate held constant, all relevance
    /// to the gated input. The gate is the input broadcast over the other (a squeeze-excitation
    /// scale), else the one a sigmoid computes.
    ConstantGate,
    /// A product of two activations by the uniform rule (AttnLRP): half the relevance to each
    /// input.
    Uniform,
    /// LayerNorm's identity rule (AttnLRP, as LXT computes it): the standard deviation held
    /// constant, relevance `x ⊙ VJP(R / stab(y))` through the centring and the affine map.
    Identity,
}

/// Names accepted by [`Rule::parse`].
pub const RULE_NAMES: &str = "lrp0, epsilon[:ε], gamma[:γ], alpha1beta0, alpha2beta1, alpha3beta2, alphabeta:α,β, zplus, zbox:low,high, wsquare, flat, pass, norm, identity, winner-take-all, argmax, gradient, gate, uniform";

impl Rule {
    /// LRP-αβ, checking `α − β = 1` and `α, β ≥ 0`.
    pub fn alpha_beta(alpha: f32, beta: f32) -> Result<Rule> {
        if alpha < 0.0 || beta < 0.0 || ((alpha - beta) - 1.0).abs() > 1e-6 || !alpha.is_finite() {
            return Err(Error::Invalid(format!(
                "alpha-beta rule needs alpha - beta = 1 and both >= 0, got alpha = {alpha}, beta = {beta}"
            )));
        }
        Ok(Rule::AlphaBeta { alpha, beta })
    }

    /// Parses `name[:args]`, e.g. `epsilon:0.25`, `gamma:0.25`, `alphabeta:2,1`, `zbox:0,1`.
    ///
    /// ```
    /// use glimpse::explain::Rule;
    /// assert_eq!(Rule::parse("epsilon:0.25").unwrap(), Rule::Epsilon { epsilon: 0.25 });
    /// assert!(Rule::parse("alphabeta:3,1").is_err()); // α − β must be 1
    /// ```
    pub fn parse(spec: &str) -> Result<Rule> {
        let (name, args) = spec.split_once(':').unwrap_or((spec, ""));
        let nums: Vec<f32> = if args.is_empty() {
            Vec::new()
        } else {
            args.split(',')
                .map(|a| {
                    a.trim().parse::<f32>().map_err(|_| {
                        Error::Invalid(format!("rule '{spec}': '{a}' is not a number"))
                    })
                })
                .collect::<Result<_>>()?
        };
        let arg = |i: usize, default: f32| nums.get(i).copied().unwrap_or(default);
        let rule = match name
            .trim()
            .to_ascii_lowercase()
            .replace(['-', '_'], "")
            .as_str()
        {
            "lrp0" | "zero" => Rule::Epsilon { epsilon: 0.0 },
            "epsilon" | "eps" => Rule::Epsilon {
                epsilon: arg(0, 1e-6),
            },
            "gamma" => Rule::Gamma {
                gamma: arg(0, 0.25),
            },
            "alpha1beta0" => Rule::alpha_beta(1.0, 0.0)?,
            "alpha2beta1" => Rule::alpha_beta(2.0, 1.0)?,
            "alpha3beta2" => Rule::alpha_beta(3.0, 2.0)?,
            "alphabeta" => Rule::alpha_beta(arg(0, 2.0), arg(1, 1.0))?,
            "zplus" => Rule::ZPlus,
            "zbox" | "zb" => Rule::ZBox {
                low: Bound::Scalar(arg(0, 0.0)),
                high: Bound::Scalar(arg(1, 1.0)),
            },
            "wsquare" | "w2" => Rule::WSquare,
            "flat" => Rule::Flat,
            "pass" => Rule::Pass,
            "norm" => Rule::Norm,
            "identity" => Rule::Identity,
            "winner-take-all" | "winnertakeall" | "wta" => Rule::WinnerTakeAll,
            "argmax" => Rule::ArgMax,
            "gradient" | "grad" => Rule::Gradient,
            "gate" | "cp" | "constantgate" => Rule::ConstantGate,
            "uniform" => Rule::Uniform,
            _ => {
                return Err(Error::Invalid(format!(
                    "unknown rule '{spec}'; valid rules: {RULE_NAMES}"
                )))
            }
        };
        Ok(rule)
    }

    /// The groups of terms this rule computes on a linear layer, and its stabiliser ε.
    /// `None` for rules that are not meant for linear layers.
    pub fn recipe(&self, stabilizer: f32) -> Option<(Vec<Group>, f32)> {
        use InputMod as I;
        use WeightMod as W;
        let t = |input, weight, bias| Term {
            input,
            weight,
            bias,
            sign: 1.0,
        };
        let one = |terms: Vec<Term>| {
            vec![Group {
                terms,
                coef: 1.0,
                mask: OutputMask::All,
            }]
        };
        Some(match self {
            Rule::Epsilon { epsilon } => (one(vec![t(I::Identity, W::Plain, true)]), *epsilon),
            Rule::ZPlus => (
                one(vec![
                    t(I::Positive, W::Positive, true),
                    t(I::Negative, W::Negative, false),
                ]),
                stabilizer,
            ),
            Rule::AlphaBeta { alpha, beta } => (
                vec![
                    Group {
                        terms: vec![
                            t(I::Positive, W::Positive, true),
                            t(I::Negative, W::Negative, false),
                        ],
                        coef: *alpha,
                        mask: OutputMask::All,
                    },
                    Group {
                        terms: vec![
                            t(I::Positive, W::Negative, true),
                            t(I::Negative, W::Positive, false),
                        ],
                        coef: -*beta,
                        mask: OutputMask::All,
                    },
                ],
                stabilizer,
            ),
            Rule::Gamma { gamma } => {
                let (gp, gn) = (W::GammaPositive(*gamma), W::GammaNegative(*gamma));
                (
                    vec![
                        Group {
                            terms: vec![t(I::Positive, gp, true), t(I::Negative, gn, false)],
                            coef: 1.0,
                            mask: OutputMask::WherePositive,
                        },
                        Group {
                            terms: vec![t(I::Positive, gn, true), t(I::Negative, gp, false)],
                            coef: 1.0,
                            mask: OutputMask::WhereNegative,
                        },
                    ],
                    stabilizer,
                )
            }
            Rule::ZBox { .. } => {
                let minus = |input, weight| Term {
                    input,
                    weight,
                    bias: true,
                    sign: -1.0,
                };
                (
                    one(vec![
                        t(I::Identity, W::Plain, true),
                        minus(I::Low, W::Positive),
                        minus(I::High, W::Negative),
                    ]),
                    stabilizer,
                )
            }
            Rule::WSquare => (one(vec![t(I::Ones, W::Square, true)]), stabilizer),
            Rule::Flat => (one(vec![t(I::Ones, W::Ones, false)]), stabilizer),
            Rule::Pass
            | Rule::Norm
            | Rule::WinnerTakeAll
            | Rule::ArgMax
            | Rule::Gradient
            | Rule::ConstantGate
            | Rule::Uniform
            | Rule::Identity => return None,
        })
    }

    /// The zᴮ bounds, if this is the zᴮ rule.
    pub fn bounds(&self) -> Option<(&Bound, &Bound)> {
        match self {
            Rule::ZBox { low, high } => Some((low, high)),
            _ => None,
        }
    }
}

impl std::str::FromStr for Rule {
    type Err = Error;

    fn from_str(s: &str) -> Result<Rule> {
        Rule::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alpha_beta_must_differ_by_one_and_be_non_negative() {
        assert!(Rule::alpha_beta(2.0, 1.0).is_ok());
        assert!(Rule::alpha_beta(1.0, 0.0).is_ok());
        assert!(Rule::alpha_beta(2.0, 0.5).is_err());
        assert!(Rule::alpha_beta(0.5, -0.5).is_err());
        assert!(Rule::parse("alphabeta:3,1").is_err());
    }

    #[test]
    fn parse_names_and_arguments() {
        assert_eq!(
            Rule::parse("epsilon:0.25").unwrap(),
            Rule::Epsilon { epsilon: 0.25 }
        );
        assert_eq!(Rule::parse("gamma").unwrap(), Rule::Gamma { gamma: 0.25 });
        assert_eq!(Rule::parse("z-plus").unwrap(), Rule::ZPlus);
        assert_eq!(
            Rule::parse("alpha2beta1").unwrap(),
            Rule::AlphaBeta {
                alpha: 2.0,
                beta: 1.0
            }
        );
        let err = Rule::parse("bogus").unwrap_err().to_string();
        assert!(
            err.contains("valid rules") && err.contains("zplus"),
            "{err}"
        );
        assert!(Rule::parse("epsilon:x").is_err());
    }

    #[test]
    fn zplus_is_alpha1beta0() {
        let (zp, _) = Rule::ZPlus.recipe(1e-6).unwrap();
        let (ab, _) = Rule::alpha_beta(1.0, 0.0).unwrap().recipe(1e-6).unwrap();
        assert_eq!(zp[0].terms, ab[0].terms);
        assert_eq!(ab[1].coef, 0.0);
    }
}
