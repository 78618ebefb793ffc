//! Robustness metrics against Quantus 0.6.0 (MaxSensitivity, AvgSensitivity,
//! LocalLipschitzEstimate, Continuity) and Captum 0.9.0 (sensitivity_max, infidelity) —
//! assets/golden/robustness, scripts/golden_robustness.py: the same inputs, classes and seeded
//! noise given to both, glimpse re-explaining on the GPU; every score within 1e-4 of the peer's
//! (relative), and every per-copy value likewise.

use crate::common::{asset, gpu};
use glimpse::evaluate::robustness::quantus_shifts;
use glimpse::evaluate::{Axis, Infidelity, RobustEvaluator, RobustOptions, Robustness};
use glimpse::explain::gradient::GradientMap;
use glimpse::io::npy::read_f32;
use glimpse::{DeviceModel, Explainer, Method, Predictor, Target, Tensor};

const TOL: f64 = 1e-4;

fn root(path: &str) -> std::path::PathBuf {
    asset("..").join(path)
}

/// `path[a:b]` of a committed .npy.
fn slice(spec: &str) -> Tensor {
    let (path, range) = spec.split_once('[').expect("path[a:b]");
    let (a, b) = range.trim_end_matches(']').split_once(':').unwrap();
    let (a, b): (usize, usize) = (a.parse().unwrap(), b.parse().unwrap());
    let all = read_f32(root(path)).unwrap();
    let per = all.numel() / all.shape[0];
    let mut shape = all.shape.clone();
    shape[0] = b - a;
    Tensor::new(shape, all.data[a * per..b * per].to_vec()).unwrap()
}

fn method(maps: &str) -> Method {
    match maps {
        "saliency" => Method::Gradient(GradientMap::Saliency),
        "gxi" => Method::Gradient(GradientMap::GradientTimesInput),
        other => panic!("no maps {other}"),
    }
}

fn options(c: &serde_json::Value, width: usize) -> Option<RobustOptions> {
    let p = &c["params"];
    let int = |k: &str| p[k].as_u64().unwrap_or_else(|| panic!("{k}")) as usize;
    let float = |k: &str| p[k].as_f64().unwrap_or_else(|| panic!("{k}"));
    let flag = |k: &str| p[k].as_bool().unwrap_or(false);
    let (metric, normalise, abs) = match c["metric"].as_str().unwrap() {
        "quantus.MaxSensitivity" => (
            Robustness::MaxSensitivity {
                samples: int("nr_samples"),
                radius: float("lower_bound"),
            },
            flag("normalise"),
            flag("abs"),
        ),
        "quantus.AvgSensitivity" => (
            Robustness::AvgSensitivity {
                samples: int("nr_samples"),
                radius: float("lower_bound"),
            },
            flag("normalise"),
            flag("abs"),
        ),
        "quantus.LocalLipschitzEstimate" => (
            Robustness::LocalLipschitz {
                samples: int("nr_samples"),
                std: float("perturb_std") as f32,
            },
            flag("normalise"),
            flag("abs"),
        ),
        "quantus.Continuity" => {
            let shifts = quantus_shifts(width, int("nr_steps")).unwrap();
            let given: Vec<i64> = p["translations"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_i64().unwrap())
                .collect();
            assert_eq!(shifts, given, "Quantus's schedule");
            (
                Robustness::Continuity {
                    shifts,
                    axis: Axis::X,
                },
                flag("normalise"),
                flag("abs"),
            )
        }
        "captum.sensitivity_max" => (
            Robustness::SensitivityMax {
                samples: int("n_perturb_samples"),
                radius: float("perturb_radius"),
            },
            false,
            false,
        ),
        _ => return None,
    };
    Some(RobustOptions {
        metric,
        normalise,
        abs,
        seed: int("seed") as u64,
    })
}

/// |got − want| ≤ TOL · max(|want|, floor) for every value.
fn check(what: &str, got: &[f64], want: &[f32], floor: f64) {
    assert_eq!(got.len(), want.len(), "{what}: lengths");
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        let w = w as f64;
        assert!(
            (g - w).abs() <= TOL * w.abs().max(floor),
            "{what} [{i}]: glimpse {g} vs peer {w}"
        );
    }
}

