//! What a prototype maximises: a class output (its logit, log-softmax or probability), the mean
//! activation of a channel, or one neuron, of any node named by its ONNX name.

use crate::error::{Error, Result};
use crate::explain::LayerRef;
use crate::model::{Graph, NodeId};

/// How a class objective reads the output.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum ClassForm {
    /// `f_c(x)`.
    Logit,
    /// `log p(ω_c | x) = f_c − log Σ exp f` (the paper's objective; the default).
    #[default]
    LogSoftmax,
    /// `p(ω_c | x)`.
    Probability,
}

impl std::str::FromStr for ClassForm {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "logit" => Ok(ClassForm::Logit),
            "log-softmax" | "log-probability" => Ok(ClassForm::LogSoftmax),
            "probability" | "softmax" => Ok(ClassForm::Probability),
            _ => Err(Error::Invalid(format!(
                "unknown objective '{s}'; valid objectives: logit, log-softmax, probability"
            ))),
        }
    }
}

/// One prototype's target.
#[derive(Clone, Debug, PartialEq)]
pub enum Objective {
    /// An output class of the graph.
    Class {
        /// The class index.
        class: usize,
        /// Logit, log-softmax or probability.
        form: ClassForm,
    },
    /// The mean activation of channel `channel` of a node's `[C, H, W]` output (or of feature
    /// `channel` of a flat output).
    Channel {
        /// The node, by ONNX name or index.
        node: LayerRef,
        /// The channel.
        channel: usize,
    },
    /// One activation `[channel, y, x]` of a node's output (`[channel]` of a flat output).
    Neuron {
        /// The node, by ONNX name or index.
        node: LayerRef,
        /// The channel.
        channel: usize,
        /// Row and column (ignored for flat outputs).
        at: Option<(usize, usize)>,
    },
}

/// An objective resolved on a graph: the node it reads and, per value of that node, the
/// linear weights (empty for class forms other than the logit, which read all outputs).
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Resolved {
    pub node: NodeId,
    pub mode: ObjectiveMode,
    pub class: usize,
    pub weights: Vec<f32>,
}

crate::wgsl_enum! {
    /// How the objective kernel reads the start node (`OBJECTIVE_*` in WGSL).
    pub enum ObjectiveMode("OBJECTIVE") {
        /// `w · y`.
        Linear = 0,
        /// `y_k`.
        Logit = 1,
        /// `y_k − log Σ exp y`.
        LogSoftmax = 2,
        /// `softmax(y)_k`.
        Probability = 3,
    }
}

impl Objective {
    /// Parses `class:K`, `channel:NODE:C` or `neuron:NODE:C,Y,X` (`neuron:NODE:C` on a flat
    /// node); class objectives take `form`. Node names may contain `:`; the last field is the
    /// index.
    ///
    /// ```
    /// use glimpse::interpret::{ClassForm, Objective};
    /// let o = Objective::parse("class:3", ClassForm::Logit).unwrap();
    /// assert_eq!(o, Objective::Class { class: 3, form: ClassForm::Logit });
    /// assert!(Objective::parse("neuron:/conv2/Relu:2,6,6", ClassForm::default()).is_ok());
    /// ```
    pub fn parse(s: &str, form: ClassForm) -> Result<Objective> {
        let bad = || {
            Error::Invalid(format!(
                "target '{s}' is not class:K, channel:NODE:C or neuron:NODE:C,Y,X"
            ))
        };
        let (kind, rest) = s.split_once(':').ok_or_else(bad)?;
        let index = |v: &str| v.trim().parse::<usize>().map_err(|_| bad());
        match kind {
            "class" => Ok(Objective::Class {
                class: index(rest)?,
                form,
            }),
            "channel" => {
                let (node, c) = rest.rsplit_once(':').ok_or_else(bad)?;
                Ok(Objective::Channel {
                    node: LayerRef::parse(node),
                    channel: index(c)?,
                })
            }
            "neuron" => {
                let (node, at) = rest.rsplit_once(':').ok_or_else(bad)?;
                let v: Vec<usize> = at.split(',').map(index).collect::<Result<_>>()?;
                let (channel, at) = match v.as_slice() {
                    [c] => (*c, None),
                    [c, y, x] => (*c, Some((*y, *x))),
                    _ => return Err(bad()),
                };
                Ok(Objective::Neuron {
                    node: LayerRef::parse(node),
                    channel,
                    at,
                })
            }
            _ => Err(bad()),
        }
    }

