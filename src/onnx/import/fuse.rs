//! Element-wise patterns exporters write with operators glimpse has no layer for, fused into
//! one element-wise node before the import loop:
//!
//! - `x · Sigmoid(x)` (SiLU / Swish: `Sigmoid` then `Mul`),
//! - `x · HardSigmoid(x)` (HardSwish below opset 14),
//! - `relu6(t + 3) / 6` (`Add`, `Clip` at 0 and 6, `Mul` by ⅙ or `Div` by 6: Keras' hard
//!   sigmoid through tf2onnx) as a HardSigmoid, and `t · relu6(t + 3) / 6` as a HardSwish,
//! - `x · ½ · (1 + erf(x / √2))` (GELU below opset 20: `Div` or `Mul`, `Erf`, `Add`, two
//!   `Mul`s in any association),
//! - LayerNorm as exporters write it below opset 17: `ReduceMean`, `Sub`, `Pow` (or `Mul` of
//!   the difference by itself), `ReduceMean`, `Add` ε, `Sqrt`, `Div`, then optionally `Mul` by a
//!   scale and `Add` of a shift (a [`crate::layers::LayerNorm`]),
//! - `F.normalize` as both exporters write it: `ReduceL2`, `Clip` at ε, optionally `Expand`,
//!   `Div` (a LayerNorm of kind [`NormKind::L2`]).
//!
//! Every intermediate tensor must have no reader outside the pattern; otherwise the pattern is
//! left alone and its operators are refused as usual.

use std::collections::HashMap;

use super::attributes::attr_f;
use super::node_name;
use super::{Importer, Val};
use crate::error::{Error, Result};
use crate::layers::{Elementwise, Func, NormKind};
use crate::model::Op;
use crate::onnx::proto::{GraphProto, NodeProto, TensorProto};
use crate::onnx::{tensor, OnnxOp};

/// Operators that appear only inside the fused patterns, and those patterns.
pub(crate) const PART_OF_PATTERNS: &[(&str, &str)] = &[
    ("Erf", "the GELU pattern (x · ½ · (1 + erf(x / √2)))"),
    (
        "ReduceL2",
        "the L2 normalisation pattern (x / Expand(Clip(ReduceL2(x), ε)))",
    ),
];

fn fused_only<'m>(_imp: &mut Importer<'m, '_>, n: &'m NodeProto, name: &str) -> Result<()> {
    Err(Error::Onnx(format!(
        "node '{name}' ({}) is mapped only as part of a fused pattern",
        n.op_type
    )))
}

/// The patterns, for the README's table.
pub(crate) const FUSED: &[OnnxOp] = &[
    OnnxOp {
        op_type: "Sigmoid + Mul",
        layer: "Silu",
        notes: "`x · Sigmoid(x)` (SiLU, Swish), fused at import",
        import: fused_only,
    },
    OnnxOp {
        op_type: "HardSigmoid + Mul",
        layer: "HardSwish",
        notes: "`x · HardSigmoid(x)`, fused at import",
        import: fused_only,
    },
    OnnxOp {
        op_type: "Add + Clip + Mul (+ Mul)",
        layer: "HardSigmoid / HardSwish",
        notes: "`relu6(x + 3) / 6` (Keras' hard sigmoid), and `x` times it, fused at import",
        import: fused_only,
    },
    OnnxOp {
        op_type: "ReduceMean + Sub + Pow + ReduceMean + Add + Sqrt + Div (+ Mul + Add)",
        layer: "LayerNorm",
        notes:
            "LayerNorm as exporters write it below opset 17, over trailing axes, fused at import",
        import: fused_only,
    },
    OnnxOp {
        op_type: "ReduceL2 + Clip (+ Expand) + Div",
        layer: "L2Norm",
        notes: "`x / max(‖x‖₂, ε)` over trailing axes (`F.normalize`: Swin V2), fused at import",
        import: fused_only,
    },
    OnnxOp {
        op_type: "Div/Mul + Erf + Add + Mul + Mul",
        layer: "Gelu",
        notes: "GELU as exporters write it below opset 20, fused at import",
        import: fused_only,
    },
];

/// One fused pattern: what it computes, its input and output tensors, and a name.
pub(crate) struct FusedNode<'m> {
    pub func: FusedOp,
    pub input: &'m str,
    pub output: &'m str,
    pub name: String,
}

