//! Activation maximisation: the objective's and penalties' gradient against central finite
//! differences (f64), the GPU run against the f64 run step for step, and bad objectives.

use crate::common::{assert_close, model, Rng};
use glimpse::explain::LayerRef;
use glimpse::interpret::reference::{maximize as maximize_f64, objective_and_gradient};
use glimpse::interpret::{
    maximize, ClassForm, Init, Maximizer, Objective, Optimizer, Penalties, Settings,
};
use glimpse::layers::{Conv2d, Dense, Pool2d};
use glimpse::model::{Graph, Op, Tensor};

/// input [2, 8, 8] → conv 2→4 → ReLU → max pool 2 → conv 4→3 ("conv2") → tanh ("act2") →
/// flatten → dense 48→5.
fn net(rng: &mut Rng) -> Graph {
    let mut g = Graph::new(vec![2, 8, 8]).unwrap();
    let conv = |rng: &mut Rng, cout, cin| Conv2d {
        weight: rng.tensor(&[cout, cin, 3, 3]),
        bias: Some(rng.vec(cout)),
        stride: [1, 1],
        pads: [1; 4],
        dilation: [1, 1],
        groups: 1,
    };
    let a = g
        .push("conv1", Op::Conv2d(conv(rng, 4, 2)), vec![0])
        .unwrap();
    let r = g.push("relu1", Op::relu(), vec![a]).unwrap();
    let pool = Pool2d {
        kernel: [2, 2],
        stride: [2, 2],
        pads: [0; 4],
        count_include_pad: false,
        ceil_mode: false,
    };
    let p = g.push("pool", Op::max_pool(pool), vec![r]).unwrap();
    let c = g
        .push("conv2", Op::Conv2d(conv(rng, 3, 4)), vec![p])
        .unwrap();
    let t = g
        .push(
            "act2",
            Op::Elementwise(glimpse::layers::Elementwise::new(
                glimpse::layers::Func::Tanh,
            )),
            vec![c],
        )
        .unwrap();
    let f = g.push_reshape("flatten", t, vec![48]).unwrap();
    let d = Dense {
        weight: Tensor::new(vec![5, 48], rng.vec(240).iter().map(|v| v * 0.5).collect()).unwrap(),
        bias: Some(rng.vec(5)),
    };
    g.push("fc", Op::Dense(d), vec![f]).unwrap();
    g
}

fn objectives() -> Vec<Objective> {
    let name = |s: &str| LayerRef::Name(s.into());
    vec![
        Objective::Class {
            class: 1,
            form: ClassForm::LogSoftmax,
        },
        Objective::Class {
            class: 4,
            form: ClassForm::Logit,
        },
        Objective::Class {
            class: 0,
            form: ClassForm::Probability,
        },
        Objective::Channel {
            node: name("act2"),
            channel: 2,
        },
        Objective::Neuron {
            node: name("conv2"),
            channel: 1,
            at: Some((2, 1)),
        },
    ]
}

#[test]
fn objective_and_penalty_gradients_equal_central_differences() {
    let mut rng = Rng::new(90);
    let g = net(&mut rng);
    let objs = objectives();
    let x = rng.tensor(&[objs.len(), 2, 8, 8]).to_f64();
    let pen = Penalties {
        l2: 0.03,
        l1: 0.02,
        tv: 0.05,
    };
    let (_, grad) = objective_and_gradient(&g, &objs, &x, &pen).unwrap();
    let h = 1e-6;
    let mut worst = 0.0f64;
    for i in (0..x.data.len()).step_by(7) {
        let mut up = x.clone();
        up.data[i] += h;
        let mut down = x.clone();
        down.data[i] -= h;
        let (ju, _) = objective_and_gradient(&g, &objs, &up, &pen).unwrap();
        let (jd, _) = objective_and_gradient(&g, &objs, &down, &pen).unwrap();
        let b = i / 128;
        let fd = (ju[b] - jd[b]) / (2.0 * h);
        worst = worst.max((fd - grad.data[i]).abs() / (1.0 + fd.abs()));
    }
    assert!(worst < 1e-6, "∇J vs central differences: worst {worst:e}");
}

fn settings(optimizer: Optimizer, steps: usize, penalties: Penalties) -> Settings {
    Settings {
        steps,
        every: 5,
        optimizer,
        init: Init::Noise {
            seed: 3,
            center: 0.0,
            spread: 0.5,
        },
        penalties,
        range: (-1.0, 1.0),
        ..Settings::default()
    }
}

