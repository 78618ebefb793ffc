//! Robustness metrics: the GPU evaluator (copies built, re-explained in batches, compared)
//! against an f64 mirror on a linear model whose explanations are known in closed form; chunked
//! runs equal one run; the paper's max(x1, x2) toy; Captum's infidelity on a linear model; and
//! the errors bad options get; selectivity with re-explanation against its f64 mirror.

use crate::common::{model, Rng};
use crate::gradient_methods::max_net;
use glimpse::evaluate::robustness::{prepare, quantus_shifts, translate};
use glimpse::evaluate::{Axis, Infidelity, RobustEvaluator, RobustOptions, Robustness};
use glimpse::explain::gradient::{uniform_noise, GradientMap};
use glimpse::explain::{Composite, Rule};
use glimpse::layers::Dense;
use glimpse::model::{Graph, Op, Tensor};
use glimpse::{Explainer, Method, Predictor};

const CHW: [usize; 3] = [2, 4, 5];

/// input [2, 4, 5] → flatten → dense 40 → 3: f is linear, so ∂f_c/∂x = W_c everywhere.
fn linear(rng: &mut Rng) -> (Graph, Tensor) {
    let mut g = Graph::new(CHW.to_vec()).unwrap();
    let f = g.push_reshape("flatten", 0, vec![40]).unwrap();
    let w = rng.tensor(&[3, 40]);
    let d = Dense {
        weight: w.clone(),
        bias: Some(rng.vec(3)),
    };
    g.push("fc", Op::Dense(d), vec![f]).unwrap();
    (g, w)
}

fn evaluator<'m>(
    m: &'m glimpse::DeviceModel,
    method: Method,
    batch: usize,
    options: RobustOptions,
) -> RobustEvaluator<'m> {
    let e = Explainer::new(m, &method, batch).unwrap();
    RobustEvaluator::new(m, e, options).unwrap()
}

fn gxi() -> Method {
    Method::Gradient(GradientMap::GradientTimesInput)
}

/// The f64 mirror: gradient × input of the linear model is x ⊙ W_c, in closed form.
fn mirror(options: &RobustOptions, x: &[f32], w: &[f32], input: usize) -> Vec<f64> {
    let explain = |v: &[f64]| -> Vec<f32> {
        v.iter()
            .zip(w)
            .map(|(a, b)| (a * *b as f64) as f32)
            .collect()
    };
    let x64: Vec<f64> = x.iter().map(|&v| v as f64).collect();
    let a = prepare(&explain(&x64), options.normalise, options.abs);
    (0..options.metric.samples())
        .map(|s| {
            let y: Vec<f64> = match &options.metric {
                Robustness::MaxSensitivity { radius, .. }
                | Robustness::AvgSensitivity { radius, .. }
                | Robustness::SensitivityMax { radius, .. } => {
                    let e = uniform_noise(options.seed, input, s, x.len(), -radius, *radius);
                    x64.iter().zip(e).map(|(v, e)| v + e).collect()
                }
                Robustness::Continuity { shifts, axis } => {
                    let fill = x.iter().copied().fold(f32::INFINITY, f32::min);
                    translate(x, CHW, shifts[s], *axis, fill)
                        .iter()
                        .map(|&v| v as f64)
                        .collect()
                }
                Robustness::LocalLipschitz { std, .. } => {
                    let e = glimpse::explain::gradient::gaussian_noise(
                        options.seed,
                        input,
                        s,
                        x.len(),
                        *std,
                    );
                    x64.iter().zip(e).map(|(v, e)| v + e as f64).collect()
                }
            };
            // The GPU sees y rounded to f32, as its map does.
            let y32: Vec<f64> = y.iter().map(|&v| v as f32 as f64).collect();
            let b = prepare(&explain(&y32), options.normalise, options.abs);
            options.metric.ratio(&a, &b, &x64, &y)
        })
        .collect()
}