/// What a fused pattern computes.
#[derive(Clone, Debug)]
pub(crate) enum FusedOp {
    Elementwise(Elementwise),
    /// A normalisation over ONNX axes `axes` (trailing), scale and shift one value or one per
    /// normalised value.
    LayerNorm {
        kind: NormKind,
        axes: Vec<i64>,
        eps: f32,
        scale: Vec<f32>,
        bias: Vec<f32>,
    },
}

/// What the import loop does with a node that belongs to a pattern.
pub(crate) enum Fused<'m> {
    /// Records the whole pattern here (its earliest node).
    Emit(FusedNode<'m>),
    /// Part of a pattern recorded elsewhere.
    Skip,
}

pub(super) struct Patterns<'a, 'm> {
    pub(super) nodes: &'m [NodeProto],
    pub(super) live: &'a [bool],
    pub(super) readers: &'a HashMap<&'m str, usize>,
    pub(super) initializers: &'a HashMap<&'m str, &'m TensorProto>,
    pub(super) producer: HashMap<&'m str, usize>,
    pub(super) position: HashMap<usize, usize>,
}

impl<'m> Patterns<'_, 'm> {
    pub(super) fn sole_reader(&self, t: &str) -> bool {
        self.readers.get(t).copied() == Some(1)
    }

    pub(super) fn produced(&self, t: &str, op: &str) -> Option<usize> {
        self.producer
            .get(t)
            .copied()
            .filter(|&i| self.live[i] && self.nodes[i].op_type == op)
    }

    /// The single reader of tensor `t` of type `op`.
    pub(super) fn read_by(&self, t: &str, op: &str) -> Option<usize> {
        if !self.sole_reader(t) {
            return None;
        }
        (0..self.nodes.len()).find(|&i| {
            self.live[i]
                && self.nodes[i].op_type == op
                && self.nodes[i].input.iter().any(|s| s == t)
        })
    }

    /// The value of a one-element constant tensor (an initializer or a Constant node's).
    pub(super) fn scalar(&self, t: &str) -> Option<f32> {
        let from = |tp: &TensorProto| {
            tensor::to_f32(tp, None)
                .ok()
                .filter(|v| v.data.len() == 1)
                .map(|v| v.data[0])
        };
        if let Some(tp) = self.initializers.get(t) {
            return from(tp);
        }
        let c = self.produced(t, "Constant")?;
        let a = self.nodes[c].attribute.first()?;
        match a.name.as_str() {
            "value" => a.t.as_ref().and_then(from),
            "value_float" => Some(a.f),
            _ => None,
        }
    }

    /// The values of a constant tensor (an initializer or a Constant node's).
    pub(super) fn constant(&self, t: &str) -> Option<crate::model::Tensor> {
        if let Some(tp) = self.initializers.get(t) {
            return tensor::to_f32(tp, None).ok();
        }
        let c = self.produced(t, "Constant")?;
        let a = self.nodes[c]
            .attribute
            .first()
            .filter(|a| a.name == "value")?;
        tensor::to_f32(a.t.as_ref()?, None).ok()
    }

    /// For a two-input node, the input that is not `known` (when `known` is one of them).
    pub(super) fn other(&self, i: usize, known: &str) -> Option<&'m str> {
        match self.nodes[i].input.as_slice() {
            [a, b] if a == known => Some(b),
            [a, b] if b == known => Some(a),
            _ => None,
        }
    }

    /// For a two-input node with one constant input near `value`, the other input.
    pub(super) fn by_constant(&self, i: usize, value: f32) -> Option<&'m str> {
        let near = |t: &str| self.scalar(t).is_some_and(|v| (v - value).abs() < 1e-4);
        match self.nodes[i].input.as_slice() {
            [a, b] if near(b) => Some(a),
            [a, b] if near(a) => Some(b),
            _ => None,
        }
    }

    /// `x · f(x)` at a Mul `m` whose other factor comes from a sole-reader node of type `op`.
    fn gated(&self, m: usize, op: &str) -> Option<(usize, &'m str)> {
        let [a, b] = self.nodes[m].input.as_slice() else {
            return None;
        };
        [(a, b), (b, a)].into_iter().find_map(|(gate, x)| {
            let s = self.produced(gate, op)?;
            (self.nodes[s].input.first().is_some_and(|i| i == x) && self.sole_reader(gate))
                .then_some((s, x.as_str()))
        })
    }

    /// A Clip's bounds (inputs from opset 11, attributes before), when both are constants.
    fn clip_bounds(&self, c: usize) -> Option<(f32, f32)> {
        let n = &self.nodes[c];
        let bound = |i: usize, name: &str, or: f32| match n.input.get(i).filter(|t| !t.is_empty()) {
            Some(t) => self.scalar(t),
            None => Some(
                n.attribute
                    .iter()
                    .find(|a| a.name == name)
                    .map_or(or, |a| a.f),
            ),
        };
        Some((bound(1, "min", f32::MIN)?, bound(2, "max", f32::MAX)?))
    }

    /// `relu6(t + 3) / 6` from its Clip `c`: its nodes, its input `t` and its output.
    fn hard_sigmoid(&self, c: usize) -> Option<(Vec<usize>, &'m str, &'m str)> {
        (self.clip_bounds(c)? == (0.0, 6.0)).then_some(())?;
        let a_out = self.nodes[c].input.first()?;
        let a = self
            .produced(a_out, "Add")
            .filter(|_| self.sole_reader(a_out))?;
        let t = self.by_constant(a, 3.0)?;
        let c_out = self.nodes[c].output.first()?;
        let third = self
            .read_by(c_out, "Mul")
            .filter(|&m| self.by_constant(m, 1.0 / 6.0).is_some_and(|o| o == c_out))
            .or_else(|| {
                let d = self.read_by(c_out, "Div")?;
                let [num, den] = self.nodes[d].input.as_slice() else {
                    return None;
                };
                (num == c_out && self.scalar(den).is_some_and(|v| (v - 6.0).abs() < 1e-4))
                    .then_some(d)
            })?;
        Some((vec![a, c, third], t, self.nodes[third].output.first()?))
    }

    /// GELU's Erf form around Erf node `e`: its nodes and the tensors x and output.
    fn gelu(&self, e: usize) -> Option<(Vec<usize>, &'m str, &'m str)> {
        let t = self.nodes[e].input.first()?;
        let scaled = self
            .produced(t, "Div")
            .and_then(|d| Some((d, self.by_constant(d, std::f32::consts::SQRT_2)?)))
            .or_else(|| {
                let d = self.produced(t, "Mul")?;
                Some((d, self.by_constant(d, std::f32::consts::FRAC_1_SQRT_2)?))
            });
        let (d, x) = scaled.filter(|_| self.sole_reader(t))?;
        let erf_out = self.nodes[e].output.first()?;
        let a = self.read_by(erf_out, "Add")?;
        self.by_constant(a, 1.0).filter(|o| o == erf_out)?;
        let a_out = self.nodes[a].output.first()?;
        let b = self.read_by(a_out, "Mul")?;
        let b_out = self.nodes[b].output.first()?.as_str();
        let other = self.other(b, a_out)?;
        let mut nodes = vec![d, e, a, b];
        let output = if other == x {
            // (1 + erf) · x, then · ½.
            let c = self.read_by(b_out, "Mul")?;
            self.by_constant(c, 0.5).filter(|o| *o == b_out)?;
            nodes.push(c);
            self.nodes[c].output.first()?.as_str()
        } else if self.scalar(other).is_some_and(|v| (v - 0.5).abs() < 1e-4) {
            // (1 + erf) · ½, then · x.
            let c = self.read_by(b_out, "Mul")?;
            self.other(c, b_out).filter(|o| *o == x)?;
            nodes.push(c);
            self.nodes[c].output.first()?.as_str()
        } else {
            // (x · ½) · (1 + erf).
            let h = self.produced(other, "Mul")?;
            self.by_constant(h, 0.5).filter(|o| *o == x)?;
            if !self.sole_reader(other) {
                return None;
            }
            nodes.push(h);
            b_out
        };
        Some((nodes, x, output))
    }
}