fn check_case(case: &str) {
    let text = std::fs::read_to_string(asset("golden/robustness/configs.json")).unwrap();
    let all: serde_json::Value = serde_json::from_str(&text).unwrap();
    let info = &all["cases"][case];
    let graph = glimpse::load_model(root(info["onnx"].as_str().unwrap())).unwrap();
    let model = DeviceModel::new(gpu(), graph);
    let x = slice(info["inputs"].as_str().unwrap());
    let width = *x.shape.last().unwrap();
    let classes: Vec<usize> = info["y"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap() as usize)
        .collect();
    let mut checked = 0;
    for c in all["configs"].as_array().unwrap() {
        if c["case"] != case {
            continue;
        }
        let name = format!("{case} {}", c["config"].as_str().unwrap());
        let files = &c["files"];
        let want = |k: &str| read_f32(root(files[k].as_str().unwrap())).unwrap();
        let m = method(c["maps"].as_str().unwrap());
        if let Some(opts) = options(c, width) {
            let e = Explainer::new(&model, &m, 8).unwrap();
            let mut ev = RobustEvaluator::new(&model, e, opts).unwrap();
            let got = ev.evaluate(&x, Some(&classes), 0).unwrap();
            let ratios: Vec<f64> = got.ratios.data.iter().map(|&v| v as f64).collect();
            // Ratios are stored in f32 by glimpse: compare at f32's resolution and above.
            check(
                &format!("{name} per copy"),
                &ratios,
                &want("per_sample").data,
                1e-3,
            );
            check(
                &format!("{name} scores"),
                &got.scores,
                &want("scores").data,
                1e-3,
            );
        } else {
            assert_eq!(c["metric"], "captum.infidelity", "{name}");
            let p = &c["params"];
            let inf = Infidelity {
                samples: p["n_perturb_samples"].as_u64().unwrap() as usize,
                std: p["std"].as_f64().unwrap() as f32,
                normalize: p["normalize"].as_bool().unwrap(),
                seed: p["seed"].as_u64().unwrap(),
            };
            let targets: Vec<Target> = classes.iter().map(|&k| Target::Class(k)).collect();
            let maps = Explainer::new(&model, &m, 8)
                .unwrap()
                .explain(&x, &targets)
                .unwrap()
                .map;
            let mut pred = Predictor::logits(&model, 16).unwrap();
            let got = inf
                .evaluate(&model, &mut pred, &x, &maps, &classes, 0)
                .unwrap();
            let ia: Vec<f64> = got.explained.data.iter().map(|&v| v as f64).collect();
            let d: Vec<f64> = got.changes.data.iter().map(|&v| v as f64).collect();
            let (we, wc) = (want("explained"), want("changes"));
            // Iᵀa is a sum of terms of both signs over every input value: its error is
            // bounded by the maps' relative error times Σ|I·a|, the scale it is checked at.
            let numel = x.numel() / x.shape[0];
            for (i, (&g, &w)) in ia.iter().zip(&we.data).enumerate() {
                let (item, s) = (i / inf.samples, i % inf.samples);
                let noise =
                    glimpse::explain::gradient::gaussian_noise(inf.seed, item, s, numel, inf.std);
                let a = &maps.data[item * numel..(item + 1) * numel];
                let bound: f64 = noise.iter().zip(a).map(|(e, v)| (e * v).abs() as f64).sum();
                assert!(
                    (g - w as f64).abs() <= TOL * bound,
                    "{name} Iᵀa [{i}]: {g} vs {w} (Σ|I·a| = {bound})"
                );
            }
            // Δ = f(x) − f(x − I) carries the logits' float32 rounding: checked at max |Δ|.
            let scale = wc.data.iter().fold(0.0f64, |m, v| m.max(v.abs() as f64));
            check(&format!("{name} Δ"), &d, &wc.data, scale);
            // The score from the peer's Iᵀa and glimpse's Δ tests the formula and the forward
            // passes; glimpse's own score adds its maps' agreement (checked above).
            let mixed: Vec<f64> = (0..x.shape[0])
                .map(|i| {
                    let r = i * inf.samples..(i + 1) * inf.samples;
                    inf.score(&we.data[r.clone()], &got.changes.data[r])
                })
                .collect();
            check(
                &format!("{name} score of the peer's Iᵀa"),
                &mixed,
                &want("scores").data,
                1e-6,
            );
            println!(
                "{name}: glimpse {:?} vs peer {:?}",
                got.scores,
                want("scores").data
            );
        }
        checked += 1;
    }
    assert!(checked > 0, "no configs for {case}");
}

#[test]
fn robustness_on_lenet_matches_quantus_and_captum() {
    check_case("lenet_mnist");
}

#[test]
fn robustness_on_the_residual_net_matches_quantus_and_captum() {
    check_case("resnet_fashion");
}

#[test]
fn robustness_on_efficientnet_lite0_matches_quantus_and_captum() {
    check_case("efficientnet_lite0");
}
