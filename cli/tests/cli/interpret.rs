//! `glimpse interpret` as a user runs it: prototypes, grid and curves written; classes reached;
//! an existing output never overwritten; bad targets named.

use crate::commands::glimpse;

#[test]
fn interpret_writes_prototypes_grid_and_curves() {
    let dir = std::env::temp_dir().join(format!("glimpse-interpret-{}", std::process::id()));
    let out = dir.to_string_lossy().into_owned();
    let args = [
        "interpret",
        "--model",
        "assets/models/lenet_mnist.onnx",
        "--target",
        "class:3",
        "--target",
        "class:7",
        "--target",
        "channel:/relu2/Relu:5",
        "--target",
        "neuron:/fc2/Gemm:4",
        "--steps",
        "60",
        "--every",
        "20",
        "--out",
        &out,
    ];
    let (ok, stdout, stderr) = glimpse(&args);
    assert!(ok, "{stderr}");
    for f in [
        "class3.png",
        "class3.npy",
        "class7.png",
        "channel-relu2_Relu-5.png",
        "neuron-fc2_Gemm-4.npy",
        "grid.png",
        "curves.jsonl",
    ] {
        assert!(dir.join(f).exists(), "{f} missing; stdout: {stdout}");
    }
    let x = glimpse::io::npy::read_f32(dir.join("class3.npy")).unwrap();
    assert_eq!(x.shape, vec![1, 28, 28]);
    assert!(
        x.data.iter().all(|v| (0.0..=1.0).contains(v)),
        "clamped to --range"
    );
    let curves = std::fs::read_to_string(dir.join("curves.jsonl")).unwrap();
    let lines: Vec<serde_json::Value> = curves
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    // Steps 0, 20, 40 and the final 60, per target.
    assert_eq!(lines.len(), 4 * 4);
    let class3: Vec<&serde_json::Value> =
        lines.iter().filter(|l| l["target"] == "class:3").collect();
    assert_eq!(class3[3]["step"], 60);
    let p = class3[3]["probability"].as_f64().unwrap();
    assert!(p > 0.9, "class 3 reached p = {p}");
    assert!(class3[3]["objective"].as_f64() > class3[0]["objective"].as_f64());
    // A second run into the same folder refuses rather than overwrite.
    let (ok, _, stderr) = glimpse(&args);
    assert!(
        !ok && stderr.contains("exists") && stderr.contains("--overwrite"),
        "{stderr}"
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn interpret_names_bad_targets() {
    let run = |target: &str| {
        let (ok, _, stderr) = glimpse(&[
            "interpret",
            "--model",
            "assets/models/lenet_mnist.onnx",
            "--target",
            target,
            "--out",
            "/nonexistent/never-written",
        ]);
        assert!(!ok, "{target} was accepted");
        stderr
    };
    assert!(run("class:10").contains("10 outputs"));
    let e = run("channel:/nope:1");
    assert!(e.contains("/nope") && e.contains("/conv1/Conv"), "{e}");
    assert!(run("pixel:3").contains("class:K"));
}