#[test]
fn robustness_scores_equal_the_f64_mirror_over_batches_and_chunks() {
    let mut rng = Rng::new(5);
    let (graph, w) = linear(&mut rng);
    let m = model(&graph);
    let n = 5;
    let x = rng.tensor(&[n, 2, 4, 5]);
    let classes = [0usize, 2, 1, 1, 0];
    let metrics = [
        (
            Robustness::MaxSensitivity {
                samples: 7,
                radius: 0.2,
            },
            false,
            false,
        ),
        (
            Robustness::AvgSensitivity {
                samples: 3,
                radius: 0.5,
            },
            true,
            true,
        ),
        (
            Robustness::LocalLipschitz {
                samples: 6,
                std: 0.1,
            },
            true,
            false,
        ),
        (
            Robustness::Continuity {
                shifts: quantus_shifts(5, 4).unwrap(),
                axis: Axis::X,
            },
            true,
            true,
        ),
        (
            Robustness::Continuity {
                shifts: vec![-2, 0, 1, 3],
                axis: Axis::Y,
            },
            false,
            false,
        ),
    ];
    for (metric, normalise, abs) in metrics {
        let options = RobustOptions {
            metric,
            normalise,
            abs,
            seed: 11,
        };
        // Batch 3 splits inputs and copies across explanation calls; batch 64 holds them all.
        for batch in [3, 64] {
            let mut ev = evaluator(&m, gxi(), batch, options.clone());
            let got = ev.evaluate(&x, Some(&classes), 0).unwrap();
            let s = options.metric.samples();
            assert_eq!(got.ratios.shape, vec![n, s]);
            for (i, &c) in classes.iter().enumerate() {
                let want = mirror(
                    &options,
                    &x.data[i * 40..(i + 1) * 40],
                    &w.data[c * 40..(c + 1) * 40],
                    i,
                );
                for (k, &r) in want.iter().enumerate() {
                    let g = got.ratios.data[i * s + k] as f64;
                    assert!(
                        (g - r).abs() <= 1e-5 * r.abs().max(1e-3),
                        "{} batch {batch} input {i} copy {k}: {g} vs {r}",
                        options.metric.name()
                    );
                }
                let score = options.metric.aggregate(&want);
                assert!((got.scores[i] - score).abs() <= 1e-5 * score.abs().max(1e-3));
            }
            // A run in two chunks, the second keyed from its first input's index, draws the same.
            let head = Tensor::new(vec![2, 2, 4, 5], x.data[..80].to_vec()).unwrap();
            let tail = Tensor::new(vec![3, 2, 4, 5], x.data[80..].to_vec()).unwrap();
            let a = ev.evaluate(&head, Some(&classes[..2]), 0).unwrap();
            let b = ev.evaluate(&tail, Some(&classes[2..]), 2).unwrap();
            let joined: Vec<f64> = a.scores.iter().chain(&b.scores).copied().collect();
            assert_eq!(joined, got.scores, "{}", options.metric.name());
        }
    }
}

#[test]
fn continuity_records_outputs_and_quadrants_at_every_shift() {
    let mut rng = Rng::new(8);
    let (graph, w) = linear(&mut rng);
    let m = model(&graph);
    let x = rng.tensor(&[2, 2, 4, 5]);
    let shifts = vec![-1, 0, 2];
    let options = RobustOptions {
        metric: Robustness::Continuity {
            shifts: shifts.clone(),
            axis: Axis::X,
        },
        normalise: false,
        abs: false,
        seed: 0,
    };
    let mut ev = evaluator(&m, gxi(), 4, options);
    let got = ev.evaluate(&x, Some(&[1, 1]), 0).unwrap();
    // Shift 0 is the input itself: ratio 0, the same output.
    for i in 0..2 {
        assert_eq!(got.ratios.data[i * 3 + 1], 0.0);
        assert!((got.outputs.data[i * 4] - got.outputs.data[i * 4 + 2]).abs() < 1e-5);
    }
    let q = got.quadrants.as_ref().unwrap();
    assert_eq!(q.shape, vec![2, 3, 4]);
    // Quadrants of x_t ⊙ W_1 summed in f64.
    for i in 0..2 {
        for (k, &t) in shifts.iter().enumerate() {
            let xi = &x.data[i * 40..(i + 1) * 40];
            let fill = xi.iter().copied().fold(f32::INFINITY, f32::min);
            let xt = translate(xi, CHW, t, Axis::X, fill);
            let mut want = [0.0f64; 4];
            for c in 0..2 {
                for h in 0..4 {
                    for v in 0..5 {
                        let j = (c * 4 + h) * 5 + v;
                        want[2 * usize::from(h >= 2) + usize::from(v >= 2)] +=
                            xt[j] as f64 * w.data[40 + j] as f64;
                    }
                }
            }
            for (d, wv) in want.iter().enumerate() {
                let g = q.data[(i * 3 + k) * 4 + d] as f64;
                assert!((g - wv).abs() < 1e-5 * wv.abs().max(1.0), "{g} vs {wv}");
            }
        }
    }
}

