//! `glimpse explain --start / --condition / --record`: the files and summary lines it writes,
//! conditional maps over every channel of a node adding up to the plain map end to end, and
//! the errors of filters that cannot run.

use super::commands::{explain_lenet, temp};

const DIGITS: [&str; 2] = [
    "assets/images/mnist_0_label3.png",
    "assets/images/mnist_1_label8.png",
];

/// Runs `glimpse explain` on LeNet and two digits; the summary lines.
fn explain(out: &std::path::Path, extra: &[&str]) -> Vec<serde_json::Value> {
    let (ok, stderr) = explain_lenet(out, extra, &DIGITS);
    assert!(ok, "{stderr}");
    let text = std::fs::read_to_string(out.join("summary.jsonl")).unwrap();
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn npy(path: std::path::PathBuf) -> Vec<f32> {
    glimpse::io::npy::read_f32(&path)
        .unwrap_or_else(|e| panic!("{e}"))
        .data
}

#[test]
fn condition_sets_write_one_map_each_and_add_up_to_the_plain_map() {
    let plain_dir = temp("filter", "plain");
    explain(&plain_dir, &[]);
    let out = temp("filter", "cond");
    let conditions: Vec<String> = (0..6).map(|c| format!("/conv1/Conv:{c}")).collect();
    let mut args: Vec<&str> = Vec::new();
    for c in &conditions {
        args.extend(["--condition", c]);
    }
    args.extend(["--record", "/fc1/Gemm", "--keep-parallel"]);
    let lines = explain(&out, &args);
    assert_eq!(lines.len(), 2);
    let each = lines[0]["conditions"].as_array().unwrap();
    assert_eq!(each.len(), 6);
    assert_eq!(each[2]["condition"], "/conv1/Conv:2");
    assert_eq!(each[2]["class"], 3);
    assert_eq!(
        each[2]["concepts"]["/fc1/Gemm"].as_array().unwrap().len(),
        120
    );
    for input in ["mnist_0_label3.png", "mnist_1_label8.png"] {
        let want = npy(plain_dir.join(format!("{input}.npy")));
        let mut sum = vec![0.0f64; want.len()];
        for c in 0..6 {
            for f in ["", "_overlay", "_concepts_fc1_Gemm"] {
                assert!(
                    out.join(format!("{input}_cond{c}{f}.png")).is_file(),
                    "{input} {c} {f}"
                );
            }
            let m = npy(out.join(format!("{input}_cond{c}.npy")));
            sum.iter_mut().zip(&m).for_each(|(s, v)| *s += *v as f64);
            assert_eq!(
                npy(out.join(format!("{input}_cond{c}_rel_fc1_Gemm.npy"))).len(),
                120
            );
        }
        let scale = want.iter().fold(0.0f64, |m, v| m.max(v.abs() as f64));
        let worst = sum
            .iter()
            .zip(&want)
            .fold(0.0f64, |m, (s, w)| m.max((s - *w as f64).abs()));
        assert!(worst / scale < 1e-5, "{input}: {:e}", worst / scale);
    }
}

#[test]
fn a_start_node_explains_a_channel_or_a_given_relevance() {
    let out = temp("filter", "start");
    let lines = explain(
        &out,
        &["--start", "/conv2/Conv:3", "--method", "gradient-x-input"],
    );
    assert_eq!(lines[0]["start"], "/conv2/Conv:3");
    assert!(lines[0].get("class").is_none(), "{}", lines[0]);
    // The same start given as a tensor: 1 over channel 3, as gradient × input seeds it.
    let init = temp("filter", "init").with_extension("npy");
    let mut w = vec![0.0f32; 16 * 10 * 10];
    w[300..400].fill(1.0);
    let t = glimpse::Tensor::new(vec![16, 10, 10], w).unwrap();
    glimpse::io::npy::write_f32(&init, &t).unwrap();
    let given = temp("filter", "given");
    let args = [
        "--start",
        "/conv2/Conv",
        "--init",
        init.to_str().unwrap(),
        "--method",
        "gradient-x-input",
    ];
    explain(&given, &args);
    for input in ["mnist_0_label3.png", "mnist_1_label8.png"] {
        let a = npy(out.join(format!("{input}.npy")));
        let b = npy(given.join(format!("{input}.npy")));
        assert_eq!(a, b, "{input}");
        assert!(a.iter().any(|v| *v != 0.0));
    }
}

#[test]
fn filters_that_cannot_run_are_named() {
    let out = temp("filter", "bad");
    let cases: &[(&[&str], &str)] = &[
        (&["--start", "/conv7/Conv"], "no node named '/conv7/Conv'"),
        (
            &["--condition", "/conv2/Conv:16"],
            "channel 16 is out of range",
        ),
        (&["--init", "x.npy"], "give --start"),
        (
            &["--start", "/conv2/Conv:3", "--init", "x.npy"],
            "name the node alone",
        ),
        (
            &["--start", "/conv2/Conv:1", "--target", "3"],
            "--target weights the model's output",
        ),
        (
            &["--condition", "/conv2/Conv:1", "--translate", "2"],
            "--translate does not combine",
        ),
        (
            &["--condition", "/conv2/Conv:1", "--method", "grad-cam"],
            "not to grad-cam",
        ),
        (
            &["--start", "/conv1/Conv", "--condition", "/fc1/Gemm:2"],
            "outside the backward pass",
        ),
    ];
    for (extra, want) in cases {
        let (ok, stderr) = explain_lenet(&out, extra, &DIGITS[..1]);
        assert!(!ok, "{extra:?} ran");
        assert!(stderr.contains(want), "{extra:?}: {stderr}");
        assert!(!out.exists(), "{extra:?} made the run folder");
    }
}
