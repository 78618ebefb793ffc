//! Relevance pooling and the tabular fixture: the MLP's per-feature maps against Zennit and
//! Captum (assets/golden/tabular_*.npy, scripts/golden_tabular.py), its per-group sums, bar
//! charts as the picture of an [F] input, and channel / region pooling of image maps.

use std::path::{Path, PathBuf};

use super::commands::glimpse;

fn root() -> PathBuf {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/..")).to_path_buf()
}

fn temp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("glimpse-pool-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn summary(dir: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(dir.join("summary.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// max |got − want| ÷ max |want| over all items.
fn rel(got: &[f64], want: &[f32]) -> f64 {
    let scale = want.iter().fold(0.0f64, |m, &v| m.max((v as f64).abs()));
    let err = got
        .iter()
        .zip(want)
        .fold(0.0f64, |m, (&a, &b)| m.max((a - b as f64).abs()));
    err / scale
}

#[test]
fn the_tabular_mlp_equals_zennit_and_captum_per_feature_and_per_group() {
    let manifest: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("assets/golden/manifest.json")).unwrap(),
    )
    .unwrap();
    for (golden, method) in [
        ("epsilon_plus", vec!["--composite", "epsilon-plus"]),
        ("epsilon_0.25", vec!["--rule", "epsilon:0.25"]),
        ("input_x_gradient", vec!["--method", "gradient-x-input"]),
    ] {
        let out = temp(golden);
        let out_s = out.display().to_string();
        let mut args = vec![
            "explain",
            "--model",
            "assets/models/mlp_breast_cancer.onnx",
            "--pool",
            "groups:assets/data/breast_cancer_groups.json",
            "--features",
            "assets/data/breast_cancer_features.txt",
            "--out",
            &out_s,
        ];
        args.extend(method);
        args.push("assets/data/breast_cancer_x.npy");
        let (ok, _, stderr) = glimpse(&args);
        assert!(ok, "{golden}: {stderr}");
        let want =
            glimpse::io::npy::read_f32(root().join(format!("assets/golden/tabular_{golden}.npy")))
                .unwrap();
        let groups = glimpse::io::npy::read_f32(
            root().join(format!("assets/golden/tabular_{golden}_groups.npy")),
        )
        .unwrap();
        let names: Vec<String> = manifest["files"]
            [format!("assets/golden/tabular_{golden}_groups.npy")]["groups"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_string())
            .collect();
        let lines = summary(&out);
        assert_eq!(lines.len(), 114);
        let (mut maps, mut pooled) = (Vec::new(), Vec::new());
        for (i, line) in lines.iter().enumerate() {
            assert_eq!(line["input"], format!("breast_cancer_x.npy[{i}]"));
            let m = glimpse::io::npy::read_f32(out.join(format!("breast_cancer_x.npy_{i}.npy")))
                .unwrap();
            assert_eq!(m.shape, vec![30]);
            maps.extend(m.data.iter().map(|&v| v as f64));
            for n in &names {
                pooled.push(
                    line["pooled"][n]
                        .as_f64()
                        .unwrap_or_else(|| panic!("{golden}: no group {n}")),
                );
            }
        }
        let (e_map, e_groups) = (rel(&maps, &want.data), rel(&pooled, &groups.data));
        println!("{golden}: per feature {e_map:.2e}, per group {e_groups:.2e} of max |value|");
        assert!(
            e_map <= 1e-4 && e_groups <= 1e-4,
            "{golden}: {e_map} {e_groups}"
        );
        // The picture of a feature vector is its bar chart; the pooled one beside it.
        for f in [
            "breast_cancer_x.npy_0.png",
            "breast_cancer_x.npy_0_pool.png",
            "breast_cancer_x.npy_0_pool.json",
        ] {
            assert!(out.join(f).exists(), "{golden}: {f}");
        }
        let _ = std::fs::remove_dir_all(&out);
    }
}

#[test]
fn channel_and_region_pooling_of_an_image_map_sum_to_its_relevance() {
    for spec in ["channel", "region:7x7", "region:5"] {
        let out = temp(&spec.replace(':', "_"));
        let out_s = out.display().to_string();
        let (ok, _, stderr) = glimpse(&[
            "explain",
            "--model",
            "assets/models/lenet_mnist.onnx",
            "--pool",
            spec,
            "--out",
            &out_s,
            "assets/images/mnist_0_label3.png",
        ]);
        assert!(ok, "{spec}: {stderr}");
        let line = &summary(&out)[0];
        let parts = line["pooled"].as_object().unwrap();
        let expected = match spec {
            "channel" => 1,
            "region:7x7" => 16,
            _ => 36, // 28 = 5 · 5 + 3: six tiles a side, the last cut
        };
        assert_eq!(parts.len(), expected, "{spec}: {parts:?}");
        let total: f64 = parts.values().map(|v| v.as_f64().unwrap()).sum();
        let sum = line["relevance_sum"].as_f64().unwrap();
        assert!(
            (total - sum).abs() <= 1e-4 * sum.abs().max(1.0),
            "{spec}: {total} vs {sum}"
        );
        let _ = std::fs::remove_dir_all(&out);
    }
}

#[test]
fn bad_poolings_fail_before_any_work() {
    let out = temp("bad");
    let out_s = out.display().to_string();
    let bad_groups =
        std::env::temp_dir().join(format!("glimpse-bad-groups-{}.json", std::process::id()));
    std::fs::write(&bad_groups, r#"{"ok": [1, 2], "far": [3, 30]}"#).unwrap();
    let groups_arg = format!("groups:{}", bad_groups.display());
    for (model, pool, needle) in [
        (
            "assets/models/mlp_breast_cancer.onnx",
            groups_arg.as_str(),
            "group 'far' names index 30",
        ),
        (
            "assets/models/lenet_mnist.onnx",
            "region:29",
            "larger than the 28×28 map",
        ),
        (
            "assets/models/mlp_breast_cancer.onnx",
            "region:2",
            "not images",
        ),
        (
            "assets/models/lenet_mnist.onnx",
            "pixels",
            "use channel, region:HxW or groups",
        ),
    ] {
        let input = if model.contains("mlp") {
            "assets/data/breast_cancer_x.npy"
        } else {
            "assets/images/mnist_0_label3.png"
        };
        let (ok, _, stderr) = glimpse(&[
            "explain", "--model", model, "--pool", pool, "--out", &out_s, input,
        ]);
        assert!(!ok && stderr.contains(needle), "{pool}: {stderr}");
        assert!(
            !out.exists(),
            "{pool}: the run folder was made before the error"
        );
    }
    let (ok, _, stderr) = glimpse(&[
        "explain",
        "--model",
        "assets/models/lenet_mnist.onnx",
        "--features",
        "assets/data/breast_cancer_features.txt",
        "--out",
        &out_s,
        "assets/images/mnist_0_label3.png",
    ]);
    assert!(
        !ok && stderr.contains("30 names for inputs of shape [1, 28, 28]"),
        "{stderr}"
    );
    let _ = std::fs::remove_file(&bad_groups);
}
