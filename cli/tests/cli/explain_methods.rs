//! `glimpse explain --method …` for the gradient and CAM methods: the files it writes, its
//! summary lines, and its errors.

use clap::Parser;
use glimpse_cli::explain::{run, ExplainArgs};

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    explain: ExplainArgs,
}

fn explain(out: &std::path::Path, extra: &[&str]) -> glimpse::Result<Vec<serde_json::Value>> {
    let root = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/.."));
    let model = root.join("assets/models/lenet_mnist.onnx");
    let image = root.join("assets/images/mnist_0_label3.png");
    let image2 = root.join("assets/images/mnist_1_label8.png");
    let mut argv = vec![
        "explain".to_string(),
        "--model".into(),
        model.display().to_string(),
        "--out".into(),
        out.display().to_string(),
    ];
    argv.extend(extra.iter().map(|s| s.to_string()));
    argv.push(image.display().to_string());
    argv.push(image2.display().to_string());
    let cli = Cli::try_parse_from(argv).expect("arguments parse");
    run(&cli.explain)?;
    let text = std::fs::read_to_string(out.join("summary.jsonl")).unwrap();
    Ok(text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect())
}

fn temp(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("glimpse-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

#[test]
fn every_method_writes_maps_and_a_summary() {
    let methods: &[(&str, &[&str])] = &[
        ("gradient", &[]),
        ("sensitivity", &[]),
        ("gradient-x-input", &[]),
        ("taylor", &["--baseline", "zero"]),
        ("deeplift", &[]),
        ("deconvnet", &[]),
        ("guided-backprop", &[]),
        (
            "integrated-gradients",
            &["--steps", "8", "--riemann", "trapezoid"],
        ),
        ("smoothgrad", &["--samples", "3", "--seed", "1"]),
        ("smoothgrad-squared", &["--samples", "3"]),
        ("vargrad", &["--samples", "3"]),
        ("grad-cam", &["--layer", "/conv2/Conv"]),
        ("grad-cam++", &["--layer", "4"]),
        (
            "occlusion",
            &["--window", "5x4", "--stride", "3x2", "--baseline", "0.5"],
        ),
        ("occlusion", &[]),
    ];
    for (method, extra) in methods {
        let out = temp(method);
        let mut args = vec!["--method", method];
        args.extend_from_slice(extra);
        let lines = explain(&out, &args).unwrap_or_else(|e| panic!("{method}: {e}"));
        assert_eq!(lines.len(), 2, "{method}");
        assert_eq!(lines[0]["method"], *method);
        assert_eq!(lines[0]["class"], 3, "{method}: {}", lines[0]);
        for f in [
            "mnist_0_label3.png.npy",
            "mnist_0_label3.png.png",
            "mnist_0_label3.png_overlay.png",
        ] {
            assert!(out.join(f).exists(), "{method}: {f}");
        }
        if method.contains("cam") {
            assert_eq!(lines[0]["layer"], "/conv2/Conv");
            let raw = glimpse::io::npy::read_f32(out.join("mnist_0_label3.png_raw.npy")).unwrap();
            assert_eq!(raw.shape, vec![1, 10, 10]);
        }
        if ["deeplift", "integrated-gradients", "taylor"].contains(method) {
            assert!(lines[0]["residual"].is_number(), "{method}: {}", lines[0]);
        }
        let _ = std::fs::remove_dir_all(&out);
    }
}

#[test]
fn bad_options_are_clear_errors() {
    let out = temp("errors");
    let cases: &[(&[&str], &str)] = &[
        (&["--method", "gradcam"], "valid methods"),
        (
            &["--method", "grad-cam", "--layer", "/nope"],
            "no layer named '/nope'",
        ),
        (
            &["--method", "grad-cam", "--layer", "/fc1/Gemm"],
            "not a convolutional feature map",
        ),
        (&["--method", "cam"], "global-average-pool"),
        (
            &["--method", "integrated-gradients", "--steps", "0"],
            "at least 1 step",
        ),
        (
            &["--method", "integrated-gradients", "--riemann", "simpson"],
            "Riemann",
        ),
        (
            &["--method", "deeplift", "--baseline", "/nonexistent.npy"],
            "nonexistent",
        ),
        (
            &["--method", "smoothgrad", "--samples", "0"],
            "at least 1 sample",
        ),
        (
            &["--method", "occlusion", "--window", "29"],
            "does not fit the input [1, 28, 28]",
        ),
        (
            &["--method", "occlusion", "--window", "4", "--stride", "5"],
            "never be occluded",
        ),
        (
            &["--method", "occlusion", "--window", "1,4"],
            "one size per input dimension [1, 28, 28]",
        ),
        (
            &["--method", "occlusion", "--baseline", "/nonexistent.npy"],
            "nonexistent",
        ),
    ];
    for (args, needle) in cases {
        let err = explain(&out, args).map(|_| ()).unwrap_err().to_string();
        assert!(err.contains(needle), "{args:?}: {err}");
    }
    let _ = std::fs::remove_dir_all(&out);
}