/// Finds the patterns among the live nodes; `order` is the import order.
pub(crate) fn plan<'m>(
    g: &'m GraphProto,
    order: &[usize],
    live: &[bool],
    readers: &HashMap<&'m str, usize>,
    initializers: &HashMap<&'m str, &'m TensorProto>,
) -> HashMap<usize, Fused<'m>> {
    let mut producer = HashMap::new();
    for (i, n) in g.node.iter().enumerate() {
        for o in &n.output {
            producer.insert(o.as_str(), i);
        }
    }
    let p = Patterns {
        nodes: &g.node,
        live,
        readers,
        initializers,
        producer,
        position: order.iter().enumerate().map(|(k, &i)| (i, k)).collect(),
    };
    let mut out: HashMap<usize, Fused<'m>> = HashMap::new();
    let mut add = |nodes: Vec<usize>, func: FusedOp, input: &'m str, output: &'m str| {
        if nodes.iter().any(|i| out.contains_key(i) || !live[*i]) {
            return;
        }
        let first = *nodes
            .iter()
            .min_by_key(|&&i| p.position.get(&i).copied().unwrap_or(usize::MAX))
            .expect("a pattern has nodes");
        for &i in &nodes {
            out.insert(i, Fused::Skip);
        }
        let name = node_name(&g.node[first], first);
        out.insert(
            first,
            Fused::Emit(FusedNode {
                func,
                input,
                output,
                name,
            }),
        );
    };
    for (m, n) in g.node.iter().enumerate() {
        let Some(output) = n.output.first() else {
            continue;
        };
        match n.op_type.as_str() {
            "Mul" => {
                if let Some((s, x)) = p.gated(m, "Sigmoid") {
                    let silu = Elementwise::new(Func::Silu);
                    add(vec![s, m], FusedOp::Elementwise(silu), x, output);
                } else if let Some((s, x)) = p.gated(m, "HardSigmoid") {
                    let name = node_name(&g.node[s], s);
                    let alpha = attr_f(&g.node[s], &name, "alpha", 0.2).unwrap_or(0.2);
                    let beta = attr_f(&g.node[s], &name, "beta", 0.5).unwrap_or(0.5);
                    let hs = Elementwise::hard_swish(alpha, beta);
                    add(vec![s, m], FusedOp::Elementwise(hs), x, output);
                }
            }
            "Clip" => {
                if let Some((mut nodes, t, h)) = p.hard_sigmoid(m) {
                    let swish = p.read_by(h, "Mul").filter(|&s| p.other(s, h) == Some(t));
                    let (func, output) = match swish {
                        Some(s) => {
                            nodes.push(s);
                            let out = g.node[s].output.first().map_or("", |o| o.as_str());
                            (Elementwise::hard_swish(1.0 / 6.0, 0.5), out)
                        }
                        None => (Elementwise::hard_sigmoid(1.0 / 6.0, 0.5), h),
                    };
                    add(nodes, FusedOp::Elementwise(func), t, output);
                }
            }
            "Erf" => {
                if let Some((nodes, x, output)) = p.gelu(m) {
                    let gelu = Elementwise::new(Func::Gelu);
                    add(nodes, FusedOp::Elementwise(gelu), x, output);
                }
            }
            "ReduceMean" | "ReduceL2" => {
                let found = match n.op_type.as_str() {
                    "ReduceMean" => p.layer_norm(m),
                    _ => p.l2_norm(m),
                };
                if let Some((nodes, x, output, ln)) = found {
                    add(nodes, ln, x, output);
                }
            }
            _ => {}
        }
    }
    out
}

