//! Composites: which rule each layer gets — a rule per layer class (Zennit's
//! `LayerMapComposite`), a rule for the first linear layer, and overrides by node index or ONNX
//! node name (`NameMapComposite`) — plus Zennit's and iNNvestigate's presets. A rule a class does
//! not take is an error when the composite is built; an override is checked against the graph.

use super::backward::{LinearRule, NodeRule};
use super::rules::{Bound, Rule};
use crate::error::{Error, Result};
use crate::layers::{Func, GradMode, LayerClass};
use crate::model::{Graph, NodeId, Op};

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

impl LayerRef {
    /// An index if `s` is a number, else a name.
    pub fn parse(s: &str) -> LayerRef {
        match s.parse::<usize>() {
            Ok(i) => LayerRef::Index(i),
            Err(_) => LayerRef::Name(s.to_string()),
        }
    }

    /// The node this names in `graph`.
    pub fn resolve(&self, graph: &Graph) -> Result<NodeId> {
        match self {
            LayerRef::Index(i) if *i < graph.nodes.len() => Ok(*i),
            LayerRef::Index(i) => Err(Error::Invalid(format!(
                "layer index {i} is out of range (the graph has {} nodes)",
                graph.nodes.len()
            ))),
            LayerRef::Name(name) => graph.find(name).ok_or_else(|| {
                Error::Invalid(format!(
                    "no layer named '{name}'; layers: {}",
                    graph
                        .nodes
                        .iter()
                        .map(|n| n.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
            }),
        }
    }
}

/// Which input of product node `k` is the gate: of a matrix product the attention weights (the
/// one a softmax computes); of an element-wise one the input broadcast over the other (a
/// squeeze-excitation scale `[C, 1, 1]`), else the one a sigmoid computes.
fn gate_of(graph: &Graph, k: NodeId) -> std::result::Result<usize, String> {
    let node = &graph.nodes[k];
    if matches!(node.op, Op::MatMul(_)) {
        let softmax = |j: &usize| matches!(graph.nodes[node.inputs[*j]].op, Op::Softmax(_));
        let found: Vec<usize> = (0..node.inputs.len()).filter(softmax).collect();
        return match found.as_slice() {
            [one] => Ok(*one),
            _ => Err(
                "the gate rule holds attention weights constant, and neither input of \
                      this matrix product (or both) is computed by a softmax; give this layer \
                      the rule 'uniform'"
                    .into(),
            ),
        };
    }
    let constant = |j: &usize| matches!(graph.nodes[node.inputs[*j]].op, Op::Constant(_));
    if let Some(j) = (0..node.inputs.len()).find(constant) {
        return Ok(j);
    }
    let size = |i: usize| graph.nodes[i].shape.iter().product::<usize>();
    let out: usize = node.shape.iter().product();
    let smaller: Vec<usize> = (0..node.inputs.len())
        .filter(|&j| size(node.inputs[j]) < out)
        .collect();
    if let [one] = smaller.as_slice() {
        return Ok(*one);
    }
    let sigmoid = |j: &usize| {
        matches!(&graph.nodes[node.inputs[*j]].op, Op::Elementwise(e)
            if matches!(e.func, Func::Sigmoid | Func::HardSigmoid | Func::Reciprocal))
    };
    let sigmoids: Vec<usize> = (0..node.inputs.len()).filter(sigmoid).collect();
    match (smaller.as_slice(), sigmoids.as_slice()) {
        ([], [one]) => Ok(*one),
        _ => Err(
            "the gate rule cannot tell which input is the gate (neither is broadcast over \
                  the other alone, nor computed by a sigmoid or a reciprocal alone); give this layer the rule \
                  'uniform'"
                .into(),
        ),
    }
}

impl LayerClass {
    /// Whether LRP may give this class `rule`.
    pub fn accepts(self, rule: &Rule) -> bool {
        let linear_rule = rule.recipe(1e-6).is_some();
        match self {
            LayerClass::Convolution | LayerClass::Dense => {
                linear_rule || matches!(rule, Rule::Gradient)
            }
            LayerClass::Sum => matches!(
                rule,
                Rule::Norm | Rule::Epsilon { .. } | Rule::Pass | Rule::Gradient
            ),
            LayerClass::Product => {
                matches!(rule, Rule::ConstantGate | Rule::Uniform | Rule::Gradient)
            }
            LayerClass::AvgPool => {
                matches!(rule, Rule::Norm | Rule::Epsilon { .. } | Rule::Gradient)
            }
            LayerClass::MaxPool => {
                matches!(rule, Rule::ArgMax | Rule::WinnerTakeAll | Rule::Gradient)
            }
            LayerClass::Activation => matches!(rule, Rule::Pass | Rule::Gradient),
            LayerClass::Normalisation => {
                matches!(
                    rule,
                    Rule::Pass | Rule::Norm | Rule::Epsilon { .. } | Rule::Gradient
                )
            }
            LayerClass::LayerNorm => matches!(
                rule,
                Rule::Identity | Rule::Pass | Rule::Norm | Rule::Epsilon { .. } | Rule::Gradient
            ),
            LayerClass::Reshape => matches!(rule, Rule::Pass | Rule::Gradient),
            LayerClass::Concat | LayerClass::Select | LayerClass::Constant => {
                matches!(rule, Rule::Gradient)
            }
            LayerClass::Softmax => {
                matches!(rule, Rule::Norm | Rule::Epsilon { .. } | Rule::Gradient)
            }
            LayerClass::Input => false,
        }
    }

    /// The rule a composite gives this class unless told otherwise (Zennit's: activations and
    /// normalisation pass, sums and average pools are proportional, max pooling and the
    /// layers Zennit maps nothing to get their gradient; products are gates, as LXT's CP-LRP;
    /// a softmax inside the graph AttnLRP's rule, proportional to `x ⊙ ∇`, which is reached
    /// only when no gate holds its output constant).
    pub fn default_rule(self) -> Rule {
        match self {
            LayerClass::Activation | LayerClass::Normalisation => Rule::Pass,
            LayerClass::LayerNorm => Rule::Identity,
            LayerClass::Sum | LayerClass::AvgPool | LayerClass::Softmax => Rule::Norm,
            LayerClass::MaxPool => Rule::ArgMax,
            LayerClass::Product => Rule::ConstantGate,
            LayerClass::Convolution
            | LayerClass::Dense
            | LayerClass::Reshape
            | LayerClass::Concat
            | LayerClass::Select
            | LayerClass::Input
            | LayerClass::Constant => Rule::Gradient,
        }
    }
}

/// A mapping from layers to rules.
#[derive(Clone, Debug, PartialEq)]
pub struct Composite {
    /// The rule of each layer class (classes absent get [`LayerClass::default_rule`]); set it
    /// with [`Composite::set`], which refuses a rule the class does not take.
    pub layers: Vec<(LayerClass, Rule)>,
    /// Rule for the first linear layer, and which kinds count as that layer.
    pub first: Option<(Rule, FirstLayer)>,
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
    /// One rule on every convolution and dense layer, every other class its default.
    pub fn uniform(rule: Rule) -> Self {
        Composite {
            layers: vec![
                (LayerClass::Convolution, rule.clone()),
                (LayerClass::Dense, rule),
            ],
            first: None,
            overrides: Vec::new(),
            stabilizer: 1e-6,
            ignore_bias: false,
        }
    }

    /// Gives every layer of `class` the rule; a rule the class does not take is an error.
    pub fn set(&mut self, class: LayerClass, rule: Rule) -> Result<()> {
        if !class.accepts(&rule) {
            return Err(Error::Invalid(format!(
                "rule {rule:?} does not apply to layers of class {class:?}"
            )));
        }
        self.layers.retain(|(c, _)| *c != class);
        self.layers.push((class, rule));
        Ok(())
    }

    /// [`Composite::set`], by value.
    pub fn with(mut self, class: LayerClass, rule: Rule) -> Result<Self> {
        self.set(class, rule)?;
        Ok(self)
    }

    /// Sets the rule of the first linear layer (of the given kinds).
    pub fn with_first(mut self, rule: Rule, kinds: FirstLayer) -> Result<Self> {
        let class = match kinds {
            FirstLayer::Convolution => LayerClass::Convolution,
            FirstLayer::Linear => LayerClass::Dense,
        };
        if !class.accepts(&rule) || !LayerClass::Convolution.accepts(&rule) {
            return Err(Error::Invalid(format!(
                "rule {rule:?} does not apply to a first linear layer"
            )));
        }
        self.first = Some((rule, kinds));
        Ok(self)
    }

    /// The rule of layers of `class`.
    pub fn rule_of(&self, class: LayerClass) -> Rule {
        self.layers
            .iter()
            .find(|(c, _)| *c == class)
            .map_or_else(|| class.default_rule(), |(_, r)| r.clone())
    }

    /// A named preset. `low`/`high` are the input bounds that box rules use (e.g. 0 and 1 for
    /// pixels in [0, 1], or per channel after normalisation). Max pooling gets its gradient (the
    /// first maximum of a window), as in Zennit, Captum and iNNvestigate.
    pub fn preset(name: &str, low: Bound, high: Bound) -> Result<Self> {
        let eps = Rule::Epsilon { epsilon: 1e-6 };
        let with = |conv: Rule, dense: Rule, first: Option<(Rule, FirstLayer)>| {
            let mut c = Composite::uniform(dense);
            c.layers[0].1 = conv;
            c.first = first;
            c
        };
        let zbox = Rule::ZBox { low, high };
        let ab = |alpha, beta| Rule::AlphaBeta { alpha, beta };
        let flat = Some((Rule::Flat, FirstLayer::Linear));
        let c = match name.to_ascii_lowercase().replace('_', "-").as_str() {
            // Zennit's composites, same rules and defaults.
            "epsilon-plus" => with(Rule::ZPlus, eps, None),
            "epsilon-plus-flat" => with(Rule::ZPlus, eps, flat),
            "epsilon-gamma-box" => with(
                Rule::Gamma { gamma: 0.25 },
                eps,
                Some((zbox, FirstLayer::Convolution)),
            ),
            "epsilon-alpha2-beta1" => with(ab(2.0, 1.0), eps, None),
            "epsilon-alpha2-beta1-flat" => with(ab(2.0, 1.0), eps, flat),
            // iNNvestigate's sequential presets: ε = 0.1 on dense layers, αβ on convolutions.
            "sequential-preset-a" => with(ab(1.0, 0.0), Rule::Epsilon { epsilon: 0.1 }, None),
            "sequential-preset-a-flat" => with(ab(1.0, 0.0), Rule::Epsilon { epsilon: 0.1 }, flat),
            "sequential-preset-b-flat" => with(ab(2.0, 1.0), Rule::Epsilon { epsilon: 0.1 }, flat),
            "sequential-preset-b" => with(ab(2.0, 1.0), Rule::Epsilon { epsilon: 0.1 }, None),
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

    /// The user-facing rule of every node of `graph` (index-aligned with `graph.nodes`).
    pub fn rules(&self, graph: &Graph) -> Result<Vec<Rule>> {
        let first = self.first.as_ref().and_then(|(rule, kinds)| {
            graph
                .nodes
                .iter()
                .position(|n| {
                    let class = n.op.layer().class();
                    class == LayerClass::Convolution
                        || (class == LayerClass::Dense && *kinds == FirstLayer::Linear)
                })
                .map(|i| (i, rule))
        });
        let mut rules: Vec<Rule> = graph
            .nodes
            .iter()
            .enumerate()
            .map(|(i, n)| match first {
                Some((f, rule)) if f == i => rule.clone(),
                _ => self.rule_of(n.op.layer().class()),
            })
            .collect();
        for (layer, rule) in &self.overrides {
            rules[layer.resolve(graph)?] = rule.clone();
        }
        Ok(rules)
    }

    /// The backward recorder's rule of every node, for explanations starting at `start`;
    /// fails, naming the layer, where a rule does not apply.
    pub fn node_rules(&self, graph: &Graph, start: NodeId) -> Result<Vec<NodeRule>> {
        let rules = self.rules(graph)?;
        graph
            .nodes
            .iter()
            .zip(rules)
            .enumerate()
            .map(|(k, (node, rule))| {
                if k == 0 || k > start {
                    // Never crossed: nothing lies before the input, nothing flows from beyond start.
                    return Ok(NodeRule::Vjp(GradMode::Gradient));
                }
                let class = node.op.layer().class();
                let fail = |why: &str| {
                    Error::Invalid(format!(
                        "rule {rule:?} on layer '{}' ({}): {why}",
                        node.name,
                        node.op.kind()
                    ))
                };
                if class == LayerClass::Softmax && k == graph.output {
                    return Err(fail(
                        "explanations start at the logits before a final softmax",
                    ));
                }
                if !class.accepts(&rule) {
                    return Err(fail("this rule does not apply to this kind of layer"));
                }
                let keeps_shape = node.inputs.iter().all(|&i| {
                    graph.nodes[i].shape.iter().product::<usize>()
                        == node.shape.iter().product::<usize>()
                });
                Ok(match rule {
                    Rule::Pass if !keeps_shape => {
                        return Err(fail("pass needs inputs of the output's size"))
                    }
                    Rule::Pass => NodeRule::Pass,
                    Rule::Norm => NodeRule::Proportional {
                        epsilon: self.stabilizer,
                        mode: GradMode::Gradient,
                    },
                    Rule::Identity => NodeRule::Proportional {
                        epsilon: self.stabilizer,
                        mode: GradMode::ConstantStatistics,
                    },
                    Rule::Epsilon { epsilon } if !class.is_linear() => NodeRule::Proportional {
                        epsilon,
                        mode: GradMode::Gradient,
                    },
                    Rule::ArgMax | Rule::Gradient => NodeRule::Vjp(GradMode::Gradient),
                    Rule::WinnerTakeAll => NodeRule::Vjp(GradMode::SplitTies),
                    Rule::ConstantGate => match gate_of(graph, k) {
                        Ok(gate) => NodeRule::Product {
                            gate: Some(gate),
                            epsilon: self.stabilizer,
                        },
                        Err(why) => NodeRule::Refuse(format!("rule {rule:?}: {why}")),
                    },
                    Rule::Uniform => NodeRule::Product {
                        gate: None,
                        epsilon: self.stabilizer,
                    },
                    rule => NodeRule::Linear(LinearRule {
                        rule,
                        stabilizer: self.stabilizer,
                        ignore_bias: self.ignore_bias,
                    }),
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rule_a_class_does_not_take_is_an_error_at_build() {
        let c = Composite::uniform(Rule::ZPlus);
        assert!(c.clone().with(LayerClass::MaxPool, Rule::Flat).is_err());
        assert!(c.clone().with(LayerClass::Activation, Rule::Norm).is_err());
        assert!(c.clone().with(LayerClass::Sum, Rule::Norm).is_ok());
        assert!(Composite::uniform(Rule::ZPlus)
            .with_first(Rule::WinnerTakeAll, FirstLayer::Linear)
            .is_err());
    }

    #[test]
    fn presets_take_the_first_maximum_of_a_pool_window() {
        let c =
            Composite::preset("epsilon-plus-flat", Bound::Scalar(0.0), Bound::Scalar(1.0)).unwrap();
        assert_eq!(c.rule_of(LayerClass::MaxPool), Rule::ArgMax);
        assert_eq!(c.rule_of(LayerClass::Activation), Rule::Pass);
        assert_eq!(c.rule_of(LayerClass::Sum), Rule::Norm);
    }
}
