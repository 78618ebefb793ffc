//! Composites: which rule each layer gets — a rule per layer kind, a rule for the first linear
//! layer, and overrides by node index or ONNX node name — plus Zennit's and iNNvestigate's presets.

use super::rules::{Bound, Rule};
use crate::error::{Error, Result};
use crate::model::{Graph, Op};

/// Which layers the first-layer rule may land on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FirstLayer {
    /// The first convolution (Zennit's EpsilonGammaBox).
    Convolution,
    /// The first convolution or dense layer (Zennit's *Flat composites).
    Linear,
}

/// A layer named by its position in the graph or its (ONNX) node name.
#[derive(Clone, Debug, PartialEq)]
pub enum LayerRef {
    /// Node index in the graph.
    Index(usize),
    /// Node name.
    Name(String),
}

/// A mapping from layers to rules.
#[derive(Clone, Debug, PartialEq)]
pub struct Composite {
    /// Rule for convolutions.
    pub conv: Rule,
    /// Rule for dense layers.
    pub dense: Rule,
    /// Rule for the first linear layer, and which kinds count as that layer.
    pub first: Option<(Rule, FirstLayer)>,
    /// Rule for average pooling and residual sums (Zennit: Norm).
    pub proportional: Rule,
    /// Rule for max pooling: winner-take-all with ties split, or [`Rule::ArgMax`] as Zennit.
    pub max_pool: Rule,
    /// Per-layer overrides, applied last.
    pub overrides: Vec<(LayerRef, Rule)>,
    /// Stabiliser ε of the rules that use one only to avoid dividing by zero (Zennit: 1e-6).
    pub stabilizer: f32,
    /// Drop every bias from the rules (iNNvestigate's `_IB` rules): relevance is then conserved.
    pub ignore_bias: bool,
}

/// Preset names accepted by [`Composite::preset`].
pub const PRESET_NAMES: &str = "epsilon-plus, epsilon-plus-flat, epsilon-gamma-box, epsilon-alpha2-beta1, epsilon-alpha2-beta1-flat, sequential-preset-a, sequential-preset-b, sequential-preset-a-flat, sequential-preset-b-flat, deep-taylor, deep-taylor-bounded";

impl Composite {
    /// One rule on every convolution and dense layer.
    pub fn uniform(rule: Rule) -> Self {
        Composite {
            conv: rule.clone(),
            dense: rule,
            first: None,
            proportional: Rule::Norm,
            max_pool: Rule::WinnerTakeAll,
            overrides: Vec::new(),
            stabilizer: 1e-6,
            ignore_bias: false,
        }
    }

    /// A named preset. `low`/`high` are the input bounds that box rules use (e.g. 0 and 1 for
    /// pixels in [0, 1], or per channel after normalisation).
    pub fn preset(name: &str, low: Bound, high: Bound) -> Result<Self> {
        let eps = Rule::Epsilon { epsilon: 1e-6 };
        let with = |conv: Rule, dense: Rule, first: Option<(Rule, FirstLayer)>| Composite {
            conv,
            dense,
            first,
            ..Composite::uniform(Rule::Pass)
        };
        let zbox = Rule::ZBox { low, high };
        let c = match name.to_ascii_lowercase().replace('_', "-").as_str() {
            // Zennit's composites, same rules and defaults.
            "epsilon-plus" => with(Rule::ZPlus, eps, None),
            "epsilon-plus-flat" => with(Rule::ZPlus, eps, Some((Rule::Flat, FirstLayer::Linear))),
            "epsilon-gamma-box" => with(
                Rule::Gamma { gamma: 0.25 },
                eps,
                Some((zbox, FirstLayer::Convolution)),
            ),
            "epsilon-alpha2-beta1" => with(
                Rule::AlphaBeta {
                    alpha: 2.0,
                    beta: 1.0,
                },
                eps,
                None,
            ),
            "epsilon-alpha2-beta1-flat" => with(
                Rule::AlphaBeta {
                    alpha: 2.0,
                    beta: 1.0,
                },
                eps,
                Some((Rule::Flat, FirstLayer::Linear)),
            ),
            // iNNvestigate's sequential presets: ε = 0.1 on dense layers, αβ on convolutions.
            "sequential-preset-a" => with(
                Rule::AlphaBeta {
                    alpha: 1.0,
                    beta: 0.0,
                },
                Rule::Epsilon { epsilon: 0.1 },
                None,
            ),
            "sequential-preset-a-flat" => with(
                Rule::AlphaBeta {
                    alpha: 1.0,
                    beta: 0.0,
                },
                Rule::Epsilon { epsilon: 0.1 },
                Some((Rule::Flat, FirstLayer::Linear)),
            ),
            "sequential-preset-b-flat" => with(
                Rule::AlphaBeta {
                    alpha: 2.0,
                    beta: 1.0,
                },
                Rule::Epsilon { epsilon: 0.1 },
                Some((Rule::Flat, FirstLayer::Linear)),
            ),
            "sequential-preset-b" => with(
                Rule::AlphaBeta {
                    alpha: 2.0,
                    beta: 1.0,
                },
                Rule::Epsilon { epsilon: 0.1 },
                None,
            ),
            // Deep Taylor decomposition (Montavon et al. 2017): z⁺ everywhere, biases ignored;
            // the bounded form uses zᴮ on the first layer.
            "deep-taylor" => Composite {
                ignore_bias: true,
                ..Composite::uniform(Rule::ZPlus)
            },
            "deep-taylor-bounded" => Composite {
                ignore_bias: true,
                first: Some((zbox, FirstLayer::Linear)),
                ..Composite::uniform(Rule::ZPlus)
            },
            _ => {
                return Err(Error::Invalid(format!(
                    "unknown composite '{name}'; valid composites: {PRESET_NAMES}"
                )))
            }
        };
        Ok(c)
    }

