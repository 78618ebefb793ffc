//! `glimpse explain --window / --stride / --window-score` on inputs larger than the model's:
//! the stitched map at the inputs' size, the coverage beside it, the windows' scores in the
//! summary, and the errors of windows that cannot slide.

use super::commands::{explain_lenet, temp};

fn run(out: &std::path::Path, extra: &[&str]) -> (bool, String) {
    explain_lenet(out, extra, &["assets/images/mnist_0_label3.png"])
}

fn temp_windows(name: &str) -> std::path::PathBuf {
    temp("windows", name)
}

#[test]
fn windows_slide_over_a_larger_input_and_write_their_coverage() {
    let out = temp_windows("sum");
    let (ok, stderr) = run(&out, &["--size", "56x56", "--stride", "14"]);
    assert!(ok, "{stderr}");
    let name = "mnist_0_label3.png";
    let map = glimpse::io::npy::read_f32(out.join(format!("{name}.npy"))).unwrap();
    assert_eq!(map.shape, vec![1, 56, 56]);
    let coverage = glimpse::io::npy::read_f32(out.join(format!("{name}_coverage.npy"))).unwrap();
    assert_eq!(coverage.shape, vec![56, 56]);
    // Windows at 0, 14, 28 along each axis: pixel (28, 28) lies in the last two of each.
    assert_eq!(coverage.data[28 * 56 + 28], 4.0);
    assert_eq!(coverage.data[0], 1.0);
    assert_eq!(coverage.data.iter().sum::<f32>(), 9.0 * 784.0);
    let text = std::fs::read_to_string(out.join("summary.jsonl")).unwrap();
    let line: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    assert_eq!(line["windows"], 9);
    let scores = line["window_scores"].as_array().unwrap();
    let sum: f64 = scores.iter().map(|v| v.as_f64().unwrap()).sum();
    assert!(
        (sum - line["score"].as_f64().unwrap()).abs() < 1e-6,
        "{line}"
    );
    let max = temp_windows("max");
    let (ok, stderr) = run(
        &max,
        &["--size", "56x56", "--stride", "14", "--window-score", "max"],
    );
    assert!(ok, "{stderr}");
    let text = std::fs::read_to_string(max.join("summary.jsonl")).unwrap();
    let line: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    assert_eq!(line["best_window"].as_array().unwrap().len(), 2, "{line}");
}

#[test]
fn windows_that_cannot_slide_are_named() {
    let out = temp_windows("bad");
    let cases: &[(&[&str], &str)] = &[
        (&["--stride", "14"], "give their size with --size"),
        (
            &["--size", "56x56", "--window", "20x20"],
            "the windows are the model's input, 28x28",
        ),
        (
            &["--size", "20x56", "--stride", "14"],
            "larger than the 20×56 input",
        ),
        (
            &["--size", "56x56", "--stride", "14", "--translate", "2"],
            "do not combine",
        ),
        (
            &[
                "--size",
                "56x56",
                "--stride",
                "14",
                "--window-score",
                "mean",
            ],
            "not sum or max",
        ),
    ];
    for (extra, want) in cases {
        let (ok, stderr) = run(&out, extra);
        assert!(!ok, "{extra:?} ran");
        assert!(stderr.contains(want), "{extra:?}: {stderr}");
        assert!(!out.exists(), "{extra:?} made the run folder");
    }
}
