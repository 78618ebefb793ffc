//! Selectivity curves against Quantus 0.6.0 (assets/golden/quantus, scripts/golden_quantus.py):
//! the same inputs, labels and maps given to both; every curve point within 1e-4 of the
//! curve's range, and the unperturbed score likewise.

use crate::common::{asset, gpu};
use glimpse::evaluate::{Baseline, EvalOptions, Evaluator, Metric, Order};
use glimpse::io::npy::{read_f32, read_i64};
use glimpse::DeviceModel;

fn root(path: &str) -> std::path::PathBuf {
    asset("..").join(path)
}

/// f64 values of a golden .npy.
fn golden(path: &str) -> glimpse::Tensor {
    read_f32(root(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn options(c: &serde_json::Value) -> EvalOptions {
    let p = &c["params"];
    let int = |k: &str| p[k].as_u64().unwrap_or_else(|| panic!("{k}")) as usize;
    let metric = match c["metric"].as_str().unwrap() {
        "quantus.PixelFlipping" => Metric::PixelFlipping {
            features_in_step: int("features_in_step"),
        },
        "quantus.RegionPerturbation" => Metric::RegionPerturbation {
            patch: int("patch_size"),
            order: Order::parse(p["order"].as_str().unwrap(), 0).unwrap(),
            regions: int("regions_evaluation"),
        },
        "quantus.Selectivity" => Metric::Selectivity {
            patch: int("patch_size"),
        },
        other => panic!("no metric {other}"),
    };
    EvalOptions {
        metric,
        baseline: Baseline::parse(p["perturb_baseline"].as_str().unwrap(), 0, 1.0).unwrap(),
        probability: c["softmax"].as_bool().unwrap(),
    }
}

fn check_case(case: &str) {
    let text = std::fs::read_to_string(asset("golden/quantus/configs.json")).unwrap();
    let all: serde_json::Value = serde_json::from_str(&text).unwrap();
    let info = &all["cases"][case];
    let model_path = info["onnx"].as_str().or(info["model"].as_str()).unwrap();
    let graph = glimpse::load_model(root(model_path)).unwrap();
    let m = DeviceModel::new(gpu(), graph);
    let mut checked = 0;
    for c in all["configs"].as_array().unwrap() {
        if c["case"] != case {
            continue;
        }
        let name = c["config"].as_str().unwrap();
        // A note may follow the path ("photos_x.npy (the whole file; not copied)").
        let x_path = c["call"]["x_batch"]
            .as_str()
            .unwrap()
            .split(' ')
            .next()
            .unwrap();
        let x = golden(x_path);
        let y_path = c["call"]["y_batch"]
            .as_str()
            .unwrap()
            .split(' ')
            .next()
            .unwrap();
        let y: Vec<usize> = read_i64(root(y_path))
            .unwrap()
            .data
            .iter()
            .map(|&v| v as usize)
            .collect();
        let maps = golden(c["maps_file"].as_str().unwrap());
        // Exact ties Quantus's unstable sort orders differently: its stable-order twin.
        let want = golden(
            c["stable_ties_file"]
                .as_str()
                .unwrap_or(c["file"].as_str().unwrap()),
        );
        let f0 = golden(c["f0_file"].as_str().unwrap());
        let mut ev = Evaluator::new(&m, options(c), 64).unwrap();
        let got = ev.evaluate(&x, &maps, Some(&y)).unwrap();
        let (n, k) = (want.shape[0], want.shape[1]);
        assert_eq!(got.curves.shape, vec![n, k + 1], "{case} {name}");
        for i in 0..n {
            let row = &want.data[i * k..(i + 1) * k];
            let ours = &got.curves.data[i * (k + 1)..(i + 1) * (k + 1)];
            let raw0 = got.raw.data[i * (k + 1)];
            let lo = row
                .iter()
                .chain([&f0.data[i]])
                .fold(f32::INFINITY, |a, &v| a.min(v));
            let hi = row
                .iter()
                .chain([&f0.data[i]])
                .fold(f32::NEG_INFINITY, |a, &v| a.max(v));
            let tol = 1e-4 * (hi - lo) as f64;
            for (j, (&g, &w)) in ours[1..].iter().zip(row).enumerate() {
                assert!(
                    (g as f64 - w as f64).abs() <= tol,
                    "{case} {name}: input {i}, step {}: ours {g}, Quantus {w} (range {})",
                    j + 1,
                    hi - lo
                );
            }
            assert!(
                (raw0 as f64 - f0.data[i] as f64).abs() <= tol,
                "{case} {name}: input {i}: f(x) {raw0}, Quantus {}",
                f0.data[i]
            );
        }
        checked += 1;
    }
    assert!(checked > 0, "no Quantus configs for {case}");
}

#[test]
fn lenet_curves_equal_quantus() {
    check_case("lenet_mnist");
}

#[test]
fn resnet_curves_equal_quantus() {
    check_case("resnet_fashion");
}

#[test]
fn efficientnet_lite0_curves_equal_quantus() {
    check_case("efficientnet_lite0");
}

/// `selectivity --recompute` against a plain PyTorch loop (scripts/golden_recompute.py): the
/// same digits and classes, gradient × input re-explained after every removal; every point
/// within 1e-4 and the same patch removed at every step.
#[test]
fn recomputed_selectivity_matches_the_pytorch_loop() {
    use glimpse::evaluate::Recompute;
    use glimpse::explain::gradient::GradientMap;
    use glimpse::{Explainer, Method};
    let text = std::fs::read_to_string(asset("golden/recompute/configs.json")).unwrap();
    let c: serde_json::Value = serde_json::from_str(&text).unwrap();
    let graph = glimpse::load_model(root(c["case"]["onnx"].as_str().unwrap())).unwrap();
    let m = DeviceModel::new(gpu(), graph);
    let all = golden("assets/data/mnist_test_x.npy");
    let classes: Vec<usize> = c["case"]["y"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap() as usize)
        .collect();
    let n = classes.len();
    let x = glimpse::Tensor::new(vec![n, 1, 28, 28], all.data[..n * 784].to_vec()).unwrap();
    let steps = c["params"]["steps"].as_u64().unwrap() as usize;
    let e = Explainer::new(&m, &Method::Gradient(GradientMap::GradientTimesInput), 8).unwrap();
    let mut rc = Recompute::new(&m, e, 4, steps, Baseline::Black, true).unwrap();
    let got = rc.evaluate(&x, Some(&classes), 0).unwrap();
    let want = golden(c["files"]["curves"].as_str().unwrap());
    assert_eq!(got.curves.shape, want.shape);
    for (i, (g, w)) in got.curves.data.iter().zip(&want.data).enumerate() {
        assert!(
            (g - w).abs() <= 1e-4,
            "input {} step {}: {g} vs {w}",
            i / (steps + 1),
            i % (steps + 1)
        );
    }
}