    /// The rule of every node of `graph` (index-aligned with `graph.nodes`).
    pub fn rules_for(&self, graph: &Graph) -> Result<Vec<Rule>> {
        let first = self.first.as_ref().and_then(|(rule, kinds)| {
            graph
                .nodes
                .iter()
                .position(|n| {
                    matches!(n.op, Op::Conv2d(_))
                        || (*kinds == FirstLayer::Linear && matches!(n.op, Op::Dense(_)))
                })
                .map(|i| (i, rule))
        });
        let mut rules: Vec<Rule> = graph
            .nodes
            .iter()
            .enumerate()
            .map(|(i, n)| match (&n.op, first) {
                (_, Some((f, rule))) if f == i => rule.clone(),
                (Op::Conv2d(_), _) => self.conv.clone(),
                (Op::Dense(_), _) => self.dense.clone(),
                (Op::AvgPool2d(_) | Op::GlobalAvgPool | Op::Add, _) => self.proportional.clone(),
                (Op::MaxPool2d(_), _) => self.max_pool.clone(),
                _ => Rule::Pass,
            })
            .collect();
        for (layer, rule) in &self.overrides {
            let i = match layer {
                LayerRef::Index(i) if *i < graph.nodes.len() => *i,
                LayerRef::Name(name) => graph.find(name).ok_or_else(|| {
                    Error::Invalid(format!(
                        "no layer named '{name}' to override; layers: {}",
                        graph
                            .nodes
                            .iter()
                            .map(|n| n.name.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ))
                })?,
                LayerRef::Index(i) => {
                    return Err(Error::Invalid(format!(
                        "layer index {i} is out of range (the graph has {} nodes)",
                        graph.nodes.len()
                    )))
                }
            };
            rules[i] = rule.clone();
        }
        for (node, rule) in graph.nodes.iter().zip(&rules) {
            check_applies(&node.op, rule).map_err(|why| {
                Error::Invalid(format!(
                    "rule {rule:?} on layer '{}' ({}): {why}",
                    node.name,
                    node.op.kind()
                ))
            })?;
        }
        Ok(rules)
    }
}

/// Whether a rule makes sense on a layer kind.
fn check_applies(op: &Op, rule: &Rule) -> std::result::Result<(), &'static str> {
    let linear = rule.recipe(1e-6).is_some();
    let ok = match op {
        Op::Conv2d(_) | Op::Dense(_) => linear,
        Op::Add | Op::AvgPool2d(_) | Op::GlobalAvgPool => {
            matches!(rule, Rule::Norm | Rule::Epsilon { .. } | Rule::Pass)
        }
        Op::MaxPool2d(_) => matches!(rule, Rule::WinnerTakeAll | Rule::ArgMax | Rule::Pass),
        Op::Concat | Op::Reshape | Op::Input | Op::Softmax => matches!(rule, Rule::Pass),
        Op::BatchNorm(_) => matches!(rule, Rule::Pass | Rule::Norm | Rule::Epsilon { .. }),
        Op::Relu | Op::Clip { .. } => matches!(rule, Rule::Pass),
    };
    if ok {
        Ok(())
    } else {
        Err("this rule does not apply to this kind of layer")
    }
}
