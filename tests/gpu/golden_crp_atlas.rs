//! zennit-crp's `FeatureVisualization` rankings (scripts/golden_crp_atlas.py): the 8 best of
//! the first 64 shipped digits per channel of LeNet's conv2 and fc1, by relevance for the
//! predicted class (RelMax) and by activation (ActMax), with the neuron where each channel
//! peaks, and the reference heatmaps started from that neuron. Same indices and peaks, values
//! to 1e-4, heatmaps to 1e-4 of their max. Where inputs score within 1e-5 of each other (dead
//! fc1 neurons score 0 for every digit; one fc1 activation gap is 6.9e-7), zennit-crp's order
//! among them is its unstable sort's, so the golden input need only be one of them.

use glimpse::explain::atlas::{channel_scores, top_k};
use glimpse::explain::filter::find_node;
use glimpse::explain::{Explainer, Filter, Method, Target};
use glimpse::io::npy::{read_f32, read_i64};
use glimpse::model::Tensor;
use glimpse::Predictor;

fn golden(name: &str) -> std::path::PathBuf {
    crate::common::asset(&format!("golden/crp_atlas_lenet_mnist_{name}.npy"))
}

fn digits() -> Tensor {
    let all = read_f32(crate::common::asset("data/mnist_test_x.npy")).unwrap();
    Tensor::new(vec![64, 1, 28, 28], all.data[..64 * 784].to_vec()).unwrap()
}

fn lrp() -> Method {
    "lrp:epsilon-plus-flat".parse().unwrap()
}

/// Our scores of the 64 digits at `node` (`[64 × C]` values and peaks).
fn scores(node: &str, by: &str) -> (Vec<f32>, Vec<usize>, usize) {
    let graph = glimpse::load_model(crate::common::asset("models/lenet_mnist.onnx")).unwrap();
    let k = find_node(&graph, node).unwrap();
    let model = crate::common::model(&graph);
    let x = digits();
    let map = match by {
        "rel" => {
            let filter = Filter {
                record: vec![k],
                ..Filter::default()
            };
            let mut e = Explainer::with_filter(&model, &lrp(), 16, filter).unwrap();
            let got = e.explain(&x, &[Target::Predicted]).unwrap();
            got.records.into_iter().next().unwrap().relevance
        }
        _ => Predictor::at(&model, k, 16).unwrap().run(&x).unwrap(),
    };
    let (v, n) = channel_scores(&map).unwrap();
    (v, n, graph.nodes[k].shape[0])
}

#[test]
fn rankings_equal_zennit_crps_relmax_and_actmax() {
    for node in ["conv2", "fc1"] {
        for by in ["rel", "act"] {
            let (values, neurons, channels) = scores(
                &format!("/{node}/{}", if node == "conv2" { "Conv" } else { "Gemm" }),
                by,
            );
            let ids: Vec<usize> = (0..64).collect();
            let ours = top_k(&ids, &values, &neurons, channels, 8);
            let tag = format!("{node}_{by}");
            let want_i = read_i64(golden(&format!("{tag}_indices"))).unwrap();
            let want_v = read_f32(golden(&format!("{tag}_values"))).unwrap();
            let want_rf = read_i64(golden(&format!("{tag}_rf"))).unwrap();
            let (mut exact, mut near, mut worst) = (0, 0, 0.0f32);
            for c in 0..channels {
                for (r, mine) in ours[c].iter().enumerate() {
                    let g = |t: &Tensor<i64>| t.data[r * channels + c] as usize;
                    let (gi, gv) = (g(&want_i), want_v.data[r * channels + c]);
                    worst = worst.max((mine.value - gv).abs());
                    assert!(
                        (mine.value - gv).abs() <= 1e-4,
                        "{tag} channel {c} rank {r}: {} vs {gv}",
                        mine.value
                    );
                    if mine.input == gi {
                        exact += 1;
                        assert_eq!(mine.neuron, g(&want_rf), "{tag} channel {c} rank {r}: peak");
                        continue;
                    }
                    // A near-tie: the golden input scores within 1e-5 of ours.
                    let theirs = values[gi * channels + c];
                    assert!(
                        (theirs - mine.value).abs() <= 1e-5,
                        "{tag} channel {c} rank {r}: input {} ({}) where zennit-crp has {gi} ({theirs})",
                        mine.input,
                        mine.value
                    );
                    near += 1;
                }
            }
            println!("{tag}: {exact} entries equal, {near} near-ties, values within {worst:.1e}");
            assert!(
                exact >= 8 * channels * 3 / 4,
                "{tag}: only {exact} equal entries"
            );
        }
    }
}

#[test]
fn reference_heatmaps_from_the_peak_neuron_equal_zennit_crps() {
    let graph = glimpse::load_model(crate::common::asset("models/lenet_mnist.onnx")).unwrap();
    let k = find_node(&graph, "/conv2/Conv").unwrap();
    let model = crate::common::model(&graph);
    let filter = Filter {
        start: Some(k),
        ..Filter::default()
    };
    let mut e = Explainer::with_filter(&model, &lrp(), 16, filter).unwrap();
    let want = read_f32(golden("conv2_rel_refheat")).unwrap();
    // The manifest's inputs and peaks: channels 0, 3, 8, ranks 0–3.
    let inputs = [[36, 5, 42, 3], [62, 56, 1, 29], [63, 14, 50, 20]];
    let peaks = [[16, 78, 48, 78], [42, 33, 32, 43], [28, 28, 18, 28]];
    let x = digits();
    let mut batch = Vec::new();
    let mut targets = Vec::new();
    for (ci, c) in [0usize, 3, 8].into_iter().enumerate() {
        for r in 0..4 {
            let i = inputs[ci][r];
            batch.extend_from_slice(&x.data[i * 784..(i + 1) * 784]);
            let mut w = vec![0.0f32; 16 * 100];
            w[c * 100 + peaks[ci][r]] = 1.0;
            targets.push(Target::Weights(w));
        }
    }
    let got = e
        .explain(&Tensor::new(vec![12, 1, 28, 28], batch).unwrap(), &targets)
        .unwrap();
    for j in 0..12 {
        let (g, w) = (
            &got.map.data[j * 784..(j + 1) * 784],
            &want.data[j * 784..(j + 1) * 784],
        );
        let scale = w.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        let err = g
            .iter()
            .zip(w)
            .fold(0.0f32, |m, (a, b)| m.max((a - b).abs()));
        assert!(err <= 1e-4 * scale, "heatmap {j}: {:e} of max", err / scale);
    }
}