    /// A short label for file names and curves (`class3`, `channel-conv2-3`, …).
    pub fn label(&self) -> String {
        let clean = |r: &LayerRef| {
            let s = match r {
                LayerRef::Index(i) => format!("node{i}"),
                LayerRef::Name(n) => n.clone(),
            };
            s.chars()
                .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
                .collect::<String>()
                .trim_matches('_')
                .to_string()
        };
        match self {
            Objective::Class { class, .. } => format!("class{class}"),
            Objective::Channel { node, channel } => format!("channel-{}-{channel}", clean(node)),
            Objective::Neuron { node, channel, at } => match at {
                Some((y, x)) => format!("neuron-{}-{channel}-{y}-{x}", clean(node)),
                None => format!("neuron-{}-{channel}", clean(node)),
            },
        }
    }

    /// A neuron's position (`Some(None)` on a flat node); `None` for the other objectives.
    fn neuron_at(&self) -> Option<&Option<(usize, usize)>> {
        match self {
            Objective::Neuron { at, .. } => Some(at),
            Objective::Class { .. } | Objective::Channel { .. } => None,
        }
    }

    /// Checks the objective against `graph` and resolves its node and weights.
    pub(crate) fn resolve(&self, graph: &Graph) -> Result<Resolved> {
        let shape_of = |n: NodeId| graph.nodes[n].shape.clone();
        match self {
            Objective::Class { class, form } => {
                let features = graph.output_len();
                if *class >= features {
                    return Err(Error::Invalid(format!(
                        "target class {class} does not exist: the model has {features} outputs"
                    )));
                }
                let mode = match form {
                    ClassForm::Logit => ObjectiveMode::Logit,
                    ClassForm::LogSoftmax => ObjectiveMode::LogSoftmax,
                    ClassForm::Probability => ObjectiveMode::Probability,
                };
                Ok(Resolved {
                    node: graph.output,
                    mode,
                    class: *class,
                    weights: vec![0.0; features],
                })
            }
            Objective::Channel { node, channel } | Objective::Neuron { node, channel, .. } => {
                let n = node.resolve(graph)?;
                if n == 0 {
                    return Err(Error::Invalid(
                        "a channel or neuron objective needs a layer, not the input".into(),
                    ));
                }
                let shape = shape_of(n);
                let name = &graph.nodes[n].name;
                let (c, plane) = match shape.as_slice() {
                    [c, h, w] => (*c, h * w),
                    [f] => (*f, 1),
                    _ => {
                        return Err(Error::Shape(format!(
                            "node '{name}' has output shape {shape:?}; objectives read [C, H, W] or [F]"
                        )))
                    }
                };
                if *channel >= c {
                    return Err(Error::Invalid(format!(
                        "node '{name}' has {c} channels; channel {channel} does not exist"
                    )));
                }
                let mut weights = vec![0.0f32; c * plane];
                match self.neuron_at() {
                    None => {
                        weights[channel * plane..(channel + 1) * plane].fill(1.0 / plane as f32)
                    }
                    Some(at) => {
                        let at = match (at, shape.as_slice()) {
                            (Some((y, x)), [_, h, w]) if y < h && x < w => y * w + x,
                            (None, [_]) => 0,
                            (Some((y, x)), [_, h, w]) => {
                                return Err(Error::Invalid(format!(
                                    "node '{name}' is {h}×{w}; position ({y}, {x}) lies outside"
                                )))
                            }
                            _ => {
                                return Err(Error::Invalid(format!(
                                    "node '{name}' has output shape {shape:?}: give the neuron as C,Y,X for [C, H, W] and as C for [F]"
                                )))
                            }
                        };
                        weights[channel * plane + at] = 1.0;
                    }
                }
                Ok(Resolved {
                    node: n,
                    mode: ObjectiveMode::Linear,
                    class: 0,
                    weights,
                })
            }
        }
    }
}
