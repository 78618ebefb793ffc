//! The command line as a user runs it: predict reproduces the fixtures' accuracy; explain writes
//! heatmaps, .npy and a summary; bad input is one clear message and a non-zero exit.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

pub fn glimpse(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_glimpse"))
        .env("GLIMPSE_TUNE", "off")
        .args(args)
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
        .output()
        .expect("glimpse runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The repository root.
pub fn root() -> std::path::PathBuf {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/..")).to_path_buf()
}

/// A fresh folder name in the temp dir for test `tag`'s case `name` (removed if it exists).
pub fn temp(tag: &str, name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("glimpse-{tag}-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// `glimpse explain --model LeNet --out OUT EXTRA… INPUTS…` (inputs relative to the root):
/// whether it succeeded, and its stderr.
pub fn explain_lenet(out: &Path, extra: &[&str], inputs: &[&str]) -> (bool, String) {
    let model = root().join("assets/models/lenet_mnist.onnx");
    let inputs: Vec<String> = inputs
        .iter()
        .map(|i| root().join(i).display().to_string())
        .collect();
    let mut args = vec![
        "explain",
        "--model",
        model.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    args.extend(inputs.iter().map(String::as_str));
    let (ok, _, stderr) = glimpse(&args);
    (ok, stderr)
}

/// Every file below `dir` (relative path → bytes).
pub fn files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    fn walk(base: &Path, dir: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(base, &p, out);
            } else {
                let rel = p.strip_prefix(base).unwrap().display().to_string();
                out.insert(rel, std::fs::read(&p).unwrap());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

/// The accuracy in assets/reference/accuracy.json, computed from onnxruntime's logits.
fn reference_accuracy(model: &str) -> f64 {
    let text = std::fs::read_to_string(
        Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
            .join("assets/reference/accuracy.json"),
    )
    .unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    v[model]["shipped_512"].as_f64().unwrap()
}

#[test]
fn predict_reproduces_the_fixture_accuracy() {
    for (model, data) in [("lenet_mnist", "mnist"), ("resnet_fashion", "fashion")] {
        let (ok, stdout, stderr) = glimpse(&[
            "predict",
            "--model",
            &format!("assets/models/{model}.onnx"),
            "--labels",
            &format!("assets/data/{data}_test_y.npy"),
            &format!("assets/data/{data}_test_x.npy"),
        ]);
        assert!(ok, "{stderr}");
        let line = stdout.lines().last().unwrap();
        // "accuracy: 0.9883 (506/512)"
        let counts = line.rsplit_once('(').unwrap().1.trim_end_matches(')');
        let (right, total) = counts.split_once('/').unwrap();
        let acc = right.parse::<f64>().unwrap() / total.parse::<f64>().unwrap();
        assert!(
            (acc - reference_accuracy(model)).abs() < 1e-9,
            "{model}: {line}"
        );
    }
}

/// The shipped ImageNet model names what the photographs show (ImageNet has no astronaut class).
#[test]
fn predict_names_the_photographs_with_the_imagenet_classes() {
    let (ok, stdout, stderr) = glimpse(&[
        "predict",
        "--model",
        "assets/models/efficientnet_lite0.onnx",
        "--classes",
        "assets/models/imagenet_classes.txt",
        "--range=-0.9921875,1",
        "--top",
        "1",
        "assets/images/chelsea_224.png",
        "assets/images/coffee_224.png",
        "assets/images/rocket_224.png",
    ]);
    assert!(ok, "{stderr}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert!(
        lines[0].starts_with("chelsea_224.png: 285 Egyptian cat ("),
        "{stdout}"
    );
    assert!(
        lines[1].starts_with("coffee_224.png: 967 espresso ("),
        "{stdout}"
    );
    assert!(
        lines[2].starts_with("rocket_224.png: 657 missile ("),
        "{stdout}"
    );
}

#[test]
fn predict_json_gives_raw_outputs_and_top_k() {
    let (ok, stdout, stderr) = glimpse(&[
        "predict",
        "--json",
        "--top",
        "2",
        "--model",
        "assets/models/lenet_mnist.onnx",
        "assets/images/mnist_0_label3.png",
    ]);
    assert!(ok, "{stderr}");
    let v: serde_json::Value = serde_json::from_str(stdout.lines().next().unwrap()).unwrap();
    assert_eq!(v["output"].as_array().unwrap().len(), 10);
    assert_eq!(v["top"].as_array().unwrap().len(), 2);
    assert_eq!(v["top"][0]["class"], 3);
}

#[test]
fn explain_writes_heatmaps_npy_and_summary() {
    let dir = std::env::temp_dir().join(format!("glimpse-cli-{}", std::process::id()));
    let out = dir.to_string_lossy().into_owned();
    let (ok, _, stderr) = glimpse(&[
        "explain",
        "--model",
        "assets/models/lenet_mnist.onnx",
        "--composite",
        "epsilon-plus-flat",
        "--conservation",
        "--out",
        &out,
        "assets/images/mnist_0_label3.png",
        "assets/images/mnist_1_label8.png",
    ]);
    assert!(ok, "{stderr}");
    for f in [
        "mnist_0_label3.png.png",
        "mnist_0_label3.png_overlay.png",
        "mnist_0_label3.png_mask.png",
        "mnist_0_label3.png.npy",
        "summary.jsonl",
    ] {
        assert!(dir.join(f).exists(), "{f} missing");
    }
    let r = glimpse::io::npy::read_f32(dir.join("mnist_0_label3.png.npy")).unwrap();
    assert_eq!(r.shape, vec![1, 28, 28]);
    let summary = std::fs::read_to_string(dir.join("summary.jsonl")).unwrap();
    let first: serde_json::Value = serde_json::from_str(summary.lines().next().unwrap()).unwrap();
    assert_eq!(first["class"], 3);
    let sum = first["relevance_sum"].as_f64().unwrap();
    assert!((sum - r.data.iter().map(|&v| v as f64).sum::<f64>()).abs() < 1e-3);
    std::fs::remove_dir_all(&dir).ok();
}

/// A target the model does not have fails before the output folder is made.
#[test]
fn a_bad_target_writes_nothing() {
    let dir = std::env::temp_dir().join(format!("glimpse-bad-target-{}", std::process::id()));
    let out = dir.to_string_lossy().into_owned();
    for method in ["lrp", "gradient"] {
        let (ok, _, stderr) = glimpse(&[
            "explain",
            "--model",
            "assets/models/lenet_mnist.onnx",
            "--method",
            method,
            "--target",
            "12",
            "--out",
            &out,
            "assets/images/mnist_0_label3.png",
        ]);
        assert!(!ok && stderr.contains("class 12"), "{method}: {stderr}");
        assert!(!dir.exists(), "{method}: {out} was made before the error");
    }
}

#[test]
fn bad_input_is_one_clear_message() {
    let cases: &[(&[&str], &str)] = &[
        (&["predict", "--model", "nope.onnx", "x.png"], "nope.onnx"),
        (
            &[
                "predict",
                "--model",
                "assets/models/lenet_mnist.onnx",
                "--classes",
                "assets/models/imagenet_classes.txt",
                "assets/images/mnist_0_label3.png",
            ],
            "names 1000 classes but the model has 10 outputs",
        ),
        (
            &[
                "predict",
                "--model",
                "assets/models/lenet_mnist.onnx",
                "missing.png",
            ],
            "missing.png",
        ),
        (
            &[
                "predict",
                "--model",
                "assets/images/ATTRIBUTION.md",
                "assets/images/mnist_0_label3.png",
            ],
            "ONNX",
        ),
        (
            &[
                "predict",
                "--model",
                "assets/models/lenet_mnist.onnx",
                "assets/data/fashion_test_y.npy",
            ],
            "shape",
        ),
        (
            &[
                "explain",
                "--model",
                "assets/models/lenet_mnist.onnx",
                "--composite",
                "nope",
                "assets/images/mnist_0_label3.png",
            ],
            "epsilon-plus-flat",
        ),
        (
            &[
                "explain",
                "--model",
                "assets/models/lenet_mnist.onnx",
                "--rule",
                "alphabeta:3,1",
                "assets/images/mnist_0_label3.png",
            ],
            "alpha - beta = 1",
        ),
        (
            &[
                "explain",
                "--model",
                "assets/models/lenet_mnist.onnx",
                "--target",
                "12",
                "assets/images/mnist_0_label3.png",
            ],
            "class 12",
        ),
        (
            &[
                "explain",
                "--model",
                "assets/models/lenet_mnist.onnx",
                "--cmap",
                "rainbow",
                "assets/images/mnist_0_label3.png",
            ],
            "coldnhot",
        ),
    ];
    for (args, needle) in cases {
        let (ok, _, stderr) = glimpse(args);
        assert!(!ok, "{args:?} should fail");
        assert!(
            stderr.starts_with("glimpse: ") && stderr.contains(needle),
            "{args:?}: {stderr}"
        );
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    }
}

#[test]
fn info_names_the_adapter_and_the_cpu() {
    let (ok, out, err) = glimpse(&["info"]);
    assert!(ok, "{err}");
    let line = |key: &str| {
        out.lines()
            .find_map(|l| l.strip_prefix(key))
            .unwrap_or_else(|| panic!("no '{key}' line in {out}"))
            .to_string()
    };
    assert!(!line("adapter: ").is_empty());
    let cpu = line("cpu: ");
    assert!(
        cpu.ends_with("threads)") && cpu.len() > "(1 threads)".len(),
        "{cpu}"
    );
}

#[test]
fn bench_first_reports_each_models_first_explanation() {
    let (ok, out, err) = glimpse(&[
        "bench",
        "--first",
        "--models",
        "lenet,resnet",
        "--reps",
        "1",
    ]);
    assert!(ok, "{err}");
    assert!(out.starts_with("device opened in "), "{out}");
    for model in ["lenet", "resnet"] {
        let row = out
            .lines()
            .find(|l| l.starts_with(&format!("| {model} |")))
            .unwrap_or_else(|| panic!("no {model} row: {out}"));
        let ms: Vec<f64> = row
            .split('|')
            .filter_map(|c| c.trim().parse().ok())
            .collect();
        assert_eq!(ms.len(), 5, "{row}");
        let sum = ms[0] + ms[1] + ms[2];
        assert!((ms[3] - sum).abs() < 0.15, "load + plan + first run: {row}");
    }
}
