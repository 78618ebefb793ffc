//! `glimpse atlas`: contact sheets and atlas.json for the channels asked, the ranking equal to
//! the library's over the same inputs, a resumed run ending with the same files, a corrupt
//! input recorded and skipped, and the errors of atlases that cannot be made.

use super::commands::{files, glimpse, root, temp};

fn atlas(out: &std::path::Path, inputs: &[&std::path::Path], extra: &[&str]) -> (bool, String) {
    let model = root().join("assets/models/lenet_mnist.onnx");
    let mut args = vec![
        "atlas",
        "--model",
        model.to_str().unwrap(),
        "--node",
        "/conv2/Conv",
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    args.extend(inputs.iter().map(|p| p.to_str().unwrap()));
    let (ok, _, stderr) = glimpse(&args);
    (ok, stderr)
}

#[test]
fn an_atlas_ranks_every_input_and_resumes_to_the_same_files() {
    // 40 digits as PNG files in a folder, one of them corrupt.
    let data = temp("atlas", "data");
    std::fs::create_dir_all(&data).unwrap();
    let all = glimpse::io::npy::read_f32(root().join("assets/data/mnist_test_x.npy")).unwrap();
    for i in 0..40 {
        let t = glimpse::Tensor::new(vec![1, 28, 28], all.data[i * 784..(i + 1) * 784].to_vec())
            .unwrap();
        let img = glimpse::render::range_image(&t, (0.0, 1.0), false).unwrap();
        glimpse::render::save_png(data.join(format!("d{i:02}.png")), &img).unwrap();
    }
    std::fs::write(data.join("d99.png"), b"not a png").unwrap();
    let out = temp("atlas", "out");
    let extra = [
        "--top",
        "4",
        "--channels",
        "0,8",
        "--batch",
        "8",
        "--grayscale",
    ];
    let (ok, stderr) = atlas(&out, &[&data], &extra);
    assert!(ok, "{stderr}");
    assert!(out.join("channel_0000.png").is_file() && out.join("channel_0008.png").is_file());
    assert!(!out.join("channel_0001.png").exists());
    let errors = std::fs::read_to_string(out.join("errors.jsonl")).unwrap();
    assert!(errors.contains("d99.png"), "{errors}");
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("atlas.json")).unwrap()).unwrap();
    let channels = json["channels"].as_array().unwrap();
    assert_eq!(channels.len(), 2);
    let refs = channels[1]["references"].as_array().unwrap();
    assert_eq!(refs.len(), 4);
    let values: Vec<f64> = refs.iter().map(|r| r["value"].as_f64().unwrap()).collect();
    assert!(values.windows(2).all(|w| w[0] >= w[1]), "{values:?}");
    // Channel 8's best among these digits by the library's own ranking of the summary.
    let summary = std::fs::read_to_string(out.join("summary.jsonl")).unwrap();
    assert_eq!(summary.lines().count(), 40);
    let mut best = summary
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .map(|l| {
            (
                l["values"][8].as_f64().unwrap(),
                l["input"].as_str().unwrap().to_string(),
            )
        })
        .collect::<Vec<_>>();
    best.sort_by(|a, b| b.0.total_cmp(&a.0));
    assert_eq!(refs[0]["input"], best[0].1.as_str());
    assert!(refs[0]["class"].is_u64() && refs[0]["crop"].as_array().unwrap().len() == 4);
    // Resumed: nothing left to rank; the same files again.
    let before = files(&out);
    let mut again = extra.to_vec();
    again.push("--resume");
    let (ok, stderr) = atlas(&out, &[&data], &again);
    assert!(ok, "{stderr}");
    assert_eq!(files(&out), before);
    // Resumed with fewer references: nothing re-ranked, the atlas rewritten.
    let mut fewer = again.clone();
    fewer[1] = "2";
    let (ok, stderr) = atlas(&out, &[&data], &fewer);
    assert!(ok, "{stderr}");
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("atlas.json")).unwrap()).unwrap();
    assert_eq!(
        json["channels"][1]["references"].as_array().unwrap().len(),
        2
    );
    assert_eq!(
        std::fs::read_to_string(out.join("summary.jsonl")).unwrap(),
        summary
    );
}

#[test]
fn atlases_that_cannot_be_made_are_named() {
    let digits = root().join("assets/data/mnist_test_x.npy");
    let out = temp("atlas", "bad");
    let model = root().join("assets/models/lenet_mnist.onnx");
    let cases: &[(&[&str], &str)] = &[
        (&["--node", "/conv9/Conv"], "no node named '/conv9/Conv'"),
        (
            &["--node", "/conv2/Conv", "--channels", "16"],
            "channel 16 is out of range",
        ),
        (
            &["--node", "/conv2/Conv", "--by", "gradient"],
            "rank by relevance or activation",
        ),
        (
            &["--node", "/conv2/Conv", "--top", "0"],
            "--top must be at least 1",
        ),
        (
            &["--node", "/conv2/Conv", "--shard", "1/2"],
            "--shard does not apply",
        ),
    ];
    for (extra, want) in cases {
        let mut args = vec![
            "atlas",
            "--model",
            model.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        args.push(digits.to_str().unwrap());
        let (ok, _, stderr) = glimpse(&args);
        assert!(!ok, "{extra:?} ran");
        assert!(stderr.contains(want), "{extra:?}: {stderr}");
        assert!(!out.exists(), "{extra:?} made the output folder");
    }
}
