//! `glimpse explain` as a batch run: folders read recursively under relative names, nothing
//! overwritten unasked, corrupt inputs recorded while the run goes on, runs resumed after a
//! kill to byte-identical outputs, shards that split the sorted list.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::commands::{files, glimpse};

const LENET: &str = "assets/models/lenet_mnist.onnx";

fn root() -> PathBuf {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/..")).to_path_buf()
}

fn temp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("glimpse-run-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A tree of digits: two folders that both hold x.png, one also x.jpg, a deeper file, a
/// truncated JPEG and a .npy holding NaN.
fn digit_tree(name: &str) -> PathBuf {
    let dir = temp(name).join("digits");
    let png = root().join("assets/images/mnist_0_label3.png");
    for (to, from) in [
        ("a/x.png", "mnist_0_label3.png"),
        ("b/x.png", "mnist_1_label8.png"),
        ("a/deeper/y.png", "mnist_2_label1.png"),
    ] {
        std::fs::create_dir_all(dir.join(to).parent().unwrap()).unwrap();
        std::fs::copy(root().join("assets/images").join(from), dir.join(to)).unwrap();
    }
    let img = image::open(&png).unwrap();
    img.save(dir.join("a/x.jpg")).unwrap();
    let jpeg = std::fs::read(dir.join("a/x.jpg")).unwrap();
    std::fs::write(dir.join("b/broken.jpg"), &jpeg[..jpeg.len() / 3]).unwrap();
    let mut nan = glimpse::Tensor::new(vec![1, 28, 28], vec![0.5; 784]).unwrap();
    nan.data[100] = f32::NAN;
    glimpse::io::npy::write_f32(dir.join("b/nan.npy"), &nan).unwrap();
    dir
}

fn explain(out: &Path, extra: &[&str], inputs: &[&Path]) -> (bool, String, String) {
    let out = out.display().to_string();
    let inputs: Vec<String> = inputs.iter().map(|p| p.display().to_string()).collect();
    let mut args = vec!["explain", "--model", LENET, "--batch", "2", "--out", &out];
    args.extend_from_slice(extra);
    args.extend(inputs.iter().map(String::as_str));
    glimpse(&args)
}

fn lines(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn inputs_of(path: &Path) -> Vec<String> {
    lines(path)
        .iter()
        .map(|v| v["input"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn a_folder_tree_runs_records_bad_inputs_and_refuses_to_overwrite() {
    let tree = digit_tree("tree");
    let out = tree.parent().unwrap().join("out");
    let (ok, _, stderr) = explain(&out, &[], &[&tree]);
    assert!(!ok, "two inputs fail, so the exit code says so");
    assert!(
        stderr.contains("2 of 6 inputs") && stderr.contains("errors.jsonl"),
        "{stderr}"
    );
    assert_eq!(
        inputs_of(&out.join("summary.jsonl")),
        ["a/deeper/y.png", "a/x.jpg", "a/x.png", "b/x.png"]
    );
    let errors = lines(&out.join("errors.jsonl"));
    let failed: Vec<&str> = errors
        .iter()
        .map(|e| e["input"].as_str().unwrap())
        .collect();
    assert_eq!(failed, ["b/broken.jpg", "b/nan.npy"]);
    assert!(
        errors[1]["error"].as_str().unwrap().contains("non-finite"),
        "{}",
        errors[1]
    );
    for f in [
        "a/x.png.npy",
        "a/x.jpg.npy",
        "b/x.png.png",
        "a/deeper/y.png_overlay.png",
    ] {
        assert!(out.join(f).exists(), "{f}");
    }
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["command"], "explain");
    assert_eq!(manifest["options"]["composite"], "epsilon-plus-flat");
    assert_eq!(manifest["model"]["sha256"].as_str().unwrap().len(), 64);

    let (ok, _, stderr) = explain(&out, &[], &[&tree]);
    assert!(
        !ok && stderr.contains("--resume") && stderr.contains("--overwrite"),
        "{stderr}"
    );
    let (ok, _, stderr) = explain(
        &out,
        &["--resume", "--composite", "epsilon-gamma-box"],
        &[&tree],
    );
    assert!(!ok && stderr.contains("options.composite"), "{stderr}");
    // Resumed: the four done are skipped, the two bad ones tried again and recorded again.
    let before = std::fs::metadata(out.join("a/x.png.npy"))
        .unwrap()
        .modified()
        .unwrap();
    let (ok, stdout, stderr) = explain(&out, &["--resume"], &[&tree]);
    assert!(
        !ok && stdout.contains("4 of 6 inputs done, 2 to go"),
        "{stdout}{stderr}"
    );
    assert_eq!(lines(&out.join("errors.jsonl")).len(), 2);
    assert_eq!(lines(&out.join("summary.jsonl")).len(), 4);
    let after = std::fs::metadata(out.join("a/x.png.npy"))
        .unwrap()
        .modified()
        .unwrap();
    assert_eq!(before, after, "a finished input is not redone");

    let out2 = tree.parent().unwrap().join("fail-fast");
    let (ok, _, stderr) = explain(&out2, &["--fail-fast"], &[&tree]);
    assert!(!ok && stderr.contains("b/broken.jpg"), "{stderr}");
    assert!(
        !out2.join("b/x.png.npy").exists(),
        "nothing after the bad input"
    );
}

#[test]
fn inputs_that_would_share_outputs_fail_before_any_work() {
    let tree = digit_tree("collide");
    let out = tree.parent().unwrap().join("out");
    let (ok, _, stderr) = explain(&out, &[], &[&tree.join("a"), &tree.join("b")]);
    assert!(
        !ok && stderr.contains("x.png") && stderr.contains("both write"),
        "{stderr}"
    );
    assert!(!out.exists(), "the output folder was made before the error");
}

#[test]
fn shards_split_the_sorted_list_by_flag_or_slurm_environment() {
    let tree = digit_tree("shards");
    std::fs::remove_file(tree.join("b/broken.jpg")).unwrap();
    std::fs::remove_file(tree.join("b/nan.npy")).unwrap();
    let out = tree.parent().unwrap().join("out");
    let (ok, _, stderr) = explain(&out, &["--shard", "1/3"], &[&tree]);
    assert!(ok, "{stderr}");
    assert_eq!(
        inputs_of(&out.join("shard-0001-of-0003/summary.jsonl")),
        ["a/x.jpg"]
    );
    let out_str = out.display().to_string();
    let tree_str = tree.display().to_string();
    let status = Command::new(env!("CARGO_BIN_EXE_glimpse"))
        .env("GLIMPSE_TUNE", "off")
        .args(["explain", "--model", LENET, "--out", &out_str, &tree_str])
        .current_dir(root())
        .env("SLURM_ARRAY_TASK_ID", "2")
        .env("SLURM_ARRAY_TASK_COUNT", "3")
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    assert_eq!(
        inputs_of(&out.join("shard-0002-of-0003/summary.jsonl")),
        ["a/x.png"]
    );
}

/// Kills a run of 512 digits at random points (at least 20 times), resumes it each time, and
/// compares every output file with an uninterrupted run's, byte for byte.
#[test]
fn a_run_killed_twenty_times_ends_byte_identical() {
    let dir = temp("kill");
    let digits = root().join("assets/data/mnist_test_x.npy");
    let whole = dir.join("whole");
    let (ok, _, stderr) = explain(&whole, &[], &[&digits]);
    assert!(ok, "{stderr}");
    let killed = dir.join("killed");
    let mut seed = 7u64;
    let (mut kills, mut runs) = (0, 0);
    loop {
        runs += 1;
        assert!(runs < 200, "no progress after {runs} runs");
        let done_before = lines(&killed.join("summary.jsonl")).len();
        let mut args = vec!["explain", "--model", LENET, "--batch", "2"];
        if runs > 1 {
            args.push("--resume");
        }
        let (o, d) = (killed.display().to_string(), digits.display().to_string());
        args.extend_from_slice(&["--out", &o, &d]);
        let mut child = Command::new(env!("CARGO_BIN_EXE_glimpse"))
            .env("GLIMPSE_TUNE", "off")
            .args(&args)
            .current_dir(root())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        if kills >= 20 {
            // The kills must have been spread over the run, not all at its start.
            assert!(
                done_before >= 128,
                "only {done_before} of 512 done before the last run"
            );
            assert!(child.wait().unwrap().success());
            break;
        }
        // Kill after a random number (1 to 16) of inputs finished in this run: random points
        // spread over the run, whatever the machine's speed.
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let target = done_before + 1 + ((seed >> 33) % 16) as usize;
        let start = Instant::now();
        let finished = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break Some(status);
            }
            if lines_raw(&killed.join("summary.jsonl")) >= target
                || start.elapsed() > Duration::from_secs(60)
            {
                break None;
            }
            std::thread::sleep(Duration::from_millis(1));
        };
        if finished.is_some() {
            break;
        }
        if child.try_wait().unwrap().is_none() {
            child.kill().unwrap();
            kills += 1;
        }
        child.wait().unwrap();
    }
    assert!(kills >= 20, "only {kills} kills landed");
    let (a, b) = (files(&whole), files(&killed));
    assert_eq!(
        a.keys().collect::<Vec<_>>(),
        b.keys().collect::<Vec<_>>(),
        "the same files"
    );
    for (name, bytes) in &a {
        assert!(b[name] == *bytes, "{name} differs after {kills} kills");
    }
    assert_eq!(inputs_of(&killed.join("summary.jsonl")).len(), 512);
}

/// Complete lines in a summary being written (a partial last line is not counted).
fn lines_raw(path: &Path) -> usize {
    std::fs::read(path).map_or(0, |b| b.iter().filter(|&&c| c == b'\n').count())
}

#[test]
fn bench_pipeline_times_a_photo_folder_end_to_end_against_the_bare_plan() {
    let dir = temp("bench-pipeline");
    let photos = dir.join("photos");
    let (ok, stdout, stderr) = glimpse(&[
        "bench",
        "--pipeline",
        "--pipeline-inputs",
        "24",
        "--pipeline-dir",
        &photos.display().to_string(),
        "--pipeline-explain",
        "--model assets/models/lenet_mnist.onnx --batch 8",
    ]);
    assert!(ok, "{stderr}");
    // 24 JPEGs of 24 different sizes in ten sub-folders, all listed and explained.
    let mut sizes = std::collections::BTreeSet::new();
    for sub in std::fs::read_dir(&photos).unwrap() {
        let sub = sub.unwrap().path();
        if sub.is_dir() {
            for f in std::fs::read_dir(&sub).unwrap() {
                let img = image::open(f.unwrap().path()).unwrap();
                sizes.insert((img.width(), img.height()));
            }
        }
    }
    assert_eq!(sizes.len(), 24, "{sizes:?}");
    let row = stdout
        .lines()
        .find(|l| l.contains("lenet_mnist.onnx"))
        .unwrap_or_else(|| panic!("no row in {stdout}"));
    let cells: Vec<&str> = row.split('|').map(str::trim).collect();
    assert_eq!(&cells[2..5], ["lrp", "24", "8"], "{row}");
    let ratio: f64 = cells[7].parse().unwrap();
    assert!(ratio > 0.0 && ratio < 2.0, "{row}");
    std::fs::remove_dir_all(&dir).unwrap();
}
