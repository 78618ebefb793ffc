//! `glimpse expert fit` and `eval` as a user runs them: a tiny expert fitted on a few MNIST
//! rows, loaded back by the library and by `eval`; an existing --out, a bad kind and a bad file
//! are clear errors.

use std::process::Command;

use glimpse::interpret::expert::{Expert, ExpertKind};

fn glimpse(args: &[&str]) -> (bool, String, String) {
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

#[test]
fn expert_fit_writes_an_expert_that_loads_back() {
    let dir = std::env::temp_dir().join(format!("glimpse-cli-expert-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let out = dir.join("digits.expert");
    let out_s = out.to_str().unwrap();
    let data = "assets/data/mnist_test_x.npy";
    let fit = |kind: &str, extra: &[&str]| {
        let mut args = vec![
            "expert", "fit", "--kind", kind, "--data", data, "--rows", "24",
        ];
        args.extend(["--out", out_s, "--iterations", "3", "--seed", "4"]);
        args.extend(extra);
        glimpse(&args)
    };
    let (ok, stdout, stderr) = fit("gmm-diag:2", &[]);
    assert!(ok, "{stderr}");
    assert!(
        stdout.contains("iteration   1: regularised log-likelihood"),
        "{stdout}"
    );
    assert!(stdout.contains("training log-likelihood: "), "{stdout}");
    let e = Expert::load(&out).unwrap();
    assert_eq!(e.dim(), 784);
    assert_eq!(e.kind(), "gmm-diag:2".parse::<ExpertKind>().unwrap());
    // An existing --out is kept unless --force.
    let (ok, _, stderr) = fit("grbm:4", &[]);
    assert!(!ok && stderr.contains("exists; pass --force"), "{stderr}");
    let (ok, stdout, stderr) = fit("grbm:4", &["--force"]);
    assert!(ok, "{stderr}");
    assert!(
        stdout.contains("reconstruction error") && stdout.contains("log Z: "),
        "{stdout}"
    );
    let (ok, stdout, stderr) = glimpse(&[
        "expert", "eval", "--expert", out_s, "--data", data, "--skip", "500",
    ]);
    assert!(ok, "{stderr}");
    assert!(
        stdout.starts_with("mean log p: ") && stdout.contains("12 items, grbm:4"),
        "{stdout}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn expert_bad_input_is_one_clear_message() {
    let out = std::env::temp_dir().join(format!("glimpse-cli-bad-{}.expert", std::process::id()));
    let out_s = out.to_str().unwrap();
    let data = "assets/data/mnist_test_x.npy";
    let (ok, _, stderr) = glimpse(&[
        "expert", "fit", "--kind", "flow:3", "--data", data, "--out", out_s,
    ]);
    assert!(
        !ok && stderr.contains("'flow:3' is not an expert kind"),
        "{stderr}"
    );
    assert!(!out.exists());
    // A file that is not an expert.
    let (ok, _, stderr) = glimpse(&["expert", "eval", "--expert", data, "--data", data]);
    assert!(
        !ok && stderr.contains("is not a valid .expert file"),
        "{stderr}"
    );
}
