//! `glimpse tune` and the measurement the commands make once per device: each in its own cache
//! directory, with `GLIMPSE_TUNE` unset as a user has it.

use std::path::Path;
use std::process::Command;

use crate::commands::{root, temp};

/// `glimpse ARGS…` with the kernel cache in `cache`; (success, stdout, stderr).
fn glimpse_cached(cache: &Path, args: &[&str], tune: Option<&str>) -> (bool, String, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_glimpse"));
    cmd.args(args)
        .current_dir(root())
        .env("GLIMPSE_CACHE_DIR", cache)
        .env_remove("GLIMPSE_TUNE")
        .env_remove("GLIMPSE_KERNELS");
    if let Some(v) = tune {
        cmd.env("GLIMPSE_TUNE", v);
    }
    let out = cmd.output().expect("glimpse runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

const PREDICT: [&str; 4] = [
    "predict",
    "--model",
    "assets/models/lenet_mnist.onnx",
    "assets/data/mnist_test_x.npy",
];

#[test]
fn tune_prints_every_family_caches_the_choice_and_info_reports_it() {
    let cache = temp("tune", "explicit");
    let (ok, out, err) = glimpse_cached(&cache, &["tune", "--batch", "1", "--reps", "1"], None);
    assert!(ok, "{err}");
    for family in ["conv-forward", "conv-adjoint", "dense"] {
        let line = out
            .lines()
            .find(|l| l.starts_with(family))
            .unwrap_or_else(|| panic!("{out}"));
        assert_eq!(line.matches('*').count(), 1, "one variant chosen: {line}");
    }
    assert!(out.contains("chosen: conv-forward="), "{out}");
    assert!(cache.join("kernels.json").exists(), "{out}");
    let (ok, info, err) = glimpse_cached(&cache, &["info"], None);
    assert!(ok, "{err}");
    let chosen = info
        .lines()
        .find(|l| l.starts_with("kernels chosen: "))
        .unwrap();
    assert!(
        chosen.contains("measured") && chosen.contains("probe networks"),
        "{chosen}"
    );
    let _ = std::fs::remove_dir_all(&cache);
}

#[test]
fn the_commands_measure_once_per_device_and_not_with_the_cache_off() {
    let cache = temp("tune", "first-use");
    let (ok, first, err) = glimpse_cached(&cache, &PREDICT, None);
    assert!(ok, "{err}");
    assert!(
        err.contains("measuring this device's kernels once"),
        "{err}"
    );
    assert!(cache.join("kernels.json").exists(), "{err}");
    let (ok, second, err) = glimpse_cached(&cache, &PREDICT, None);
    assert!(ok, "{err}");
    assert!(!err.contains("measuring"), "measured again: {err}");
    assert_eq!(first, second, "the same predictions with the cached choice");
    let off = temp("tune", "off");
    let (ok, _, err) = glimpse_cached(&off, &PREDICT, Some("off"));
    assert!(ok, "{err}");
    assert!(!err.contains("measuring") && !off.exists(), "{err}");
    let _ = std::fs::remove_dir_all(&cache);
}

#[test]
fn a_corrupt_cache_is_named_and_rewritten() {
    let cache = temp("tune", "corrupt");
    std::fs::create_dir_all(&cache).unwrap();
    std::fs::write(cache.join("kernels.json"), "{ half a file").unwrap();
    let (ok, info, err) = glimpse_cached(&cache, &["info"], None);
    assert!(ok, "{err}");
    assert!(
        info.contains("kernels.json") && info.contains("unreadable"),
        "{info}"
    );
    let (ok, _, err) = glimpse_cached(&cache, &PREDICT, None);
    assert!(ok && err.contains("measuring"), "{err}");
    let (ok, info, err) = glimpse_cached(&cache, &["info"], None);
    assert!(ok, "{err}");
    assert!(info.contains("kernels chosen: measured"), "{info}");
    let _ = std::fs::remove_dir_all(&cache);
}
