//! Constant operands of element-wise ops and concatenations, as [`Constant`] nodes: the value
//! broadcast against an activation as ONNX defines it, checked to be the same for every item.

use super::Constant;
use crate::error::Result;
use crate::model::{NodeId, Op, Tensor};
use crate::onnx::import::{unsupported, Importer};
use crate::onnx::proto::NodeProto;

/// Constant `c` (input `ci` of node `n`) beside activation `x`, as a node in `x`'s form: with
/// `expand`, broadcast to `x`'s per-item shape; else kept at its own sizes, padded with 1s in
/// front to `x`'s rank (for layers that broadcast themselves). `map` is applied to every value
/// (a negation for Sub, a reciprocal for Div).
pub(crate) fn constant_beside<'m>(
    imp: &mut Importer<'m, '_>,
    n: &'m NodeProto,
    name: &str,
    ci: usize,
    x: NodeId,
    expand: bool,
    map: fn(f32) -> f32,
) -> Result<NodeId> {
    let c = imp.const_f32(n, name, ci)?;
    let whole = imp.is_whole(x);
    let target = imp.onnx_shape(x);
    let fail = |why: String| unsupported(n, name, why);
    if c.shape.len() > target.len() {
        return Err(fail(format!(
            "the constant's rank {} exceeds the activation's {}",
            c.shape.len(),
            target.len()
        )));
    }
    let mut cs = vec![1; target.len() - c.shape.len()];
    cs.extend(&c.shape);
    if let Some(k) = (0..cs.len()).find(|&k| cs[k] != 1 && cs[k] != target[k]) {
        return Err(fail(format!(
            "the constant of shape {:?} does not broadcast against the activation's {target:?} \
             (at batch 1) along axis {k}",
            c.shape
        )));
    }
    // The per-item view: drop the batch axis of a tensor held with the batch first (a constant
    // must then be the same for every item: size 1 there).
    let (cs, target) = if whole {
        (cs, target)
    } else {
        (cs[1..].to_vec(), target[1..].to_vec())
    };
    let value: Vec<f32> = c.data.iter().map(|&v| map(v)).collect();
    let (shape, data) = if expand {
        (target.clone(), broadcast(&value, &cs, &target))
    } else {
        (cs, value)
    };
    let constant = Constant::new(shape, data).map_err(|e| fail(e.to_string()))?;
    let id = imp.push_node(&format!("{name}:constant"), Op::Constant(constant), vec![0])?;
    if whole {
        imp.whole_form.insert(id);
    }
    Ok(id)
}

/// Activation `x` (per-item shape in its form) broadcast to per-item `to` (each of `x`'s sizes 1
/// or `to`'s, same rank): `x` times a [`Constant`] of ones, which LRP's gate rule holds constant,
/// so each value of `x` gets the relevance of all its copies. `x` itself when nothing grows.
pub(crate) fn broadcast_activation(
    imp: &mut Importer<'_, '_>,
    name: &str,
    x: NodeId,
    to: &[usize],
) -> Result<NodeId> {
    if imp.shape(x) == to {
        return Ok(x);
    }
    let ones = Constant::new(to.to_vec(), vec![1.0; to.iter().product()])?;
    let k = imp.push_node(&format!("{name}:ones"), Op::Constant(ones), vec![0])?;
    let whole = imp.is_whole(x);
    let id = imp.push_node(
        &format!("{name}:broadcast"),
        Op::Mul(crate::layers::Mul),
        vec![x, k],
    )?;
    if whole {
        imp.whole_form.insert(k);
        imp.whole_form.insert(id);
    }
    Ok(id)
}

/// `value` of shape `from` (each size 1 or `to`'s) broadcast to `to`.
fn broadcast(value: &[f32], from: &[usize], to: &[usize]) -> Vec<f32> {
    let numel: usize = to.iter().product();
    let mut out = Vec::with_capacity(numel);
    for i in 0..numel {
        let (mut rest, mut j, mut step) = (i, 0, 1);
        for k in (0..to.len()).rev() {
            let idx = rest % to[k];
            rest /= to[k];
            if from[k] != 1 {
                j += idx * step;
            }
            step *= from[k];
        }
        out.push(value[j]);
    }
    out
}

/// A constant operand of a Concat, as a node in the form `whole` says.
pub(crate) fn concat_constant<'m>(
    imp: &mut Importer<'m, '_>,
    n: &'m NodeProto,
    name: &str,
    ci: usize,
    whole: bool,
) -> Result<NodeId> {
    let c: Tensor = imp.const_f32(n, name, ci)?;
    let shape = if whole {
        c.shape.clone()
    } else if c.shape.first() == Some(&1) {
        c.shape[1..].to_vec()
    } else {
        return Err(unsupported(
            n,
            name,
            format!(
                "constant input {ci} has shape {:?}; beside activations with the batch first it \
                 must have 1 there (the same for every item)",
                c.shape
            ),
        ));
    };
    let constant = Constant::new(shape, c.data).map_err(|e| unsupported(n, name, e.to_string()))?;
    let id = imp.push_node(
        &format!("{name}:constant{ci}"),
        Op::Constant(constant),
        vec![0],
    )?;
    if whole {
        imp.whole_form.insert(id);
    }
    Ok(id)
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_constant_broadcasts_along_its_axes_of_size_one() {
        let b = super::broadcast(&[1., 2.], &[2, 1], &[2, 3]);
        assert_eq!(b, [1., 1., 1., 2., 2., 2.]);
        let b = super::broadcast(&[1., 2., 3.], &[1, 3], &[2, 3]);
        assert_eq!(b, [1., 2., 3., 1., 2., 3.]);
    }
}