/// The paper's toy (Montavon et al. 2018, §Continuity): f = max(x1, x2) as a ReLU net.
/// Sensitivity and gradient × input change abruptly where x1 = x2, so their local Lipschitz
/// estimate there is of the order of 1/σ; deep Taylor (z⁺) stays continuous.
#[test]
fn continuity_toy_lipschitz_of_sensitivity_and_gradient_times_input_jumps_not_deep_taylor() {
    let g = max_net();
    let m = model(&g);
    let options = RobustOptions {
        metric: Robustness::LocalLipschitz {
            samples: 64,
            std: 0.01,
        },
        normalise: false,
        abs: false,
        seed: 4,
    };
    let on = Tensor::new(vec![1, 2], vec![1.0, 1.0]).unwrap();
    let off = Tensor::new(vec![1, 2], vec![2.0, 1.0]).unwrap();
    let deep_taylor = Method::Lrp {
        composite: Composite::uniform(Rule::ZPlus),
        conservation: false,
    };
    let score = |method: Method, x: &Tensor| -> f64 {
        let mut ev = evaluator(&m, method, 16, options.clone());
        ev.evaluate(x, Some(&[0]), 0).unwrap().scores[0]
    };
    for (name, method) in [
        ("sensitivity", Method::Gradient(GradientMap::Sensitivity)),
        ("gradient × input", gxi()),
    ] {
        let (at, away) = (score(method.clone(), &on), score(method, &off));
        println!("{name}: L = {at:.3} on x1 = x2, {away:.3} off it");
        assert!(at > 20.0, "{name} should jump on x1 = x2: L = {at}");
        assert!(away < 1.01, "{name} away from x1 = x2: L = {away}");
    }
    let (at, away) = (score(deep_taylor.clone(), &on), score(deep_taylor, &off));
    println!("deep Taylor (z⁺): L = {at:.3} on x1 = x2, {away:.3} off it");
    assert!(
        at < 1.5 && away < 1.5,
        "z⁺ should be continuous: {at}, {away}"
    );
}

#[test]
fn infidelity_of_the_gradient_of_a_linear_model_is_zero_and_of_others_is_not() {
    let mut rng = Rng::new(9);
    let (graph, w) = linear(&mut rng);
    let m = model(&graph);
    let x = rng.tensor(&[3, 2, 4, 5]);
    let classes = [2usize, 0, 1];
    let mut grad = Tensor::zeros(vec![3, 2, 4, 5]);
    for (i, &c) in classes.iter().enumerate() {
        grad.data[i * 40..(i + 1) * 40].copy_from_slice(&w.data[c * 40..(c + 1) * 40]);
    }
    let twice = Tensor::new(
        grad.shape.clone(),
        grad.data.iter().map(|v| 2.0 * v).collect(),
    )
    .unwrap();
    let mut p = Predictor::logits(&m, 4).unwrap();
    let inf = |normalize| Infidelity {
        samples: 9,
        std: 0.1,
        normalize,
        seed: 3,
    };
    // Δ = f(x) − f(x − I) = W_c·I = Iᵀ∇f exactly: nothing is left unexplained.
    let exact = inf(false)
        .evaluate(&m, &mut p, &x, &grad, &classes, 0)
        .unwrap();
    assert!(exact.scores.iter().all(|&s| s < 1e-9), "{:?}", exact.scores);
    // Twice the gradient misses by Iᵀ∇f; β = ½ repairs it under normalize.
    let off = inf(false)
        .evaluate(&m, &mut p, &x, &twice, &classes, 0)
        .unwrap();
    let fixed = inf(true)
        .evaluate(&m, &mut p, &x, &twice, &classes, 0)
        .unwrap();
    for i in 0..3 {
        let d = &exact.changes.data[i * 9..(i + 1) * 9];
        let want: f64 = d.iter().map(|&v| (v as f64).powi(2)).sum::<f64>() / 9.0;
        assert!(
            (off.scores[i] - want).abs() < 1e-4 * want,
            "{} vs {want}",
            off.scores[i]
        );
        assert!(fixed.scores[i] < 1e-9, "{}", fixed.scores[i]);
    }
    let bad = Tensor::zeros(vec![3, 1, 4, 5]);
    let e = inf(false)
        .evaluate(&m, &mut p, &x, &bad, &classes, 0)
        .unwrap_err();
    assert!(
        e.to_string().contains("one attribution per input value"),
        "{e}"
    );
}