/// Runs each objective group on the GPU and in f64; compares prototypes and the J curve.
fn gpu_equals_f64(s: &Settings, tol: f64) {
    gpu_equals_f64_with(s, tol, true)
}

/// [`gpu_equals_f64`]; `check_j`: also each item's J along the curve.
fn gpu_equals_f64_with(s: &Settings, tol: f64, check_j: bool) {
    let mut rng = Rng::new(91);
    let g = net(&mut rng);
    let m = model(&g);
    let objs = objectives();
    let got = maximize(&m, &objs, s).unwrap();
    let (want, curves) = maximize_f64(&g, &objs, s).unwrap();
    let scale = want.data.iter().fold(0.0f64, |a, v| a.max(v.abs()));
    assert_close("prototypes", &got.inputs.data, &want.data, tol * scale, 0.0);
    for (b, (c, w)) in got.curves.iter().zip(&curves).enumerate() {
        assert_eq!(c.len(), s.steps.div_ceil(s.every) + 1, "curve length");
        for p in c {
            if !check_j {
                continue;
            }
            let want_j = w[p.step];
            // Relative to the terms J sums (a log-density of magnitude 1e3 cancels in J).
            let pen = &s.penalties;
            let ew = s.expert.as_ref().map_or(0.0, |e| e.weight);
            let terms = p.objective.abs()
                + pen.l2 * p.l2
                + pen.l1 * p.l1
                + pen.tv * p.tv
                + ew * p.log_density.abs();
            assert!(
                (p.total as f64 - want_j).abs() <= 1e-4 * (1.0 + terms as f64),
                "item {b} step {}: J {} vs f64 {want_j}",
                p.step,
                p.total
            );
        }
    }
}

#[test]
fn adam_on_the_gpu_equals_the_f64_run() {
    let pen = Penalties {
        l2: 0.01,
        l1: 0.0,
        tv: 0.0,
    };
    gpu_equals_f64(&settings(Optimizer::adam(0.02), 30, pen), 1e-4);
}

#[test]
fn gradient_ascent_with_every_penalty_equals_the_f64_run() {
    let pen = Penalties {
        l2: 0.01,
        l1: 0.005,
        tv: 0.01,
    };
    gpu_equals_f64(&settings(Optimizer::Ascent { lr: 0.05 }, 20, pen), 1e-4);
}

#[test]
fn the_objective_rises_and_bad_objectives_are_named() {
    let mut rng = Rng::new(92);
    let g = net(&mut rng);
    let m = model(&g);
    let objs = vec![
        Objective::Class {
            class: 2,
            form: ClassForm::LogSoftmax
        };
        2
    ];
    let s = settings(Optimizer::adam(0.05), 40, Penalties::default());
    let got = maximize(&m, &objs, &s).unwrap();
    for c in &got.curves {
        let (first, last) = (c[0], c[c.len() - 1]);
        assert!(last.objective > first.objective, "{first:?} → {last:?}");
        assert!(last.probability > first.probability);
    }
    let err = |o: Objective| maximize(&m, &[o], &s).unwrap_err().to_string();
    let e = err(Objective::Class {
        class: 5,
        form: ClassForm::Logit,
    });
    assert!(e.contains("class 5") && e.contains("5 outputs"), "{e}");
    let e = err(Objective::Channel {
        node: LayerRef::Name("nope".into()),
        channel: 0,
    });
    assert!(e.contains("nope") && e.contains("conv2"), "{e}");
    let e = err(Objective::Channel {
        node: LayerRef::Name("conv2".into()),
        channel: 3,
    });
    assert!(e.contains("3 channels"), "{e}");
    let e = err(Objective::Neuron {
        node: LayerRef::Name("conv2".into()),
        channel: 0,
        at: Some((4, 0)),
    });
    assert!(e.contains("4×4") && e.contains("(4, 0)"), "{e}");
    let e = Objective::parse("class:x", ClassForm::Logit)
        .unwrap_err()
        .to_string();
    assert!(e.contains("class:K"), "{e}");
    let bad = Settings {
        steps: 0,
        ..s.clone()
    };
    let e = Maximizer::new(&m, g.output, 1, &bad)
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("steps"), "{e}");
    let wrong = Settings {
        init: Init::Values(vec![0.0; 3]),
        ..s
    };
    let e = maximize(&m, &objs, &wrong).unwrap_err().to_string();
    assert!(e.contains("3 values"), "{e}");
}

