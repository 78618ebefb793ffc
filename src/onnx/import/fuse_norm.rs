//! The normalisation patterns of `fuse`: LayerNorm written out below opset 17, and
//! `F.normalize` (the L2 normalisation), each fused into one [`crate::layers::LayerNorm`].

use super::fuse::{FusedNode, FusedOp, Patterns};
use super::Importer;
use crate::error::{Error, Result};
use crate::layers::NormKind;
use crate::onnx::tensor;

impl<'m> Patterns<'_, 'm> {
    /// A ReduceMean's axes (attribute, or input 1 from opset 18), with keepdims on.
    fn mean_axes(&self, r: usize) -> Option<Vec<i64>> {
        let n = &self.nodes[r];
        let keep = n
            .attribute
            .iter()
            .find(|a| a.name == "keepdims")
            .is_none_or(|a| a.i != 0);
        if !keep {
            return None;
        }
        match n.attribute.iter().find(|a| a.name == "axes") {
            Some(a) => Some(a.ints.clone()),
            None => self.ints(n.input.get(1)?),
        }
    }

    /// The values of a constant integer tensor (axes), or of a float one.
    fn ints(&self, t: &str) -> Option<Vec<i64>> {
        let tp = match self.initializers.get(t) {
            Some(tp) => *tp,
            None => {
                let c = self.produced(t, "Constant")?;
                let a = self.nodes[c].attribute.first()?;
                match a.name.as_str() {
                    "value" => a.t.as_ref()?,
                    "value_ints" => return Some(a.ints.clone()),
                    _ => return None,
                }
            }
        };
        match tensor::to_i64(tp, None) {
            Ok((_, v)) => Some(v),
            Err(_) => Some(
                tensor::to_f32(tp, None)
                    .ok()?
                    .data
                    .iter()
                    .map(|&x| x as i64)
                    .collect(),
            ),
        }
    }

    /// LayerNorm written out, from its first ReduceMean `r`: its nodes, input, output and what
    /// it computes.
    pub(super) fn layer_norm(&self, r: usize) -> Option<(Vec<usize>, &'m str, &'m str, FusedOp)> {
        let x = self.nodes[r].input.first()?.as_str();
        let axes = self.mean_axes(r)?;
        let mean = self.nodes[r].output.first()?;
        let sub = self.read_by(mean, "Sub")?;
        (self.nodes[sub].input.as_slice() == [x.to_string(), mean.clone()]).then_some(())?;
        let d = self.nodes[sub].output.first()?.as_str();
        // The centred input has two readers: its square and the division.
        (self.readers.get(d).copied() == Some(2)).then_some(())?;
        let reader = |op: &str| {
            (0..self.nodes.len()).find(|&i| {
                self.live[i]
                    && self.nodes[i].op_type == op
                    && self.nodes[i].input.iter().any(|s| s == d)
            })
        };
        let square = reader("Pow")
            .filter(|&p| {
                self.nodes[p].input.first().is_some_and(|s| s == d)
                    && self.nodes[p].input.get(1).and_then(|e| self.scalar(e)) == Some(2.0)
            })
            .or_else(|| reader("Mul").filter(|&m| self.nodes[m].input.iter().all(|s| s == d)))?;
        let sq = self.nodes[square].output.first()?;
        let var = self.read_by(sq, "ReduceMean")?;
        (self.mean_axes(var)? == axes).then_some(())?;
        let v = self.nodes[var].output.first()?;
        let add = self.read_by(v, "Add")?;
        let eps_t = self.other(add, v)?;
        let eps = self.scalar(eps_t)?;
        let sqrt = self.read_by(self.nodes[add].output.first()?, "Sqrt")?;
        let s = self.nodes[sqrt].output.first()?;
        let div = self.read_by(s, "Div")?;
        (self.nodes[div].input.as_slice() == [d.to_string(), s.clone()]).then_some(())?;
        let mut nodes = vec![r, sub, square, var, add, sqrt, div];
        let mut out = self.nodes[div].output.first()?.as_str();
        let mut scale = vec![1.0];
        let mut bias = vec![0.0];
        if let Some(m) = self.read_by(out, "Mul") {
            if let Some(c) = self.other(m, out).and_then(|t| self.constant(t)) {
                scale = c.data;
                nodes.push(m);
                out = self.nodes[m].output.first()?.as_str();
                if let Some(a) = self.read_by(out, "Add") {
                    if let Some(c) = self.other(a, out).and_then(|t| self.constant(t)) {
                        bias = c.data;
                        nodes.push(a);
                        out = self.nodes[a].output.first()?.as_str();
                    }
                }
            }
        }
        Some((
            nodes,
            x,
            out,
            FusedOp::LayerNorm {
                kind: NormKind::Standard,
                axes,
                eps,
                scale,
                bias,
            },
        ))
    }

    /// `F.normalize` written out, from its ReduceL2 `r`: `x / Expand(Clip(‖x‖, ε))`.
    pub(super) fn l2_norm(&self, r: usize) -> Option<(Vec<usize>, &'m str, &'m str, FusedOp)> {
        let x = self.nodes[r].input.first()?.as_str();
        let axes = self.mean_axes(r)?;
        let norm = self.nodes[r].output.first()?;
        let clip = self.read_by(norm, "Clip")?;
        let c = &self.nodes[clip];
        let eps = match c.input.get(1).filter(|t| !t.is_empty()) {
            Some(t) => self.scalar(t)?,
            None => c.attribute.iter().find(|a| a.name == "min")?.f,
        };
        // No upper bound: a Clip with a max is not a normalisation.
        (c.input.get(2).is_none_or(|t| t.is_empty())
            && c.attribute.iter().all(|a| a.name != "max"))
        .then_some(())?;
        let mut nodes = vec![r, clip];
        let mut d = c.output.first()?;
        if let Some(e) = self.read_by(d, "Expand") {
            nodes.push(e);
            d = self.nodes[e].output.first()?;
        }
        let div = self.read_by(d, "Div")?;
        (self.nodes[div].input.as_slice() == [x.to_string(), d.clone()]).then_some(())?;
        nodes.push(div);
        let out = self.nodes[div].output.first()?.as_str();
        let (scale, bias) = (vec![1.0], vec![0.0]);
        let kind = NormKind::L2;
        Some((
            nodes,
            x,
            out,
            FusedOp::LayerNorm {
                kind,
                axes,
                eps,
                scale,
                bias,
            },
        ))
    }
}