#[test]
fn robustness_errors_name_the_problem() {
    let g = max_net();
    let m = model(&g);
    let e = Explainer::new(&m, &gxi(), 4).unwrap();
    let cont = RobustOptions::defaults("continuity", 2)
        .err()
        .map(|e| e.to_string());
    assert!(cont.unwrap().contains("no shift"));
    let opts = RobustOptions {
        metric: Robustness::Continuity {
            shifts: vec![1],
            axis: Axis::X,
        },
        normalise: true,
        abs: true,
        seed: 0,
    };
    let err = RobustEvaluator::new(&m, e, opts).err().unwrap().to_string();
    assert!(err.contains("images"), "{err}");
    let e = Explainer::new(&m, &gxi(), 4).unwrap();
    let zero = RobustOptions {
        metric: Robustness::MaxSensitivity {
            samples: 0,
            radius: 0.2,
        },
        normalise: false,
        abs: false,
        seed: 0,
    };
    assert!(RobustEvaluator::new(&m, e, zero)
        .err()
        .unwrap()
        .to_string()
        .contains("at least one"));
    let e = Explainer::new(&m, &gxi(), 4).unwrap();
    let mut ev = RobustEvaluator::new(
        &m,
        e,
        RobustOptions::defaults("max-sensitivity", 1).unwrap(),
    )
    .unwrap();
    let nan = Tensor::new(vec![1, 2], vec![f32::NAN, 1.0]).unwrap();
    assert!(ev.evaluate(&nan, None, 0).is_err());
    let wrong = Tensor::new(vec![1, 3], vec![1.0; 3]).unwrap();
    assert!(ev
        .evaluate(&wrong, None, 0)
        .unwrap_err()
        .to_string()
        .contains("the model takes"));
    assert!(RobustOptions::defaults("nope", 28).is_err());
}

/// `selectivity --recompute` on the linear model: gradient × input is x_k ⊙ W_c in closed
/// form, so the f64 mirror re-ranks the patches of x_k itself after every removal.
#[test]
fn recomputed_selectivity_equals_its_f64_mirror() {
    use glimpse::evaluate::{Baseline, Recompute};
    let mut rng = Rng::new(12);
    let (graph, w) = linear(&mut rng);
    let m = model(&graph);
    let n = 3;
    let x = rng.tensor(&[n, 2, 4, 5]);
    let classes = [1usize, 0, 2];
    let e = Explainer::new(&m, &gxi(), 2).unwrap();
    // 2×2 patches on a 4×5 input: Quantus pads the width to 6, so 2 × 3 patches.
    let mut rc = Recompute::new(&m, e, 2, 5, Baseline::Black, true).unwrap();
    let got = rc.evaluate(&x, Some(&classes), 0).unwrap();
    assert_eq!(got.curves.shape, vec![n, 6]);
    let b = graph_bias(&graph);
    for (i, &c) in classes.iter().enumerate() {
        let mut xi: Vec<f64> = x.data[i * 40..(i + 1) * 40]
            .iter()
            .map(|&v| v as f64)
            .collect();
        let min = xi.iter().copied().fold(f64::INFINITY, f64::min);
        let region = |f: usize| -> usize { ((f / 5) % 4 / 2) * 3 + (f % 5) / 2 };
        let mut removed = [false; 6];
        for k in 0..=5 {
            let logits: Vec<f64> = (0..3)
                .map(|o| {
                    b[o] + (0..40)
                        .map(|f| w.data[o * 40 + f] as f64 * xi[f])
                        .sum::<f64>()
                })
                .collect();
            let mx = logits.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let z: f64 = logits.iter().map(|v| (v - mx).exp()).sum();
            let p = (logits[c] - mx).exp() / z;
            let g = got.curves.data[i * 6 + k] as f64;
            assert!((g - p).abs() < 1e-5, "input {i} step {k}: {g} vs {p}");
            let mut sums = [0.0f64; 6];
            for f in 0..40 {
                sums[region(f)] += xi[f] * w.data[c * 40 + f] as f64;
            }
            let next = (0..6)
                .filter(|&r| !removed[r])
                .fold(None, |best: Option<usize>, r| match best {
                    Some(q) if sums[q] >= sums[r] => Some(q),
                    _ => Some(r),
                });
            if let (Some(r), true) = (next, k < 5) {
                removed[r] = true;
                for (f, v) in xi.iter_mut().enumerate() {
                    if region(f) == r {
                        *v = min;
                    }
                }
            }
        }
    }
    let e = Explainer::new(&m, &gxi(), 2).unwrap();
    let err = Recompute::new(&m, e, 2, 7, Baseline::Black, true)
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("7 steps"), "{err}");
}

/// The dense layer's bias of the linear model.
fn graph_bias(graph: &Graph) -> Vec<f64> {
    match &graph.nodes[graph.output].op {
        Op::Dense(d) => d.bias.as_ref().unwrap().iter().map(|&v| v as f64).collect(),
        other => panic!("not the linear model: {other:?}"),
    }
}