#[test]
fn the_transform_adjoint_is_its_transpose() {
    use glimpse::interpret::reference::transform;
    use glimpse::interpret::Transforms;
    let mut rng = Rng::new(93);
    let t = Transforms {
        jitter: 2.5,
        scale: (0.8, 1.3),
        seed: 7,
    };
    let x = rng.tensor(&[3, 2, 9, 7]).to_f64();
    let y = rng.tensor(&[3, 2, 9, 7]).to_f64();
    for step in [0, 5, 17] {
        let tx = transform(&x, 3, [2, 9, 7], &t, step, false);
        let ty = transform(&y, 3, [2, 9, 7], &t, step, true);
        let a: f64 = tx.data.iter().zip(&y.data).map(|(a, b)| a * b).sum();
        let b: f64 = x.data.iter().zip(&ty.data).map(|(a, b)| a * b).sum();
        assert!(
            (a - b).abs() < 1e-12 * (1.0 + a.abs()),
            "step {step}: {a} vs {b}"
        );
        assert!(
            tx.data != x.data,
            "step {step}: the transform moved nothing"
        );
    }
}

#[test]
fn jitter_scale_and_blur_on_the_gpu_equal_the_f64_run() {
    use glimpse::interpret::{Blur, Transforms};
    let pen = Penalties {
        l2: 0.01,
        l1: 0.0,
        tv: 0.002,
    };
    let s = Settings {
        transforms: Transforms {
            jitter: 1.5,
            scale: (0.9, 1.1),
            seed: 11,
        },
        blur: Some(Blur {
            every: 4,
            sigma: 0.7,
        }),
        ..settings(Optimizer::Ascent { lr: 0.05 }, 12, pen)
    };
    gpu_equals_f64(&s, 1e-4);
}

#[test]
fn an_expert_term_on_the_gpu_equals_the_f64_run() {
    use glimpse::interpret::expert::{Expert, ExpertKind, FitOptions};
    use glimpse::interpret::ExpertTerm;
    let mut rng = Rng::new(94);
    let data = rng.vec(40 * 128);
    for kind in ["gmm:3", "gmm-diag:2", "grbm:8"] {
        let kind: ExpertKind = kind.parse().unwrap();
        let opts = FitOptions {
            iterations: Some(5),
            ..FitOptions::default()
        };
        let (expert, _) = Expert::fit(kind, &data, 128, &opts, &mut |_, _| {}).unwrap();
        let s = Settings {
            expert: Some(ExpertTerm {
                expert: std::sync::Arc::new(expert),
                weight: 0.05,
            }),
            ..settings(Optimizer::adam(0.02), 10, Penalties::default())
        };
        // The prototypes to 1e-4; log p, steep where the expert is sharp (log p climbs from
        // −400 to −0.4 in 10 steps), as the f64 expert gives at the GPU's prototypes.
        gpu_equals_f64_with(&s, 1e-4, false);
        let mut rng = Rng::new(91);
        let m = model(&net(&mut rng));
        let got = maximize(&m, &objectives(), &s).unwrap();
        let e = s.expert.as_ref().unwrap();
        for (b, c) in got.curves.iter().enumerate() {
            let x = &got.inputs.data[b * 128..(b + 1) * 128];
            let (gpu, f64) = (
                c.last().unwrap().log_density as f64,
                e.expert.log_density(x),
            );
            assert!(
                (gpu - f64).abs() <= 1e-5 * (1.0 + f64.abs()),
                "{kind:?} item {b}: log p {gpu} vs {f64}"
            );
        }
    }
}

#[test]
fn redirected_first_steps_on_the_gpu_equal_the_f64_run() {
    // 4 redirected steps, then 8 plain ones: two phases of one submission, the curve every 5
    // steps across them (steps 0, 5, 10 and the end).
    let s = Settings {
        redirect_steps: 4,
        ..settings(
            Optimizer::adam(0.02),
            12,
            Penalties {
                l2: 0.01,
                ..Penalties::default()
            },
        )
    };
    gpu_equals_f64(&s, 1e-4);
    let mut rng = Rng::new(91);
    let m = model(&net(&mut rng));
    let got = maximize(&m, &objectives(), &s).unwrap();
    let steps: Vec<usize> = got.curves[0].iter().map(|p| p.step).collect();
    assert_eq!(steps, vec![0, 5, 10, 12]);
}