impl Importer<'_, '_> {
    /// The LayerNorm a fused pattern over ONNX `axes` of node `x` computes.
    pub(super) fn fused_layer_norm(
        &self,
        f: &FusedNode,
        x: crate::model::NodeId,
        axes: &[i64],
        eps: f32,
        scale: &[f32],
        bias: &[f32],
    ) -> Result<crate::layers::LayerNorm> {
        let shape = self.shape(x).to_vec();
        let rank = self.onnx_shape(x).len() as i64;
        let first = if self.is_whole(x) { 0 } else { 1 };
        let mut norm: Vec<i64> = axes
            .iter()
            .map(|&a| if a < 0 { a + rank } else { a })
            .collect();
        norm.sort_unstable();
        let trailing = !norm.is_empty()
            && norm[0] >= first
            && norm
                .iter()
                .enumerate()
                .all(|(k, &a)| a == norm[0] + k as i64)
            && *norm.last().expect("not empty") == rank - 1;
        let fail =
            |why: String| Error::Onnx(format!("the normalisation pattern at '{}': {why}", f.name));
        if !trailing {
            return Err(fail(format!(
                "it normalises over axes {axes:?} of a rank-{rank} tensor; glimpse takes the \
                 trailing axes within each item"
            )));
        }
        let axis = (norm[0] - first) as usize;
        let d: usize = shape[axis..].iter().product();
        let per_value = |v: &[f32], what: &str| match v.len() {
            1 => Ok(vec![v[0]; d]),
            n if n == d => Ok(v.to_vec()),
            n => Err(fail(format!(
                "its {what} has {n} values for {d} normalised ones"
            ))),
        };
        Ok(crate::layers::LayerNorm {
            kind: NormKind::Standard,
            axis,
            scale: per_value(scale, "scale")?,
            bias: per_value(bias, "shift")?,
            eps,
        })
    }
}
