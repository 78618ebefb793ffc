//! Quantus 0.6.0's FaithfulnessCorrelation, MonotonicityCorrelation and ROAD
//! (assets/golden/faithfulness, scripts/golden_faithfulness.py): the same inputs, classes, maps,
//! random subsets, baseline values and imputation noise given to both. Correlations within 1e-4,
//! the correlated pairs within 1e-4 of their largest value, ROAD's curves equal and the class
//! probabilities of every imputed input within 1e-4. Where Quantus's unstable sort orders equal
//! map values differently, the golden's stable twin (glimpse's index order) is used; where the
//! float64 model moves a MonotonicityCorrelation result past 1e-4 (saturated softmax), that input
//! is left out, as the script's conditioning report lists.

use crate::common::{asset, gpu};
use glimpse::evaluate::{Baseline, Correlation, CorrelationOptions, Order, Road};
use glimpse::io::npy::read_f32;
use glimpse::{DeviceModel, Predictor, Tensor};

const TOL: f64 = 1e-4;

fn root(path: &str) -> std::path::PathBuf {
    asset("..").join(path)
}

fn load(path: &str) -> Tensor {
    read_f32(root(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The inputs whose result a float32 engine can reproduce (the script's float64-model check:
/// MonotonicityCorrelation's variances sit at float32's resolution when the softmax saturates).
fn robust(c: &serde_json::Value) -> Vec<usize> {
    let cond = &c["conditioning"];
    let r = if cond["stable"].is_object() {
        &cond["stable"]
    } else {
        &cond["quantus"]
    };
    r["robust_inputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap() as usize)
        .collect()
}

/// The golden file `key`, its stable twin when there is one.
fn file(c: &serde_json::Value, key: &str) -> Tensor {
    let f = &c["files"];
    let stable = format!("{key}_stable");
    load(f[stable.as_str()].as_str().or(f[key].as_str()).unwrap())
}

fn close(what: &str, got: &[f64], want: &[f32], scale: f64) {
    assert_eq!(got.len(), want.len(), "{what}: lengths");
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        let ok = (g.is_nan() && w.is_nan()) || (g - w as f64).abs() <= TOL * scale;
        assert!(ok, "{what} [{i}]: glimpse {g} vs Quantus {w}");
    }
}

fn check_case(case: &str) {
    let text = std::fs::read_to_string(asset("golden/faithfulness/configs.json")).unwrap();
    let all: serde_json::Value = serde_json::from_str(&text).unwrap();
    let info = &all["cases"][case];
    let seed = all["seed"].as_u64().unwrap();
    let graph = glimpse::load_model(root(info["onnx"].as_str().unwrap())).unwrap();
    let model = DeviceModel::new(gpu(), graph);
    let full = load(info["inputs"]["path"].as_str().unwrap());
    let n = info["n"].as_u64().unwrap() as usize;
    let per = full.numel() / full.shape[0];
    let mut shape = full.shape.clone();
    shape[0] = n;
    let x = Tensor::new(shape, full.data[..n * per].to_vec()).unwrap();
    let classes: Vec<usize> = info["y"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap() as usize)
        .collect();
    let mut pred = Predictor::logits(&model, 16).unwrap();
    let mut checked = 0;
    for c in all["configs"].as_array().unwrap() {
        if c["case"] != case {
            continue;
        }
        let name = format!(
            "{case} {} {}",
            c["config"].as_str().unwrap(),
            c["maps"].as_str().unwrap()
        );
        let maps = load(info["files"][c["maps"].as_str().unwrap()].as_str().unwrap());
        let p = &c["params"];
        let int = |k: &str| p[k].as_u64().unwrap_or_else(|| panic!("{k}")) as usize;
        let want_scores = file(c, "scores");
        match c["metric"].as_str().unwrap() {
            "quantus.FaithfulnessCorrelation" | "quantus.MonotonicityCorrelation" => {
                let faith = c["metric"] == "quantus.FaithfulnessCorrelation";
                let mut o = CorrelationOptions::defaults(if faith {
                    "faithfulness-correlation"
                } else {
                    "monotonicity-correlation"
                })
                .unwrap();
                o.metric = if faith {
                    Correlation::Faithfulness {
                        runs: int("nr_runs"),
                        subset: int("subset_size"),
                    }
                } else {
                    Correlation::Monotonicity {
                        samples: int("nr_samples"),
                        features_in_step: int("features_in_step"),
                        eps: p["eps"].as_f64().unwrap(),
                    }
                };
                o.baseline = match p["perturb_baseline"].as_str().unwrap() {
                    "black" => Baseline::Black,
                    "uniform" => Baseline::Uniform {
                        low: p["uniform_low"].as_f64().unwrap() as f32,
                        high: p["uniform_high"].as_f64().unwrap() as f32,
                        seed,
                    },
                    other => panic!("baseline {other}"),
                };
                o.abs = p["abs"].as_bool().unwrap();
                o.probability = c["softmax"].as_bool().unwrap();
                o.seed = seed;
                let got = o
                    .evaluate(&model, &mut pred, &x, &maps, &classes, 0)
                    .unwrap();
                let want = file(c, "pairs");
                assert_eq!(got.pairs.shape, want.shape, "{name}");
                let keep = robust(c);
                let m = want.shape[1];
                // Quantus divides the whole batch's maps by one maximum before summing.
                let top = maps.data.iter().fold(0.0f64, |t, v| t.max(v.abs() as f64));
                for side in 0..2 {
                    let pick = |t: &[f32], scale: f64| -> Vec<f64> {
                        keep.iter()
                            .flat_map(|&i| (0..m).map(move |j| (i * m + j) * 2 + side))
                            .map(|k| t[k] as f64 / scale)
                            .collect()
                    };
                    let g = pick(&got.pairs.data, if side == 0 { top } else { 1.0 });
                    let w: Vec<f32> = pick(&want.data, 1.0).iter().map(|&v| v as f32).collect();
                    let scale = w.iter().fold(0.0f64, |t, v| t.max(v.abs() as f64));
                    close(&format!("{name} pairs side {side}"), &g, &w, scale);
                }
                let g: Vec<f64> = keep.iter().map(|&i| got.scores[i]).collect();
                let w: Vec<f32> = keep.iter().map(|&i| want_scores.data[i]).collect();
                close(
                    &format!("{name} correlation of inputs {keep:?}"),
                    &g,
                    &w,
                    1.0,
                );
            }
            "quantus.ROAD" => {
                let road = Road {
                    percentages: p["percentages"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|v| v.as_f64().unwrap())
                        .collect(),
                    noise: p["noise"].as_f64().unwrap() as f32,
                    order: Order::Morf,
                    seed,
                };
                let got = road
                    .evaluate(&model, &mut pred, &x, &maps, &classes, 0)
                    .unwrap();
                let curves: Vec<f64> = got.curves.data.iter().map(|&v| v as f64).collect();
                assert_eq!(got.curves.numel(), want_scores.numel(), "{name}");
                close(&format!("{name} curves"), &curves, &want_scores.data, 1.0);
                let logits = file(c, "logits");
                let classes_out = logits.numel() / got.curves.numel();
                let want_p: Vec<f32> = logits
                    .data
                    .chunks(classes_out)
                    .enumerate()
                    .map(|(k, row)| {
                        let y = classes[k / road.percentages.len()];
                        let m = row.iter().copied().fold(f32::NEG_INFINITY, f32::max) as f64;
                        let z: f64 = row.iter().map(|&v| (v as f64 - m).exp()).sum();
                        ((row[y] as f64 - m).exp() / z) as f32
                    })
                    .collect();
                let got_p: Vec<f64> = got.probabilities.data.iter().map(|&v| v as f64).collect();
                close(&format!("{name} probabilities"), &got_p, &want_p, 1.0);
            }
            other => panic!("{name}: no metric {other}"),
        }
        checked += 1;
    }
    assert!(checked > 0, "no configs for {case}");
}

#[test]
fn faithfulness_metrics_on_lenet_match_quantus() {
    check_case("lenet_mnist");
}

#[test]
fn faithfulness_metrics_on_the_residual_net_match_quantus() {
    check_case("resnet_fashion");
}
