//! Lucid's Fourier parameterisation and diversity term: the spectrum map's inverse and
//! adjoint, the diversity gradient against central differences (f64), and GPU runs with each
//! against the f64 run step for step.

use crate::common::{assert_close, model, Rng};
use glimpse::explain::LayerRef;
use glimpse::interpret::reference::{diversity_and_gradient, maximize as maximize_f64};
use glimpse::interpret::{
    maximize, ClassForm, Diversity, Fourier, Init, Objective, Optimizer, Penalties, Settings,
    Spectrum,
};
use glimpse::layers::{Conv2d, Dense, Elementwise, Func, GradMode};
use glimpse::model::{Graph, Op, Tensor};

/// input [3, 8, 7] (odd width: the half spectrum's last column is not a Nyquist one) → conv
/// 3→4 → ReLU ("relu1") → conv 4→3 ("conv2") → tanh ("act2") → flatten → dense 168→5 ("fc").
fn rgb_net(rng: &mut Rng) -> Graph {
    rgb_net_of(rng, 8, 7)
}

/// [`rgb_net`] on an `h × w` input.
fn rgb_net_of(rng: &mut Rng, h: usize, w: usize) -> Graph {
    let mut g = Graph::new(vec![3, h, w]).unwrap();
    let conv = |rng: &mut Rng, cout, cin| Conv2d {
        weight: rng.tensor(&[cout, cin, 3, 3]),
        bias: Some(rng.vec(cout)),
        stride: [1, 1],
        pads: [1; 4],
        dilation: [1, 1],
        groups: 1,
    };
    let a = g
        .push("conv1", Op::Conv2d(conv(rng, 4, 3)), vec![0])
        .unwrap();
    let r = g.push("relu1", Op::relu(), vec![a]).unwrap();
    let c = g
        .push("conv2", Op::Conv2d(conv(rng, 3, 4)), vec![r])
        .unwrap();
    let tanh = Op::Elementwise(Elementwise::new(Func::Tanh));
    let t = g.push("act2", tanh, vec![c]).unwrap();
    let f = g.push_reshape("flatten", t, vec![3 * h * w]).unwrap();
    let d = Dense {
        weight: Tensor::new(
            vec![5, 3 * h * w],
            rng.vec(15 * h * w).iter().map(|v| v * 0.3).collect(),
        )
        .unwrap(),
        bias: Some(rng.vec(5)),
    };
    g.push("fc", Op::Dense(d), vec![f]).unwrap();
    g
}

/// input [3, 6, 6] → conv 3→4 → ReLU → conv "branch_a" and conv "branch_b" (each read only by
/// the Add, so the backward pass hands both one tensor) → Add "sum" → ReLU "relu2" → flatten →
/// dense 144→4 ("fc").
fn residual_net(rng: &mut Rng) -> Graph {
    let mut g = Graph::new(vec![3, 6, 6]).unwrap();
    let conv = |rng: &mut Rng, cout, cin| {
        Op::Conv2d(Conv2d {
            weight: rng.tensor(&[cout, cin, 3, 3]),
            bias: Some(rng.vec(cout)),
            stride: [1, 1],
            pads: [1; 4],
            dilation: [1, 1],
            groups: 1,
        })
    };
    let c = g.push("conv1", conv(rng, 4, 3), vec![0]).unwrap();
    let r = g.push("relu1", Op::relu(), vec![c]).unwrap();
    let a = g.push("branch_a", conv(rng, 4, 4), vec![r]).unwrap();
    let b = g.push("branch_b", conv(rng, 4, 4), vec![r]).unwrap();
    let s = g
        .push("sum", Op::Add(glimpse::layers::Add), vec![a, b])
        .unwrap();
    let r2 = g.push("relu2", Op::relu(), vec![s]).unwrap();
    let f = g.push_reshape("flatten", r2, vec![144]).unwrap();
    let d = Dense {
        weight: Tensor::new(vec![4, 144], rng.vec(576).iter().map(|v| v * 0.3).collect()).unwrap(),
        bias: Some(rng.vec(4)),
    };
    g.push("fc", Op::Dense(d), vec![f]).unwrap();
    g
}

fn name(s: &str) -> LayerRef {
    LayerRef::Name(s.into())
}

/// Two copies of a class, two of a channel, one class alone.
fn objectives() -> Vec<Objective> {
    let class = |class| Objective::Class {
        class,
        form: ClassForm::LogSoftmax,
    };
    let channel = Objective::Channel {
        node: name("act2"),
        channel: 1,
    };
    vec![class(1), channel.clone(), class(1), channel, class(3)]
}

fn settings(steps: usize) -> Settings {
    Settings {
        steps,
        every: 4,
        optimizer: Optimizer::adam(0.05),
        init: Init::Noise {
            seed: 5,
            center: 0.5,
            spread: 0.2,
        },
        penalties: Penalties {
            l2: 0.01,
            ..Penalties::default()
        },
        range: (0.0, 1.0),
        ..Settings::default()
    }
}

