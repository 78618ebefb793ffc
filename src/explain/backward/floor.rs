//! LRP's multiply-add floor: how many forward passes' worth of multiply-adds a composite's rules
//! need on a model (z⁺ after ReLUs 3: the forward, the z⁺ forward, one adjoint; ε 2: the forward
//! and one adjoint), the figure LRP ÷ forward is measured against.

use super::linear::rule_passes;
use crate::error::Result;
use crate::explain::{explained_node, Composite};
use crate::model::Graph;

/// Multiply-adds of one item's LRP with `composite` ÷ those of its forward pass: per linear
/// layer up to the explained node, the forward plus the passes its rule records; per other layer
/// with multiply-adds (MatMul, LayerNorm), the forward plus one adjoint per input (the gradient
/// rule on a linear layer: one adjoint). Every layer before the explained node counts, also one
/// relevance would not reach (a side branch), so there the floor is an upper bound. `None` for
/// a model without multiply-adds.
pub fn lrp_floor(graph: &Graph, composite: &Composite) -> Result<Option<f64>> {
    let rules = composite.rules(graph)?;
    let last = explained_node(graph);
    let (mut forward, mut lrp) = (0u64, 0u64);
    for (k, node) in graph.nodes.iter().enumerate() {
        let layer = node.op.layer();
        let macs = layer.macs(&node.shape);
        forward += macs;
        if k > last || macs == 0 {
            lrp += macs;
            continue;
        }
        let extra = match layer.linear() {
            Some(linear) => rule_passes(graph, k, linear, &rules[k], composite.ignore_bias),
            None => node.inputs.len(),
        };
        lrp += macs * (1 + extra as u64);
    }
    Ok((forward > 0).then(|| lrp as f64 / forward as f64))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::explain::{Bound, Rule};
    use crate::layers::{Conv2d, Dense};
    use crate::model::{Op, Tensor};

    fn conv(cin: usize, cout: usize) -> Op {
        Op::Conv2d(Conv2d {
            weight: Tensor::new(vec![cout, cin, 3, 3], vec![0.1; cout * cin * 9]).unwrap(),
            bias: Some(vec![0.0; cout]),
            stride: [1, 1],
            pads: [1; 4],
            dilation: [1, 1],
            groups: 1,
        })
    }

    /// conv 3→8, ReLU, conv 8→8, ReLU, dense → 4 on 5×5.
    fn net() -> (Graph, [f64; 3]) {
        let mut g = Graph::new(vec![3, 5, 5]).unwrap();
        let a = g.push("conv1", conv(3, 8), vec![0]).unwrap();
        let a = g.push("relu1", Op::relu(), vec![a]).unwrap();
        let a = g.push("conv2", conv(8, 8), vec![a]).unwrap();
        let a = g.push("relu2", Op::relu(), vec![a]).unwrap();
        let d = Dense {
            weight: Tensor::new(vec![4, 200], vec![0.1; 800]).unwrap(),
            bias: None,
        };
        g.push("fc", Op::Dense(d), vec![a]).unwrap();
        (g, [3.0 * 8.0 * 9.0 * 25.0, 8.0 * 8.0 * 9.0 * 25.0, 800.0])
    }

    #[test]
    fn epsilon_is_two_and_epsilon_plus_flat_weighs_each_layer_by_its_rule() {
        let (g, [m1, m2, m3]) = net();
        let total = m1 + m2 + m3;
        let eps = Composite::uniform(Rule::Epsilon { epsilon: 1e-6 });
        assert_eq!(lrp_floor(&g, &eps).unwrap(), Some(2.0));
        let epf = Composite::preset("epsilon-plus-flat", Bound::Scalar(0.0), Bound::Scalar(1.0));
        // flat: forward + adjoint (its z is constant); z⁺ after a ReLU: forward, z⁺ forward,
        // adjoint; ε on the dense layer: forward + adjoint.
        let want = (2.0 * m1 + 3.0 * m2 + 2.0 * m3) / total;
        let got = lrp_floor(&g, &epf.unwrap()).unwrap().unwrap();
        assert!((got - want).abs() < 1e-12, "{got} vs {want}");
        // z⁺ on the first layer, whose input may be negative: min(x, 0) terms count too.
        let zplus = Composite::uniform(Rule::ZPlus);
        let got = lrp_floor(&g, &zplus).unwrap().unwrap();
        let want = (5.0 * m1 + 3.0 * (m2 + m3)) / total;
        assert!((got - want).abs() < 1e-12, "{got} vs {want}");
        // The gradient rule on every layer: forward + one adjoint, as ε.
        let gradient = Composite::uniform(Rule::Gradient);
        assert_eq!(lrp_floor(&g, &gradient).unwrap(), Some(2.0));
        // ε ignoring the convolutions' biases recomputes their z: one more forward there.
        let mut no_bias = Composite::uniform(Rule::Epsilon { epsilon: 1e-6 });
        no_bias.ignore_bias = true;
        let got = lrp_floor(&g, &no_bias).unwrap().unwrap();
        let want = (3.0 * (m1 + m2) + 2.0 * m3) / total;
        assert!((got - want).abs() < 1e-12, "{got} vs {want}");
    }
}