impl<'m> Importer<'m, '_> {
    /// Records a fused pattern as one node.
    pub(crate) fn emit_fused(&mut self, f: &FusedNode<'m>) -> Result<()> {
        let kind = match &f.func {
            FusedOp::Elementwise(e) => e.func.row().kind,
            FusedOp::LayerNorm {
                kind: NormKind::Standard,
                ..
            } => "LayerNorm",
            FusedOp::LayerNorm { .. } => "L2Norm",
        };
        let x = match self.values.get(f.input) {
            Some(Val::Node(id)) => *id,
            _ => {
                return Err(Error::Onnx(format!(
                "the {kind} pattern at '{}' reads '{}', which is not computed from the graph input",
                f.name, f.input
            )))
            }
        };
        let op = match &f.func {
            FusedOp::Elementwise(e) => Op::Elementwise(*e),
            FusedOp::LayerNorm {
                kind,
                axes,
                eps,
                scale,
                bias,
            } => {
                let ln = self.fused_layer_norm(f, x, axes, *eps, scale, bias)?;
                Op::LayerNorm(crate::layers::LayerNorm { kind: *kind, ..ln })
            }
        };
        let id = self.push_node(&f.name, op, vec![x])?;
        if self.is_whole(x) {
            self.whole_form.insert(id);
        }
        self.values.insert(f.output, Val::Node(id));
        Ok(())
    }
}
