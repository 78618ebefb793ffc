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

#[test]
fn interpret_fourier_copies_and_diversity() {
    let dir = std::env::temp_dir().join(format!("glimpse-lucid-{}", std::process::id()));
    let out = dir.to_string_lossy().into_owned();
    let args = [
        "interpret",
        "--model",
        "assets/models/resnet_zoo.onnx",
        "--range=-1,1",
        "--target",
        "class:1",
        "--copies",
        "2",
        "--fourier",
        "--diversity",
        "2",
        "--diversity-node",
        "/layer2/layer2.1/relu_1/Relu",
        "--jitter",
        "2",
        "--steps",
        "10",
        "--every",
        "5",
        "--out",
        &out,
    ];
    let (ok, stdout, stderr) = glimpse(&args);
    assert!(ok, "{stderr}");
    for f in ["class1_0.png", "class1_1.npy", "grid.png", "curves.jsonl"] {
        assert!(dir.join(f).exists(), "{f} missing; stdout: {stdout}");
    }
    let x = glimpse::io::npy::read_f32(dir.join("class1_1.npy")).unwrap();
    assert_eq!(x.shape, vec![3, 64, 64]);
    // The sigmoid keeps the spectrum's image strictly inside the range.
    assert!(x.data.iter().all(|v| v.abs() < 1.0), "inside --range");
    let curves = std::fs::read_to_string(dir.join("curves.jsonl")).unwrap();
    let lines: Vec<serde_json::Value> = curves
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2 * 3, "steps 0, 5, 10 for two copies");
    let copy1: Vec<&serde_json::Value> = lines.iter().filter(|l| l["copy"] == 1).collect();
    assert_eq!(copy1.len(), 3);
    // Two copies of one target: each one's term is its Gram cosine to the other, halved.
    let d = copy1[2]["diversity"].as_f64().unwrap();
    assert!(d > 0.0 && d <= 0.5, "diversity term {d}");
    std::fs::remove_dir_all(&dir).ok();
    let run = |extra: &[&str]| {
        let mut a = vec![
            "interpret",
            "--model",
            "assets/models/resnet_zoo.onnx",
            "--target",
            "class:1",
            "--out",
            "/nonexistent/never-written",
        ];
        a.extend(extra);
        let (ok, _, stderr) = glimpse(&a);
        assert!(!ok, "{extra:?} was accepted");
        stderr
    };
    assert!(run(&["--diversity", "1"]).contains("--diversity-node"));
    assert!(run(&["--copies", "0"]).contains("--copies"));
    let e = run(&["--fourier", "--blur-every", "2"]);
    assert!(e.contains("does not combine"), "{e}");
    // Flags that would be ignored are refused.
    assert!(run(&["--diversity-node", "/fc/Gemm"]).contains("needs --diversity"));
    assert!(run(&["--decay", "2"]).contains("pass --fourier"));
    let node = "/layer2/layer2.1/relu_1/Relu";
    assert!(run(&["--diversity", "1", "--diversity-node", node]).contains("--copies 2"));
    assert!(run(&["--copies", "2", "--init", "zeros"]).contains("equal copies"));
    assert!(run(&["--target", "class:1"]).contains("given twice"));
}
