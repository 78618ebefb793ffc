//! `glimpse merge`: four shards of a run joined into the bytes of a one-process run; missing,
//! repeated, foreign and unfinished shards refused with the problem named; and a real Slurm
//! job array on this machine (scripts/slurm_test.sh).

use std::path::{Path, PathBuf};
use std::process::Command;

use super::commands::{files, glimpse};

const LENET: &str = "assets/models/lenet_mnist.onnx";

fn root() -> PathBuf {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/..")).to_path_buf()
}

fn temp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("glimpse-merge-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Digits in sub-folders, a .npy of three (listed as `three.npy[k]`) and a truncated JPEG
/// (an input that fails): 11 inputs, so that the four shards differ in size.
fn digit_tree(dir: &Path) -> PathBuf {
    let tree = dir.join("digits");
    let images = root().join("assets/images");
    for (k, to) in [
        "a/0.png",
        "a/1.png",
        "a/2.png",
        "b/c/3.png",
        "b/c/4.png",
        "b/5.png",
    ]
    .iter()
    .enumerate()
    {
        let from = std::fs::read_dir(&images)
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| p.to_string_lossy().contains(&format!("mnist_{k}_label")))
            .unwrap();
        std::fs::create_dir_all(tree.join(to).parent().unwrap()).unwrap();
        std::fs::copy(from, tree.join(to)).unwrap();
    }
    let all = glimpse::io::npy::read_f32(root().join("assets/data/mnist_test_x.npy")).unwrap();
    let three = glimpse::Tensor::new(vec![3, 1, 28, 28], all.data[..3 * 784].to_vec()).unwrap();
    glimpse::io::npy::write_f32(tree.join("b/three.npy"), &three).unwrap();
    let img = image::open(images.join("mnist_0_label3.png")).unwrap();
    img.save(tree.join("b/whole.jpg")).unwrap();
    let jpeg = std::fs::read(tree.join("b/whole.jpg")).unwrap();
    std::fs::write(tree.join("b/broken.jpg"), &jpeg[..jpeg.len() / 3]).unwrap();
    tree
}

fn explain(out: &Path, extra: &[&str], tree: &Path) -> (bool, String, String) {
    let (out, tree) = (out.display().to_string(), tree.display().to_string());
    let mut args = vec!["explain", "--model", LENET, "--batch", "4", "--out", &out];
    args.extend_from_slice(extra);
    args.push(&tree);
    glimpse(&args)
}

fn merge(out: &Path, shards: &[PathBuf]) -> (bool, String, String) {
    let out = out.display().to_string();
    let shards: Vec<String> = shards.iter().map(|p| p.display().to_string()).collect();
    let mut args = vec!["merge", "--out", &out];
    args.extend(shards.iter().map(String::as_str));
    glimpse(&args)
}

/// Runs shards 0..4 of the tree into `out`; returns their folders.
fn shards(out: &Path, extra: &[&str], tree: &Path) -> Vec<PathBuf> {
    (0..4)
        .map(|i| {
            let shard = format!("{i}/4");
            let mut args = vec!["--shard", &shard];
            args.extend_from_slice(extra);
            let (_, _, stderr) = explain(out, &args, tree);
            let dir = out.join(format!("shard-{i:04}-of-0004"));
            assert!(dir.join("summary.jsonl").exists(), "{stderr}");
            dir
        })
        .collect()
}

fn copy_dir(from: &Path, to: &Path) {
    for (rel, bytes) in files(from) {
        std::fs::create_dir_all(to.join(&rel).parent().unwrap()).unwrap();
        std::fs::write(to.join(rel), bytes).unwrap();
    }
}

fn assert_same_files(a: &Path, b: &Path) {
    let (a, b) = (files(a), files(b));
    assert_eq!(a.keys().collect::<Vec<_>>(), b.keys().collect::<Vec<_>>());
    for (name, bytes) in &a {
        assert!(b[name] == *bytes, "{name} differs");
    }
}

