//! Every row of the element-wise table on the GPU: its forward pass against the f64 function,
//! its gradient against central finite differences of the f64 reference, DeepLIFT's rescale
//! through it (completeness), and LRP's identity rule (relevance crosses it unchanged).

use crate::common::{assert_close, model, Rng};
use glimpse::explain::backward::reference_backward;
use glimpse::explain::gradient::{Baseline, DeepLiftPlan, GradientMap, GradientPlan};
use glimpse::explain::{Composite, LrpPlan, Rule, Target};
use glimpse::layers::elementwise::FUNCTIONS;
use glimpse::layers::{reference_forward, Dense, Elementwise, Func};
use glimpse::model::{Graph, Op, Tensor};
use glimpse::Predictor;

/// Each function with parameters that exercise it (Clip's bounds, HardSigmoid's α and β).
fn functions() -> Vec<Elementwise> {
    FUNCTIONS
        .iter()
        .map(|r| match r.func {
            Func::Clip => Elementwise::clip(-0.5, 0.8),
            Func::HardSigmoid => Elementwise::hard_sigmoid(0.2, 0.5),
            Func::HardSwish => Elementwise::hard_swish(1.0 / 6.0, 0.5),
            f => Elementwise::new(f),
        })
        .collect()
}

/// input [12] → dense 12→10 → f → dense 10→3.
fn net(rng: &mut Rng, f: Elementwise) -> Graph {
    let mut g = Graph::new(vec![12]).unwrap();
    let d1 = Dense {
        weight: Tensor::new(vec![10, 12], rng.vec(120).iter().map(|v| v * 1.5).collect()).unwrap(),
        bias: Some(rng.vec(10)),
    };
    let a = g.push("fc1", Op::Dense(d1), vec![0]).unwrap();
    let e = g.push("f", Op::Elementwise(f), vec![a]).unwrap();
    let d2 = Dense {
        weight: rng.tensor(&[3, 10]),
        bias: Some(rng.vec(3)),
    };
    g.push("fc2", Op::Dense(d2), vec![e]).unwrap();
    g
}

#[test]
fn forward_matches_the_f64_function() {
    for f in functions() {
        let mut g = Graph::new(vec![4, 5, 6]).unwrap();
        g.push("f", Op::Elementwise(f), vec![0]).unwrap();
        let mut rng = Rng::new(3);
        let mut x = rng.tensor(&[2, 4, 5, 6]);
        // Spread over [−6, 6], with the kinks and saturations in range.
        x.data.iter_mut().for_each(|v| *v *= 6.0);
        let got = Predictor::new(&model(&g), 2).unwrap().run(&x).unwrap();
        let want: Vec<f64> = x.data.iter().map(|&v| f.f(v as f64)).collect();
        assert_close(f.func.row().kind, &got.data, &want, 1e-5, 1e-4);
    }
}

fn score(g: &Graph, x: &[f64], class: usize) -> f64 {
    let t = Tensor::new(vec![1, x.len()], x.to_vec()).unwrap();
    reference_forward(g, &t)[g.output].data[class]
}

#[test]
fn gradient_matches_finite_differences() {
    for (k, f) in functions().into_iter().enumerate() {
        let mut rng = Rng::new(40 + k as u64);
        let g = net(&mut rng, f);
        let x = rng.tensor(&[2, 12]);
        let got = GradientPlan::new(&model(&g), GradientMap::Gradient, 2)
            .unwrap()
            .run(&x, &[Target::Class(1)])
            .unwrap();
        for i in 0..2 {
            let x0: Vec<f64> = x.data[i * 12..(i + 1) * 12]
                .iter()
                .map(|&v| v as f64)
                .collect();
            let h = 1e-6;
            let want: Vec<f64> = (0..12)
                .map(|j| {
                    let (mut up, mut down) = (x0.clone(), x0.clone());
                    up[j] += h;
                    down[j] -= h;
                    (score(&g, &up, 1) - score(&g, &down, 1)) / (2.0 * h)
                })
                .collect();
            let scale = want.iter().fold(0.0f64, |m, v| m.max(v.abs()));
            assert_close(
                &format!("{} ∂f/∂x item {i}", f.func.row().kind),
                &got.map.data[i * 12..(i + 1) * 12],
                &want,
                1e-4 * scale + 1e-6,
                1e-3,
            );
        }
    }
}

#[test]
fn deeplift_through_each_function_is_complete() {
    for (k, f) in functions().into_iter().enumerate() {
        let mut rng = Rng::new(60 + k as u64);
        let g = net(&mut rng, f);
        let x = rng.tensor(&[2, 12]);
        let e = DeepLiftPlan::new(&model(&g), Baseline::Zero, 2)
            .unwrap()
            .run(&x, &[Target::Class(0)])
            .unwrap();
        for (i, r) in e.residuals.unwrap().iter().enumerate() {
            let delta = e.scores[i] - e.reference_scores.as_ref().unwrap()[i];
            assert!(
                r.abs() <= 1e-5 * delta.abs().max(1.0),
                "{}: item {i} leaves {r:.3e} of Δf = {delta:.4}",
                f.func.row().kind
            );
        }
    }
}

#[test]
fn lrp_passes_relevance_through_unchanged() {
    for (k, f) in functions().into_iter().enumerate() {
        let mut rng = Rng::new(80 + k as u64);
        let g = net(&mut rng, f);
        let x = rng.tensor(&[2, 12]);
        let c = Composite::uniform(Rule::Epsilon { epsilon: 1e-3 });
        let got = LrpPlan::new(&model(&g), &c, 2, false)
            .unwrap()
            .run(&x, &[Target::Class(2)])
            .unwrap();
        let xs = x.to_f64();
        let out = &reference_forward(&g, &xs)[g.output];
        let mut seed = Tensor::zeros(out.shape.clone());
        for i in 0..2 {
            seed.data[i * 3 + 2] = out.data[i * 3 + 2];
        }
        let rules = c.node_rules(&g, g.output).unwrap();
        let flow = reference_backward(&g, &rules, &xs, g.output, &seed, None);
        let (into, out_of) = (flow[1].as_ref().unwrap(), flow[2].as_ref().unwrap());
        assert_eq!(into.data, out_of.data, "{}: identity", f.func.row().kind);
        let want = flow[0].as_ref().unwrap();
        let scale = want.data.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        assert_close(
            &format!("{} LRP", f.func.row().kind),
            &got.map.data,
            &want.data,
            1e-4 * scale + 1e-7,
            1e-4,
        );
    }
}
