//! `glimpse evaluate` as a user runs it: Quantus's golden curve reproduced from the files a
//! user would pass, several methods in one run, nothing overwritten, bad maps and options named.

use crate::commands::glimpse;
use glimpse::io::npy::{read_f32, write_f32};

const Q: &str = "assets/golden/quantus";

fn out_dir(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("glimpse-evaluate-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

fn root(p: &str) -> std::path::PathBuf {
    std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/..")).join(p)
}

#[test]
fn region_perturbation_from_maps_reproduces_quantus_and_refuses_to_overwrite() {
    let dir = out_dir("maps");
    let d = dir.to_str().unwrap();
    let (maps, labels, x) = (
        format!("{Q}/lenet_mnist_gxi.npy"),
        format!("{Q}/lenet_mnist_y.npy"),
        format!("{Q}/lenet_mnist_x.npy"),
    );
    let args = [
        "evaluate",
        "--model",
        "assets/models/lenet_mnist.onnx",
        "--metric",
        "region-perturbation",
        "--patch-size",
        "4",
        "--regions",
        "49",
        "--maps",
        &maps,
        "--labels",
        &labels,
        "--out",
        d,
        &x,
    ];
    let (ok, stdout, stderr) = glimpse(&args);
    assert!(ok, "{stderr}");
    assert!(stdout.contains("lenet_mnist_gxi"), "{stdout}");
    let curves = read_f32(dir.join("curves.npy")).unwrap();
    assert_eq!(curves.shape, vec![16, 50]);
    let want = read_f32(root(&format!("{Q}/lenet_mnist_region_morf.npy"))).unwrap();
    for i in 0..16 {
        let row = &want.data[i * 49..(i + 1) * 49];
        let range =
            row.iter().fold(0.0f32, |a, &v| a.max(v)) - row.iter().fold(0.0f32, |a, &v| a.min(v));
        for (k, &w) in row.iter().enumerate() {
            let g = curves.data[i * 50 + k + 1];
            assert!(
                (g - w).abs() <= 1e-4 * range,
                "input {i} step {}: {g} vs {w}",
                k + 1
            );
        }
    }
    let scores = read_f32(dir.join("scores.npy")).unwrap();
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).unwrap()).unwrap();
    let aopc = summary["results"][0]["aopc"].as_f64().unwrap();
    let mean = scores.data.iter().map(|&v| v as f64).sum::<f64>() / 16.0;
    assert!((aopc - mean).abs() < 1e-6, "{aopc} vs {mean}");
    assert_eq!(summary["options"]["order"], "morf");
    assert!(dir.join("curves.png").exists());
    let (ok, _, stderr) = glimpse(&args);
    assert!(
        !ok && stderr.contains("exists") && stderr.contains("--overwrite"),
        "{stderr}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn several_methods_give_one_plot_and_a_file_pair_each() {
    let dir = out_dir("methods");
    let d = dir.to_str().unwrap();
    let (ok, stdout, stderr) = glimpse(&[
        "evaluate",
        "--model",
        "assets/models/lenet_mnist.onnx",
        "--metric",
        "pixel-flipping",
        "--features-in-step",
        "56",
        "--method",
        "gradient-x-input",
        "--method",
        "lrp:epsilon-plus-flat",
        "--method",
        "random",
        "--logits",
        "--out",
        d,
        "assets/images/mnist_0_label3.png",
        "assets/images/mnist_1_label8.png",
    ]);
    assert!(ok, "{stderr}");
    for m in ["gradient-x-input", "lrp_epsilon-plus-flat", "random"] {
        let c = read_f32(dir.join(format!("curves_{m}.npy"))).unwrap();
        assert_eq!(c.shape, vec![2, 15], "{m}");
        assert!(stdout.contains(m), "{stdout}");
    }
    assert!(dir.join("curves.png").exists());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bad_maps_and_options_are_one_clear_message() {
    let dir = out_dir("bad");
    let d = dir.to_str().unwrap();
    let x = format!("{Q}/lenet_mnist_x.npy");
    let run = |extra: &[&str]| {
        let mut a = vec![
            "evaluate",
            "--model",
            "assets/models/lenet_mnist.onnx",
            "--metric",
            "region-perturbation",
            "--patch-size",
            "4",
            "--out",
            d,
        ];
        a.extend_from_slice(extra);
        a.push(&x);
        glimpse(&a)
    };
    let maps = format!("{Q}/lenet_mnist_gxi.npy");
    let (ok, _, e) = run(&["--regions", "50", "--maps", &maps]);
    assert!(
        !ok && e.contains("50 regions") && e.contains("into 49"),
        "{e}"
    );
    let wrong = dir.with_extension("wrong.npy");
    write_f32(&wrong, &glimpse::Tensor::zeros(vec![16, 2, 28, 28])).unwrap();
    let (ok, _, e) = run(&["--regions", "49", "--maps", wrong.to_str().unwrap()]);
    assert!(!ok && e.contains("fit neither"), "{e}");
    let mut nan = read_f32(root(&maps)).unwrap();
    nan.data[100] = f32::NAN;
    write_f32(&wrong, &nan).unwrap();
    let (ok, _, e) = run(&["--regions", "49", "--maps", wrong.to_str().unwrap()]);
    assert!(!ok && e.contains("non-finite"), "{e}");
    let (ok, _, e) = run(&["--regions", "49"]);
    assert!(!ok && e.contains("--maps") && e.contains("--method"), "{e}");
    let (ok, _, e) = run(&["--regions", "49", "--order", "sideways", "--maps", &maps]);
    assert!(!ok && e.contains("sideways"), "{e}");
    let (ok, _, e) = run(&["--regions", "49", "--baseline", "purple", "--maps", &maps]);
    assert!(!ok && e.contains("purple"), "{e}");
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_file(&wrong);
}

#[test]
fn robustness_metrics_write_their_arrays_and_the_continuity_plot() {
    let dir = out_dir("robust");
    let d = dir.to_str().unwrap();
    let x = format!("{Q}/lenet_mnist_x.npy");
    let model = "assets/models/lenet_mnist.onnx";
    let args = [
        "evaluate",
        "--model",
        model,
        "--metric",
        "continuity",
        "--shifts=-4:4:2",
        "--method",
        "gradient-x-input",
        "--method",
        "lrp:deep-taylor-bounded",
        "--out",
        d,
        &x,
    ];
    let (ok, stdout, stderr) = glimpse(&args);
    assert!(ok, "{stderr}");
    assert!(stdout.contains("lrp_deep-taylor-bounded"), "{stdout}");
    for label in ["gradient-x-input", "lrp_deep-taylor-bounded"] {
        let scores = read_f32(dir.join(format!("scores_{label}.npy"))).unwrap();
        assert_eq!(scores.shape, vec![16]);
        assert!(scores.data.iter().all(|v| v.is_finite() && *v > 0.0));
        let ratios = read_f32(dir.join(format!("ratios_{label}.npy"))).unwrap();
        assert_eq!(ratios.shape, vec![16, 5]);
        // The middle shift is 0: the input itself.
        assert!((0..16).all(|i| ratios.data[i * 5 + 2] == 0.0));
        let q = read_f32(dir.join(format!("quadrants_{label}.npy"))).unwrap();
        assert_eq!(q.shape, vec![16, 5, 4]);
        assert_eq!(
            read_f32(dir.join(format!("outputs_{label}.npy")))
                .unwrap()
                .shape,
            vec![16, 6]
        );
        assert!(dir.join(format!("continuity_{label}.png")).exists());
    }
    let summary = std::fs::read_to_string(dir.join("summary.json")).unwrap();
    assert!(
        summary.contains("\"shifts\"") && summary.contains("-4"),
        "{summary}"
    );
    // A second run into the same folder is refused.
    let (ok, _, stderr) = glimpse(&args);
    assert!(!ok && stderr.contains("--overwrite"), "{stderr}");

    let dir = out_dir("sensitivity");
    let d = dir.to_str().unwrap();
    let args = [
        "evaluate",
        "--model",
        model,
        "--metric",
        "max-sensitivity",
        "--nr-samples",
        "3",
        "--method",
        "gradient",
        "--out",
        d,
        &x,
    ];
    let (ok, _, stderr) = glimpse(&args);
    assert!(ok, "{stderr}");
    assert_eq!(read_f32(dir.join("ratios.npy")).unwrap().shape, vec![16, 3]);

    let dir = out_dir("infidelity");
    let d = dir.to_str().unwrap();
    let maps = format!("{Q}/lenet_mnist_gxi.npy");
    let args = [
        "evaluate",
        "--model",
        model,
        "--metric",
        "infidelity",
        "--nr-samples",
        "4",
        "--maps",
        &maps,
        "--out",
        d,
        &x,
    ];
    let (ok, _, stderr) = glimpse(&args);
    assert!(ok, "{stderr}");
    assert_eq!(
        read_f32(dir.join("changes.npy")).unwrap().shape,
        vec![16, 4]
    );
    let scores = read_f32(dir.join("scores.npy")).unwrap();
    assert!(scores.data.iter().all(|v| v.is_finite() && *v >= 0.0));
}

#[test]
fn robustness_refuses_maps_and_bad_options() {
    let dir = out_dir("robust-bad");
    let d = dir.to_str().unwrap();
    let x = format!("{Q}/lenet_mnist_x.npy");
    let maps = format!("{Q}/lenet_mnist_gxi.npy");
    let model = "assets/models/lenet_mnist.onnx";
    for (extra, needle) in [
        (
            vec!["--metric", "max-sensitivity", "--maps", &maps],
            "give --method",
        ),
        (
            vec![
                "--metric",
                "continuity",
                "--axis",
                "z",
                "--method",
                "gradient",
            ],
            "--axis z",
        ),
        (
            vec![
                "--metric",
                "continuity",
                "--shifts",
                "3:1",
                "--method",
                "gradient",
            ],
            "--shifts 3:1",
        ),
        (
            vec![
                "--metric",
                "local-lipschitz",
                "--noise-std",
                "0",
                "--method",
                "gradient",
            ],
            "σ must be positive",
        ),
        (
            vec![
                "--metric",
                "avg-sensitivity",
                "--nr-samples",
                "0",
                "--method",
                "gradient",
            ],
            "at least one",
        ),
    ] {
        let mut args = vec!["evaluate", "--model", model, "--out", d];
        args.extend(extra);
        args.push(&x);
        let (ok, _, stderr) = glimpse(&args);
        assert!(!ok && stderr.contains(needle), "{args:?}: {stderr}");
    }
}

#[test]
fn selectivity_recompute_re_explains_and_needs_a_method() {
    let dir = out_dir("recompute");
    let d = dir.to_str().unwrap();
    let x = format!("{Q}/lenet_mnist_x.npy");
    let model = "assets/models/lenet_mnist.onnx";
    let args = [
        "evaluate",
        "--model",
        model,
        "--metric",
        "selectivity",
        "--recompute",
        "--patch-size",
        "4",
        "--regions",
        "20",
        "--method",
        "lrp:epsilon-plus-flat",
        "--out",
        d,
        &x,
    ];
    let (ok, _, stderr) = glimpse(&args);
    assert!(ok, "{stderr}");
    let curves = read_f32(dir.join("curves.npy")).unwrap();
    assert_eq!(curves.shape, vec![16, 21]);
    assert!(curves.data.iter().all(|p| (0.0..=1.0).contains(p)));
    let summary = std::fs::read_to_string(dir.join("summary.json")).unwrap();
    assert!(summary.contains("\"recompute\": true"), "{summary}");
    let maps = format!("{Q}/lenet_mnist_gxi.npy");
    let bad = [
        "evaluate",
        "--model",
        model,
        "--metric",
        "selectivity",
        "--recompute",
        "--maps",
        &maps,
        "--out",
        d,
        "--overwrite",
        &x,
    ];
    let (ok, _, stderr) = glimpse(&bad);
    assert!(!ok && stderr.contains("give --method"), "{stderr}");
}

#[test]
fn correlations_and_road_write_their_arrays() {
    let x = format!("{Q}/lenet_mnist_x.npy");
    let maps = format!("{Q}/lenet_mnist_gxi.npy");
    let model = "assets/models/lenet_mnist.onnx";
    for (metric, extra, kind, shape) in [
        (
            "faithfulness-correlation",
            vec!["--nr-runs", "8", "--subset-size", "50"],
            "pairs",
            vec![16, 8, 2],
        ),
        (
            "monotonicity-correlation",
            vec!["--nr-samples", "2", "--features-in-step", "98"],
            "pairs",
            vec![16, 8, 2],
        ),
        (
            "road",
            vec!["--percentages", "10:90:40"],
            "curves",
            vec![16, 3],
        ),
    ] {
        let dir = out_dir(metric);
        let d = dir.to_str().unwrap();
        let mut args = vec![
            "evaluate", "--model", model, "--metric", metric, "--maps", &maps, "--out", d,
        ];
        args.extend(extra);
        args.push(&x);
        let (ok, _, stderr) = glimpse(&args);
        assert!(ok, "{metric}: {stderr}");
        assert_eq!(
            read_f32(dir.join(format!("{kind}.npy"))).unwrap().shape,
            shape,
            "{metric}"
        );
        let scores = read_f32(dir.join("scores.npy")).unwrap();
        assert_eq!(scores.shape, vec![16]);
        assert!(
            scores.data.iter().all(|v| (-1.0..=1.0).contains(v)),
            "{metric}: {:?}",
            scores.data
        );
        if metric == "road" {
            assert!(dir.join("road.png").exists());
        }
    }
    let dir = out_dir("road-bad");
    let d = dir.to_str().unwrap();
    for (extra, needle) in [
        (
            vec!["--metric", "road", "--percentages", "50,100"],
            "[0, 100)",
        ),
        (
            vec!["--metric", "road", "--order", "random"],
            "morf or lerf",
        ),
        (
            vec![
                "--metric",
                "faithfulness-correlation",
                "--subset-size",
                "5000",
            ],
            "faithfulness-correlation needs",
        ),
        (
            vec!["--metric", "monotonicity-correlation", "--baseline", "blur"],
            "take black, white",
        ),
    ] {
        let mut args = vec!["evaluate", "--model", model, "--maps", &maps, "--out", d];
        args.extend(extra);
        args.push(&x);
        let (ok, _, stderr) = glimpse(&args);
        assert!(!ok && stderr.contains(needle), "{args:?}: {stderr}");
    }
}