#[test]
fn the_spectrum_map_inverts_and_its_adjoint_is_its_gradient() {
    let mut rng = Rng::new(120);
    for (shape, decorrelate) in [([3, 8, 7], true), ([3, 6, 8], true), ([2, 5, 6], false)] {
        let f = Fourier {
            decorrelate,
            decay: 1.0,
        };
        let s = Spectrum::new(&shape, (-1.0, 2.0), f).unwrap();
        let size: usize = shape.iter().product();
        let x: Vec<f64> = (0..2 * size)
            .map(|_| 0.5 + 1.2 * rng.next() as f64)
            .collect();
        let back = s.image(&s.spectrum_of(&x));
        let worst = x
            .iter()
            .zip(&back)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f64::max);
        assert!(
            worst < 1e-10,
            "{shape:?}: image(spectrum_of(x)) off by {worst:e}"
        );
        // ⟨g, image(θ)⟩ differentiated by central differences is adjoint(θ, g).
        let theta: Vec<f64> = (0..2 * s.values_per_item())
            .map(|_| rng.next() as f64)
            .collect();
        let g: Vec<f64> = (0..2 * size).map(|_| rng.next() as f64).collect();
        let dot = |t: &[f64]| s.image(t).iter().zip(&g).map(|(a, b)| a * b).sum::<f64>();
        let adj = s.adjoint(&theta, &g);
        let h = 1e-6;
        let mut worst = 0.0f64;
        for i in 0..theta.len() {
            let (mut up, mut down) = (theta.clone(), theta.clone());
            up[i] += h;
            down[i] -= h;
            let fd = (dot(&up) - dot(&down)) / (2.0 * h);
            worst = worst.max((fd - adj[i]).abs() / (1.0 + fd.abs()));
        }
        assert!(
            worst < 1e-7,
            "{shape:?}: adjoint vs differences: worst {worst:e}"
        );
    }
}

#[test]
fn the_diversity_gradient_equals_central_differences() {
    let mut rng = Rng::new(121);
    let g = rgb_net(&mut rng);
    let objs = objectives();
    let x = rng.tensor(&[objs.len(), 3, 8, 7]).to_f64();
    for node in ["relu1", "act2", "fc"] {
        let d = Diversity {
            node: name(node),
            weight: 0.7,
        };
        let (j, grad) = diversity_and_gradient(&g, &objs, &x, &d, GradMode::Gradient).unwrap();
        // Item 4 is alone with its objective: no term, no gradient.
        assert_eq!(j[4], 0.0);
        assert!(j[..4].iter().all(|&v| v < 0.0), "{node}: {j:?}");
        let total = |x: &Tensor<f64>| {
            let (j, _) = diversity_and_gradient(&g, &objs, x, &d, GradMode::Gradient).unwrap();
            j.iter().sum::<f64>()
        };
        let h = 1e-6;
        let mut worst = 0.0f64;
        for i in (0..x.data.len()).step_by(5) {
            let (mut up, mut down) = (x.clone(), x.clone());
            up.data[i] += h;
            down.data[i] -= h;
            let fd = (total(&up) - total(&down)) / (2.0 * h);
            worst = worst.max((fd - grad.data[i]).abs() / (1.0 + fd.abs()));
        }
        assert!(
            worst < 1e-6,
            "{node}: ∇ diversity vs differences: worst {worst:e}"
        );
    }
}

/// The GPU run against the f64 run: prototypes to `tol` of their largest value, J to 1e-4.
fn gpu_equals_f64(s: &Settings, tol: f64) {
    gpu_equals_f64_on(&rgb_net(&mut Rng::new(122)), s, tol)
}

/// [`gpu_equals_f64`] on graph `g`.
fn gpu_equals_f64_on(g: &Graph, s: &Settings, tol: f64) {
    let m = model(g);
    let objs = objectives();
    let got = maximize(&m, &objs, s).unwrap();
    let (want, curves) = maximize_f64(g, &objs, s).unwrap();
    let scale = want.data.iter().fold(0.0f64, |a, v| a.max(v.abs()));
    assert_close("prototypes", &got.inputs.data, &want.data, tol * scale, 0.0);
    for (b, (c, w)) in got.curves.iter().zip(&curves).enumerate() {
        for p in c {
            let want_j = w[p.step];
            assert!(
                (p.total as f64 - want_j).abs() <= 1e-4 * (1.0 + p.objective.abs() as f64),
                "item {b} step {}: J {} vs f64 {want_j}",
                p.step,
                p.total
            );
        }
    }
}

