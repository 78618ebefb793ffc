//! The hand cases of the LRP literature on the GPU: ε, α1β0, γ and batch scaling, max-pool
//! winner-take-all, an unfolded BatchNorm, a residual sum.

use crate::common::{assert_close, Rng};
use crate::lrp_rules::{check, small_cnn};
use glimpse::explain::{Composite, LayerRef, LrpPlan, Rule, Target};
use glimpse::layers::LayerClass;
use glimpse::layers::{Dense, Pool2d};
use glimpse::model::{Graph, Op, Tensor};

/// x = [1, 2, 3], W1 = 2 (3×3), ReLU, W2 = 3 (1×3), no bias: f = 108.
pub(crate) fn hand_net(w00: f32) -> Graph {
    let mut g = Graph::new(vec![3]).unwrap();
    let mut w1 = vec![2.0; 9];
    w1[0] = w00;
    let a = g
        .push(
            "l1",
            Op::Dense(Dense {
                weight: Tensor::new(vec![3, 3], w1).unwrap(),
                bias: None,
            }),
            vec![0],
        )
        .unwrap();
    let r = g.push("relu", Op::relu(), vec![a]).unwrap();
    g.push(
        "l2",
        Op::Dense(Dense {
            weight: Tensor::new(vec![1, 3], vec![3.0; 3]).unwrap(),
            bias: None,
        }),
        vec![r],
    )
    .unwrap();
    g
}

pub(crate) fn explain(
    graph: &Graph,
    composite: &Composite,
    x: Vec<f32>,
    n: usize,
) -> glimpse::explain::Explanation {
    let mut shape = vec![n];
    shape.extend_from_slice(graph.input_shape());
    let mut plan = LrpPlan::new(&crate::common::model(graph), composite, n, true).unwrap();
    plan.run(&Tensor::new(shape, x).unwrap(), &[Target::Class(0)])
        .unwrap()
}

#[test]
fn hand_case_epsilon() {
    let e = explain(
        &hand_net(2.0),
        &Composite::uniform(Rule::Epsilon { epsilon: 1e-9 }),
        vec![1.0, 2.0, 3.0],
        1,
    );
    assert_eq!(e.outputs.data, vec![108.0]);
    assert_close("ε", &e.map.data, &[18.0, 36.0, 54.0], 1e-4, 1e-5);
}

#[test]
fn hand_case_alpha1beta0_gamma_and_batch_scaling() {
    let g = hand_net(-2.0);
    let e = explain(
        &g,
        &Composite::uniform(Rule::alpha_beta(1.0, 0.0).unwrap()),
        vec![1.0, 2.0, 3.0, 3.0, 6.0, 9.0],
        2,
    );
    assert_close("α1β0", &e.map.data[..3], &[12.0, 33.6, 50.4], 1e-4, 1e-5);
    assert_close(
        "α1β0 on 3x",
        &e.map.data[3..],
        &[36.0, 100.8, 151.2],
        1e-4,
        1e-5,
    );
    let mut gamma = Composite::uniform(Rule::Gamma { gamma: 0.25 });
    gamma
        .overrides
        .push((LayerRef::Name("l1".into()), Rule::Gamma { gamma: 1.0 }));
    let e = explain(&g, &gamma, vec![1.0, 2.0, 3.0, 3.0, 6.0, 9.0], 2);
    assert_close(
        "γ",
        &e.map.data[..3],
        &[28.0 / 3.0, 104.0 / 3.0, 52.0],
        1e-4,
        1e-5,
    );
    assert_close(
        "γ on 3x",
        &e.map.data[3..],
        &[28.0, 104.0, 156.0],
        1e-4,
        1e-5,
    );
}

#[test]
fn hand_case_max_pool_winner_takes_all() {
    let mut g = Graph::new(vec![1, 2, 2]).unwrap();
    let pool = Pool2d {
        kernel: [2, 2],
        stride: [2, 2],
        pads: [0; 4],
        count_include_pad: false,
        ceil_mode: false,
    };
    let p = g.push("pool", Op::max_pool(pool), vec![0]).unwrap();
    g.push_reshape("out", p, vec![1]).unwrap();
    let e = explain(
        &g,
        &Composite::uniform(Rule::ZPlus),
        vec![1.0, 2.0, 5.0, 6.0],
        1,
    );
    assert_eq!(e.map.data, vec![0.0, 0.0, 0.0, 6.0]);
    // Ties split equally, and overlapping windows still conserve.
    let split = Composite::uniform(Rule::ZPlus)
        .with(LayerClass::MaxPool, Rule::WinnerTakeAll)
        .unwrap();
    let e = explain(&g, &split, vec![6.0, 2.0, 5.0, 6.0], 1);
    assert_eq!(e.map.data, vec![3.0, 0.0, 0.0, 3.0]);
    // The default, Zennit's choice (PyTorch's max-pool gradient): the first maximum takes all.
    let argmax = Composite::uniform(Rule::ZPlus);
    let e = explain(&g, &argmax, vec![6.0, 2.0, 5.0, 6.0], 1);
    assert_eq!(e.map.data, vec![6.0, 0.0, 0.0, 0.0]);
}

#[test]
fn unfolded_batch_norm_pass_and_norm_match_the_reference() {
    let mut rng = Rng::new(14);
    let mut g = small_cnn(&mut rng, true);
    // Put a BatchNorm after the first ReLU (it cannot be folded there).
    let bn = glimpse::layers::BatchNorm::from_stats(
        &[1.5, -0.5, 2.0, 0.7],
        &[0.1, 0.2, -0.3, 0.05],
        &[0.5, -0.1, 0.0, 0.2],
        &[1.0, 0.25, 4.0, 0.5],
        1e-5,
    )
    .unwrap();
    let mut nodes = g.nodes.clone();
    nodes.insert(
        3,
        glimpse::model::Node {
            name: "bn".into(),
            op: Op::BatchNorm(bn),
            inputs: vec![2],
            shape: nodes[2].shape.clone(),
        },
    );
    for n in nodes.iter_mut().skip(4) {
        for i in n.inputs.iter_mut() {
            if *i >= 2 {
                *i += 1;
            }
        }
    }
    nodes[4].inputs = vec![3];
    g.nodes = nodes;
    g.output += 1;
    let x = rng.tensor(&[2, 3, 6, 6]);
    for bn_rule in [Rule::Pass, Rule::Norm] {
        let mut c = Composite::uniform(Rule::ZPlus);
        c.overrides
            .push((LayerRef::Name("bn".into()), bn_rule.clone()));
        check(
            &format!("batch norm {bn_rule:?}"),
            &g,
            &c,
            &x,
            &[Target::Predicted],
        );
    }
}

#[test]
fn hand_case_residual_add_is_proportional() {
    let mut g = Graph::new(vec![2]).unwrap();
    let lin = g
        .push(
            "lin",
            Op::Dense(Dense {
                weight: Tensor::new(vec![2, 2], vec![5.0; 4]).unwrap(),
                bias: None,
            }),
            vec![0],
        )
        .unwrap();
    g.push("add", Op::Add(glimpse::layers::Add), vec![lin, 0])
        .unwrap();
    let mut c = Composite::uniform(Rule::Epsilon { epsilon: 1e-9 });
    c.stabilizer = 1e-9;
    let mut plan = LrpPlan::new(&crate::common::model(&g), &c, 1, false).unwrap();
    let e = plan
        .run(
            &Tensor::new(vec![1, 2], vec![2.0, 3.0]).unwrap(),
            &[Target::Class(1)],
        )
        .unwrap();
    assert_close("residual", &e.map.data, &[10.0, 18.0], 1e-4, 1e-5);
}
