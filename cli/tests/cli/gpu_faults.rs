//! A batch run whose GPU fails mid-run (GLIMPSE_FAULT: a real device loss, or an injected
//! out-of-memory error, at batch 3): the run ends non-zero naming the batch, with exactly the
//! batches before it written, byte-identical to an uninterrupted run's, and `--resume`
//! without the fault completes the folder to the uninterrupted run's bytes.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::commands::files;

const LENET: &str = "assets/models/lenet_mnist.onnx";

fn root() -> PathBuf {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/..")).to_path_buf()
}

/// `glimpse explain --batch 8` on `digits` into `out`, with `GLIMPSE_FAULT` set to `fault`.
fn explain(out: &Path, digits: &Path, fault: Option<&str>, resume: bool) -> (bool, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_glimpse"));
    cmd.env("GLIMPSE_TUNE", "off");
    cmd.current_dir(root())
        .env_remove("GLIMPSE_FAULT")
        .args(["explain", "--model", LENET, "--batch", "8", "--out"]);
    cmd.arg(out).arg(digits);
    if resume {
        cmd.arg("--resume");
    }
    if let Some(f) = fault {
        cmd.env("GLIMPSE_FAULT", f);
    }
    let o = cmd.output().expect("glimpse runs");
    (
        o.status.success(),
        String::from_utf8_lossy(&o.stderr).into(),
    )
}

fn summary_inputs(dir: &Path) -> Vec<String> {
    std::fs::read_to_string(dir.join("summary.jsonl"))
        .unwrap_or_default()
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            v["input"].as_str().unwrap().to_string()
        })
        .collect()
}

#[test]
fn a_gpu_failure_at_batch_3_keeps_batches_0_to_2_and_resumes_to_the_same_bytes() {
    let dir = std::env::temp_dir().join(format!("glimpse-fault-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    // 40 digits: five batches of 8.
    let all = glimpse::io::npy::read_f32(root().join("assets/data/mnist_test_x.npy")).unwrap();
    let forty = glimpse::Tensor::new(vec![40, 1, 28, 28], all.data[..40 * 784].to_vec()).unwrap();
    let digits = dir.join("d40.npy");
    glimpse::io::npy::write_f32(&digits, &forty).unwrap();

    let whole = dir.join("whole");
    let (ok, stderr) = explain(&whole, &digits, None, false);
    assert!(ok, "{stderr}");
    let want = files(&whole);
    let names = summary_inputs(&whole);
    assert_eq!(names.len(), 40);

    for (fault, says) in [
        ("device-lost@3", "device was lost"),
        ("oom@3", "ran out of memory"),
    ] {
        let out = dir.join(fault.replace('@', "-"));
        let (ok, stderr) = explain(&out, &digits, Some(fault), false);
        assert!(!ok, "{fault}: the run succeeded");
        for part in ["batch 3 (8 inputs, d40.npy[24] to d40.npy[31])", says] {
            assert!(stderr.contains(part), "{fault}: '{part}' missing: {stderr}");
        }
        assert!(!stderr.contains("panicked"), "{fault}: {stderr}");
        // Exactly batches 0–2 recorded, in order, with files identical to the whole run's.
        assert_eq!(summary_inputs(&out), names[..24], "{fault}");
        // The stop is recorded beside the finished inputs, naming the batch and its cause.
        let stopped: serde_json::Value =
            serde_json::from_slice(&std::fs::read(out.join("stopped.json")).unwrap()).unwrap();
        assert_eq!(stopped["batch"], 3, "{fault}: {stopped}");
        assert_eq!(stopped["inputs"], 8, "{fault}: {stopped}");
        assert_eq!(stopped["first"], "d40.npy[24]", "{fault}: {stopped}");
        assert_eq!(stopped["last"], "d40.npy[31]", "{fault}: {stopped}");
        assert!(
            stopped["cause"].as_str().unwrap().contains(says),
            "{fault}: {stopped}"
        );
        let mut got = files(&out);
        got.remove("stopped.json");
        for (name, bytes) in &got {
            if name == "errors.jsonl" {
                assert!(
                    bytes.is_empty(),
                    "{fault}: {}",
                    String::from_utf8_lossy(bytes)
                );
                continue;
            }
            let whole_bytes = if name == "summary.jsonl" {
                let text = String::from_utf8(want[name].clone()).unwrap();
                text.lines()
                    .take(24)
                    .map(|l| format!("{l}\n"))
                    .collect::<String>()
                    .into_bytes()
            } else {
                want.get(name).cloned().unwrap_or_default()
            };
            assert!(
                *bytes == whole_bytes,
                "{fault}: {name} differs from the whole run's"
            );
        }
        // Every output of batches 0–2 and nothing of batch 3 on (outputs are d40.npy_K…).
        let item = |name: &str| -> Option<usize> {
            let rest = name.strip_prefix("d40.npy_")?;
            rest[..rest
                .find(|c: char| !c.is_ascii_digit())
                .unwrap_or(rest.len())]
                .parse()
                .ok()
        };
        let outputs = |m: &BTreeMap<String, Vec<u8>>, below: usize| -> Vec<String> {
            m.keys()
                .filter(|k| item(k).is_some_and(|i| i < below))
                .cloned()
                .collect()
        };
        assert!(!outputs(&got, 24).is_empty());
        assert_eq!(outputs(&got, 40), outputs(&want, 24), "{fault}");

        let (ok, stderr) = explain(&out, &digits, None, true);
        assert!(ok, "{fault} resumed: {stderr}");
        assert!(
            files(&out) == want,
            "{fault}: resumed run differs from the whole one"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_plan_never_holds_more_slots_than_the_run_has_inputs() {
    // Under a 32 MiB cap LeNet LRP at batch 4096 needs gigabytes and is refused; one digit
    // plans one slot, fits, and gives the bytes of a --batch 1 run.
    let image = root().join("assets/images/mnist_0_label3.png");
    let base = std::env::temp_dir().join(format!("glimpse-slots-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&base);
    let run = |batch: &str, out: &Path, inputs: &[&Path]| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_glimpse"));
        cmd.env("GLIMPSE_TUNE", "off");
        cmd.current_dir(root())
            .env_remove("GLIMPSE_FAULT")
            .env("GLIMPSE_MEMORY_LIMIT", "32M")
            .args(["explain", "--model", LENET, "--batch", batch, "--out"])
            .arg(out)
            .args(inputs);
        let o = cmd.output().expect("glimpse runs");
        (
            o.status.success(),
            String::from_utf8_lossy(&o.stderr).into_owned(),
        )
    };
    let (ok, stderr) = run("4096", &base.join("big"), &[&image]);
    assert!(ok, "{stderr}");
    let (ok, stderr) = run("1", &base.join("one"), &[&image]);
    assert!(ok, "{stderr}");
    let name = "mnist_0_label3.png.npy";
    assert_eq!(
        std::fs::read(base.join("big").join(name)).unwrap(),
        std::fs::read(base.join("one").join(name)).unwrap()
    );
    // 512 digits at batch 4096 still ask for 512 slots, which the cap refuses by name.
    let digits = root().join("assets/data/mnist_test_x.npy");
    let (ok, stderr) = run("4096", &base.join("many"), &[&digits]);
    assert!(!ok);
    assert!(stderr.contains("GLIMPSE_MEMORY_LIMIT"), "{stderr}");
}