#[test]
fn four_shards_merge_into_the_bytes_of_a_one_process_run() {
    let dir = temp("same");
    let tree = digit_tree(&dir);
    let one = dir.join("one");
    let (ok, _, stderr) = explain(&one, &[], &tree);
    assert!(!ok && stderr.contains("1 of 11 inputs"), "{stderr}");
    let parts = shards(&dir.join("out"), &[], &tree);
    let merged = dir.join("merged");
    let (ok, stdout, stderr) = merge(&merged, &parts);
    assert!(
        !ok && stdout.contains("10 of 11 inputs done") && stderr.contains("1 of 11 inputs failed"),
        "{stdout}{stderr}"
    );
    assert_same_files(&one, &merged);
    let summary = std::fs::read_to_string(merged.join("summary.jsonl")).unwrap();
    assert!(summary.contains("\"b/three.npy[2]\""), "{summary}");
    assert!(merged.join("b/three.npy_2_overlay.png").exists());
    assert!(merged.join("b/c/3.png_mask.png").exists());

    // Again, into the same folder and from the folder of shards: nothing changes.
    let (_, stdout, stderr) = merge(&merged, &[dir.join("out")]);
    assert!(stdout.contains("0 output files"), "{stdout}{stderr}");
    assert_same_files(&one, &merged);
    // A file in --out that differs is not overwritten (removed first: it is a hard link to
    // the shard's file, which writing through it would change too).
    std::fs::remove_file(merged.join("a/1.png.npy")).unwrap();
    std::fs::write(merged.join("a/1.png.npy"), b"other").unwrap();
    let (ok, _, stderr) = merge(&merged, &parts);
    assert!(
        !ok && stderr.contains("a/1.png.npy exists and differs"),
        "{stderr}"
    );
    assert_eq!(std::fs::read(merged.join("a/1.png.npy")).unwrap(), b"other");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn merge_names_missing_repeated_foreign_and_unfinished_shards() {
    let dir = temp("refuse");
    let tree = digit_tree(&dir);
    std::fs::remove_file(tree.join("b/broken.jpg")).unwrap();
    let parts = shards(&dir.join("out"), &[], &tree);
    let refused = |shards: &[PathBuf], expect: &[&str]| {
        let out = dir.join("refused");
        let (ok, _, stderr) = merge(&out, shards);
        assert!(!ok, "merged: {shards:?}");
        for e in expect {
            assert!(stderr.contains(e), "expected '{e}' in: {stderr}");
        }
        assert!(!out.exists(), "--out was written before the error");
    };
    let [s0, s1, s2, s3] = [0, 1, 2, 3].map(|i| parts[i].clone());
    refused(
        &[s0.clone(), s1.clone(), s3.clone()],
        &["missing shard 2 of 4"],
    );
    refused(
        &[s0.clone(), s1.clone(), s1.clone(), s2.clone(), s3.clone()],
        &["shard 1 of 4 given twice"],
    );
    let other = shards(
        &dir.join("other"),
        &["--composite", "epsilon-gamma-box"],
        &tree,
    );
    refused(
        &[s0.clone(), s1.clone(), other[2].clone(), s3.clone()],
        &["differ at options.composite", "epsilon-gamma-box"],
    );
    let (ok, _, stderr) = explain(&dir.join("three"), &["--shard", "1/3"], &tree);
    assert!(ok, "{stderr}");
    refused(
        &[s0.clone(), dir.join("three/shard-0001-of-0003")],
        &["not of one split", "shard 1 of 3"],
    );

    // An unfinished shard: a summary line gone (as if its task had been killed).
    let cut = dir.join("cut/shard-0001-of-0004");
    copy_dir(&s1, &cut);
    let summary = std::fs::read_to_string(cut.join("summary.jsonl")).unwrap();
    let (first, rest) = summary.split_once('\n').unwrap();
    std::fs::write(cut.join("summary.jsonl"), rest).unwrap();
    let input = serde_json::from_str::<serde_json::Value>(first).unwrap()["input"]
        .as_str()
        .unwrap()
        .to_string();
    refused(
        &[s0.clone(), cut.clone(), s2.clone(), s3.clone()],
        &[
            &format!("input {input} never done"),
            "shard 1 of 4",
            "--resume",
        ],
    );
    // A shard whose run stopped at a failed batch (its stopped.json) says so.
    let stopped = dir.join("stopped/shard-0002-of-0004");
    copy_dir(&s2, &stopped);
    std::fs::write(
        stopped.join("stopped.json"),
        r#"{"error": "batch 0 (2 inputs, a to b) failed: the GPU ran out of memory"}"#,
    )
    .unwrap();
    refused(
        &[s0.clone(), s1.clone(), stopped, s3.clone()],
        &["stopped early", "ran out of memory", "--resume"],
    );
    // The same input twice in one summary, and a shard's input in another's summary.
    std::fs::write(cut.join("summary.jsonl"), format!("{summary}{first}\n")).unwrap();
    refused(
        &[s0.clone(), cut.clone(), s2.clone(), s3.clone()],
        &[&format!("names input {input} twice")],
    );
    let s0_line = std::fs::read_to_string(s0.join("summary.jsonl")).unwrap();
    let s0_line = s0_line.lines().next().unwrap();
    let s0_input = serde_json::from_str::<serde_json::Value>(s0_line).unwrap()["input"].clone();
    std::fs::write(cut.join("summary.jsonl"), format!("{summary}{s0_line}\n")).unwrap();
    refused(
        &[s0.clone(), cut, s2, s3],
        &[
            &format!(
                "input {} done 2 times, in shards 0 and 1",
                s0_input.as_str().unwrap()
            ),
            "out/shard-0000-of-0004/summary.jsonl",
            "cut/shard-0001-of-0004/summary.jsonl",
        ],
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A real Slurm cluster of one node: installs slurm-wlm and munge where missing, runs
/// `glimpse explain` as a four-task job array and compares the merge with one process.
#[test]
fn a_slurm_job_array_merges_into_the_one_process_run() {
    let out = Command::new("bash")
        .arg(root().join("scripts/slurm_test.sh"))
        .arg(env!("CARGO_BIN_EXE_glimpse"))
        .current_dir(root())
        .output()
        .expect("bash runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "scripts/slurm_test.sh failed:\n{text}"
    );
    assert!(text.contains("identical to one process"), "{text}");
}
