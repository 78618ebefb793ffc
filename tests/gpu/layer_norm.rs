//! LayerNorm (and the L2 normalisation, its other kind) and a token-wise dense layer after it
//! (ConvNeXt's channels-last MLP) on the GPU: the forward pass against the f64 reference, the
//! gradient (through the mean and standard deviation, or the norm, and where the norm is
//! clamped at ε) against central finite differences, and LRP (the identity and proportional
//! rules; ε and z⁺ on the token-wise layer) against the f64 reference.

use crate::common::{assert_close, finite_difference_gradient, model, Rng};
use glimpse::explain::backward::reference_backward;
use glimpse::explain::gradient::{GradientMap, GradientPlan};
use glimpse::explain::{Composite, LayerRef, LrpPlan, Rule, Target};
use glimpse::layers::{reference_forward, Dense, LayerNorm, NormKind, TokenDense, Transpose};
use glimpse::model::{Graph, Op, Tensor};
use glimpse::Predictor;

/// input [4, 2, 3] → channels last [2, 3, 4] → LayerNorm or L2 normalisation over the 4
/// channels (or over the last two axes) → token-wise dense 4→5 → flatten → dense 30→3.
fn net(rng: &mut Rng, axis: usize, kind: NormKind, eps: f32) -> Graph {
    let mut g = Graph::new(vec![4, 2, 3]).unwrap();
    let t = g
        .push(
            "last",
            Op::Transpose(Transpose {
                perm: vec![1, 2, 0],
            }),
            vec![0],
        )
        .unwrap();
    let d: usize = [2, 3, 4][axis..].iter().product();
    let ln = LayerNorm {
        kind,
        axis,
        scale: rng.vec(d).iter().map(|v| 1.0 + v * 0.5).collect(),
        bias: rng.vec(d).iter().map(|v| v * 0.2).collect(),
        eps,
    };
    let n = g.push("ln", Op::LayerNorm(ln), vec![t]).unwrap();
    let mlp = TokenDense {
        dense: Dense {
            weight: rng.tensor(&[5, 4]),
            bias: Some(rng.vec(5)),
        },
    };
    let m = g.push("mlp", Op::TokenDense(mlp), vec![n]).unwrap();
    let f = g.push_reshape("flat", m, vec![30]).unwrap();
    let head = Dense {
        weight: rng.tensor(&[3, 30]),
        bias: Some(rng.vec(3)),
    };
    g.push("head", Op::Dense(head), vec![f]).unwrap();
    g
}

fn scale(v: &[f64]) -> f64 {
    v.iter().fold(0.0f64, |m, x| m.max(x.abs()))
}

#[test]
fn forward_and_gradient_match_the_references() {
    // The L2 norm of 4 values in [-1, 1) is below 2: ε = 3 clamps every row, σ = ε.
    let cases = [
        (2, NormKind::Standard, 1e-5),
        (1, NormKind::Standard, 1e-5),
        (2, NormKind::L2, 1e-12),
        (1, NormKind::L2, 1e-12),
        (2, NormKind::L2, 3.0),
    ];
    for (axis, kind, eps) in cases {
        let mut rng = Rng::new(81 + axis as u64);
        let g = net(&mut rng, axis, kind, eps);
        let x = rng.tensor(&[2, 4, 2, 3]);
        let want = &reference_forward(&g, &x.to_f64())[g.output];
        let got = Predictor::new(&model(&g), 2).unwrap().run(&x).unwrap();
        assert_close("logits", &got.data, &want.data, 1e-5, 1e-5);
        let grad = GradientPlan::new(&model(&g), GradientMap::Gradient, 2)
            .unwrap()
            .run(&x, &[Target::Class(2)])
            .unwrap();
        for i in 0..2 {
            let fd = finite_difference_gradient(&g, &x, i, 2);
            assert_close(
                &format!("∂f/∂x {kind:?} ε {eps} axis {axis} item {i}"),
                &grad.map.data[i * 24..(i + 1) * 24],
                &fd,
                1e-4 * scale(&fd) + 1e-7,
                1e-3,
            );
        }
    }
}

#[test]
fn lrp_passes_relevance_through_or_in_proportion() {
    for kind in [NormKind::Standard, NormKind::L2] {
        lrp_rules_match_the_reference(kind);
    }
}

fn lrp_rules_match_the_reference(kind: NormKind) {
    let mut rng = Rng::new(85);
    let g = net(&mut rng, 2, kind, 1e-5);
    let x = rng.tensor(&[2, 4, 2, 3]);
    let plain = Composite::uniform(Rule::Epsilon { epsilon: 1e-3 });
    assert_eq!(
        plain.rule_of(glimpse::layers::LayerClass::LayerNorm),
        Rule::Identity
    );
    let with = |rule: Rule| {
        let mut c = plain.clone();
        c.overrides.push((LayerRef::Name("ln".into()), rule));
        c
    };
    let zplus = Composite::uniform(Rule::ZPlus);
    for (what, c) in [
        ("identity", plain.clone()),
        ("pass", with(Rule::Pass)),
        ("proportional", with(Rule::Norm)),
        ("z+", zplus),
    ] {
        let e = LrpPlan::new(&model(&g), &c, 2, false)
            .unwrap()
            .run(&x, &[Target::Class(1)])
            .unwrap();
        let xs = x.to_f64();
        let out = &reference_forward(&g, &xs)[g.output];
        let mut seed = Tensor::zeros(out.shape.clone());
        (0..2).for_each(|i| seed.data[i * 3 + 1] = out.data[i * 3 + 1]);
        let rules = c.node_rules(&g, g.output).unwrap();
        let flow = reference_backward(&g, &rules, &xs, g.output, &seed, None);
        let want = flow[0].as_ref().unwrap();
        assert_close(
            &format!("{kind:?} {what}"),
            &e.map.data,
            &want.data,
            1e-5 * scale(&want.data),
            1e-4,
        );
        let (into, out) = (flow[1].as_ref().unwrap(), flow[2].as_ref().unwrap());
        if what == "pass" {
            assert_eq!(into.data, out.data, "the pass rule");
        }
        if what == "identity" {
            // σ held constant: what reaches the centred input is conserved up to the shift β's
            // share, Σ R·β / y per row; the rows' sums are not the pass rule's.
            assert_ne!(into.data, out.data);
        }
    }
}