#[test]
fn fourier_runs_on_the_gpu_equal_the_f64_run() {
    for decorrelate in [true, false] {
        let s = Settings {
            fourier: Some(Fourier {
                decorrelate,
                decay: 1.0,
            }),
            ..settings(10)
        };
        gpu_equals_f64(&s, 1e-4);
        // Odd height, even width: the half spectrum's last column is a Nyquist one.
        gpu_equals_f64_on(&rgb_net_of(&mut Rng::new(126), 7, 6), &s, 1e-4);
    }
}

#[test]
fn diversity_runs_on_the_gpu_equal_the_f64_run() {
    // Before both objective nodes, at the channel objectives' node, after it (fc).
    for node in ["relu1", "act2", "fc"] {
        let s = Settings {
            diversity: Some(Diversity {
                node: name(node),
                weight: 2.0,
            }),
            ..settings(8)
        };
        gpu_equals_f64(&s, 1e-4);
    }
    // With Fourier, transforms and redirected first steps together.
    let s = Settings {
        diversity: Some(Diversity {
            node: name("relu1"),
            weight: 2.0,
        }),
        fourier: Some(Fourier::default()),
        transforms: glimpse::interpret::Transforms {
            jitter: 1.0,
            scale: (0.9, 1.1),
            seed: 4,
        },
        redirect_steps: 3,
        ..settings(8)
    };
    gpu_equals_f64(&s, 1e-4);
}

#[test]
fn diversity_joins_below_an_add_on_the_gpu_as_in_f64() {
    // The Add hands branch_a and branch_b one gradient tensor; a term joining at one branch
    // (or a class objective under a term at the sum) must not leak into the other.
    let mut rng = Rng::new(125);
    let g = residual_net(&mut rng);
    let m = model(&g);
    let class = |class| Objective::Class {
        class,
        form: ClassForm::LogSoftmax,
    };
    let on_sum = Objective::Channel {
        node: name("sum"),
        channel: 2,
    };
    let cases = [
        ("branch_b", vec![class(1), class(1), class(2)]),
        ("branch_a", vec![class(0), class(0), class(0)]),
        ("sum", vec![class(3), class(3), class(1)]),
        ("relu2", vec![on_sum.clone(), on_sum]),
    ];
    for (node, objs) in cases {
        let s = Settings {
            diversity: Some(Diversity {
                node: name(node),
                weight: 3.0,
            }),
            ..settings(6)
        };
        let got = maximize(&m, &objs, &s).unwrap();
        let (want, _) = maximize_f64(&g, &objs, &s).unwrap();
        let scale = want.data.iter().fold(0.0f64, |a, v| a.max(v.abs()));
        assert_close(node, &got.inputs.data, &want.data, 1e-4 * scale, 0.0);
    }
}

#[test]
fn diversity_pushes_copies_apart() {
    let mut rng = Rng::new(123);
    let m = model(&rgb_net(&mut rng));
    let objs = vec![
        Objective::Channel {
            node: name("act2"),
            channel: 1,
        };
        3
    ];
    let similarity = |weight: f32| {
        let s = Settings {
            diversity: Some(Diversity {
                node: name("relu1"),
                weight,
            }),
            ..settings(60)
        };
        let got = maximize(&m, &objs, &s).unwrap();
        got.curves
            .iter()
            .map(|c| c.last().unwrap().diversity)
            .sum::<f32>()
            / 3.0
    };
    let (plain, pushed) = (similarity(1e-9), similarity(5.0));
    assert!(
        pushed < plain - 0.05,
        "mean Gram cosine with diversity {pushed} vs without {plain}"
    );
}

#[test]
fn bad_parameterisations_are_named() {
    let mut rng = Rng::new(124);
    let m = model(&rgb_net(&mut rng));
    let objs = objectives();
    let fourier = Some(Fourier::default());
    let cases = [
        (
            Settings {
                fourier,
                range: (0.0, f32::INFINITY),
                ..settings(2)
            },
            "finite input range",
        ),
        (
            Settings {
                fourier,
                blur: Some(glimpse::interpret::Blur {
                    every: 2,
                    sigma: 0.5,
                }),
                ..settings(2)
            },
            "does not combine",
        ),
        (
            Settings {
                diversity: Some(Diversity {
                    node: name("nowhere"),
                    weight: 1.0,
                }),
                ..settings(2)
            },
            "nowhere",
        ),
        (
            Settings {
                diversity: Some(Diversity {
                    node: LayerRef::Index(0),
                    weight: 1.0,
                }),
                ..settings(2)
            },
            "not the input",
        ),
    ];
    for (s, want) in cases {
        let err = maximize(&m, &objs, &s).unwrap_err().to_string();
        assert!(err.contains(want), "expected '{want}' in: {err}");
    }
    let two = Spectrum::new(&[2, 4, 4], (0.0, 1.0), Fourier::default()).unwrap_err();
    assert!(two.to_string().contains("3 channels"), "{two}");
}
