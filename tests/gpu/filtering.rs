//! Filtering's identities, which need no peer: conditional maps over every channel of a node
//! add up to the plain map (what flows below a node is linear in what reaches it, for LRP and
//! every gradient method); with parallel
//! paths excluded, a residual block's two branches split the map between them; a start at the
//! output is the plain explanation; recorded relevance at the start node is its seed; and bad
//! filters are named.

use glimpse::explain::filter::{concept_relevance, find_node, parse_condition_set, parse_start};
use glimpse::explain::{ConditionSet, Explainer, Filter, Method, Target};
use glimpse::model::{Graph, Tensor};

fn data(file: &str, n: usize) -> Tensor {
    let all = glimpse::io::npy::read_f32(crate::common::asset(file)).unwrap();
    Tensor::new(vec![n, 1, 28, 28], all.data[..n * 784].to_vec()).unwrap()
}

fn lrp() -> Method {
    "lrp:epsilon-plus-flat".parse().unwrap()
}

/// Each input repeated once per condition set, input-major (zennit-crp's broadcast).
fn broadcast(x: &Tensor, sets: usize) -> Tensor {
    let item = x.numel() / x.shape[0];
    let mut data = Vec::new();
    for row in x.data.chunks(item) {
        for _ in 0..sets {
            data.extend_from_slice(row);
        }
    }
    let mut shape = x.shape.clone();
    shape[0] *= sets;
    Tensor::new(shape, data).unwrap()
}

fn max_abs(v: &[f32]) -> f64 {
    v.iter().fold(0.0f64, |m, &a| m.max(a.abs() as f64))
}

fn max_diff(a: &[f32], b: &[f32]) -> f64 {
    a.iter()
        .zip(b)
        .fold(0.0f64, |m, (x, y)| m.max((x - y).abs() as f64))
}

/// Σ over channels of the conditional maps, per input, minus the plain map: the worst
/// |difference| ÷ max |plain|.
fn channel_sum_error(graph: &Graph, method: &Method, node: &str, exclude: bool) -> f64 {
    let model = crate::common::model(graph);
    let k = find_node(graph, node).unwrap();
    let channels = graph.nodes[k].shape[0];
    let x = data("data/mnist_test_x.npy", 2);
    let mut plain = Explainer::new(&model, method, 8).unwrap();
    let want = plain.explain(&x, &[Target::Predicted]).unwrap();
    let sets: Vec<ConditionSet> = (0..2)
        .flat_map(|_| {
            (0..channels).map(|c| parse_condition_set(graph, &format!("{node}:{c}")).unwrap())
        })
        .collect();
    let filter = Filter::for_conditions(None, &sets, exclude, vec![]);
    let mut e = Explainer::with_filter(&model, method, 16, filter).unwrap();
    let targets: Vec<Target> = (0..2 * channels)
        .map(|i| Target::Class(want.classes[i / channels]))
        .collect();
    let got = e
        .explain_filtered(&broadcast(&x, channels), &targets, &sets)
        .unwrap();
    let item = 784;
    let mut worst = 0.0f64;
    for i in 0..2 {
        for j in 0..item {
            let sum: f64 = (0..channels)
                .map(|c| got.map.data[(i * channels + c) * item + j] as f64)
                .sum();
            worst = worst.max((sum - want.map.data[i * item + j] as f64).abs());
        }
    }
    worst / max_abs(&want.map.data)
}

#[test]
fn conditional_maps_over_every_channel_add_up_to_the_plain_map() {
    let graph = glimpse::load_model(crate::common::asset("models/lenet_mnist.onnx")).unwrap();
    for method in [lrp(), "gradient-x-input".parse().unwrap()] {
        for node in ["/conv2/Conv", "/fc1/Gemm"] {
            let err = channel_sum_error(&graph, &method, node, false);
            assert!(err < 1e-5, "{} at {node}: {err:e}", method.name());
        }
    }
    // The methods that sample or take a reference are linear in what flows back too.
    for name in ["integrated-gradients", "smoothgrad", "deeplift", "taylor"] {
        let mut method: Method = name.parse().unwrap();
        if let Method::SmoothGrad(o) = &mut method {
            // One draw for every item, so each copy of an input sees the same noise (drawn
            // noise is seeded per item).
            let mut rng = crate::common::Rng::new(3);
            o.noise = Some(rng.tensor(&[o.samples, 1, 28, 28]));
            // The mean of signed gradients (the absolute value of each is not linear).
            o.abs = false;
        }
        let err = channel_sum_error(&graph, &method, "/conv1/Conv", false);
        assert!(err < 1e-5, "{name} at /conv1/Conv: {err:e}");
    }
    // A sequential net has no parallel path: excluding them changes nothing.
    let err = channel_sum_error(&graph, &lrp(), "/conv2/Conv", true);
    assert!(err < 1e-5, "excluded: {err:e}");
}

#[test]
fn excluding_parallel_paths_splits_a_residual_block_between_its_branches() {
    let graph = glimpse::load_model(crate::common::asset("models/resnet_fashion.onnx")).unwrap();
    let model = crate::common::model(&graph);
    let x = data("data/fashion_test_x.npy", 2);
    let mut plain = Explainer::new(&model, &lrp(), 4).unwrap();
    let want = plain.explain(&x, &[Target::Predicted]).unwrap();
    let targets: Vec<Target> = want.classes.iter().map(|&c| Target::Class(c)).collect();
    let all = |node: &str| {
        let k = find_node(&graph, node).unwrap();
        let c = graph.nodes[k].shape[0];
        let list: Vec<String> = (0..c).map(|i| i.to_string()).collect();
        parse_condition_set(&graph, &format!("{node}:{}", list.join(","))).unwrap()
    };
    let branch = |node: &str, exclude: bool| {
        let sets = vec![all(node), all(node)];
        let filter = Filter::for_conditions(None, &sets, exclude, vec![]);
        let mut e = Explainer::with_filter(&model, &lrp(), 4, filter).unwrap();
        e.explain_filtered(&x, &targets, &sets).unwrap().map
    };
    let scale = max_abs(&want.map.data);
    // Every channel let through, parallel paths kept: the plain map.
    let kept = branch("/block2/conv2/Conv", false);
    let kept_err = max_diff(&kept.data, &want.map.data) / scale;
    assert!(kept_err < 1e-6, "all channels, parallel kept: {kept_err:e}");
    // Excluded: the main branch and the skip branch each keep their own part; together the whole.
    let main = branch("/block2/conv2/Conv", true);
    let skip = branch("/block2/skip_conv/Conv", true);
    let mut worst = 0.0f64;
    for ((a, b), w) in main.data.iter().zip(&skip.data).zip(&want.map.data) {
        worst = worst.max((*a as f64 + *b as f64 - *w as f64).abs());
    }
    assert!(
        worst / scale < 1e-5,
        "main + skip vs plain: {:e}",
        worst / scale
    );
    // Both branches conditioned with parallel paths excluded: the second one reached is
    // beside the first, so nothing reaches it — an error, not a silently unconditioned map.
    let both =
        parse_condition_set(&graph, "/block2/conv2/Conv:1;/block2/skip_conv/Conv:2").unwrap();
    let filter = Filter::for_conditions(None, std::slice::from_ref(&both), true, vec![]);
    let e = Explainer::with_filter(&model, &lrp(), 4, filter);
    assert!(err(e).contains("nothing reaches the conditioned node"));
    let differs = max_diff(&main.data, &want.map.data);
    assert!(
        differs / scale > 1e-2,
        "excluding the skip branch changed nothing"
    );
}

#[test]
fn a_start_at_the_output_is_the_plain_explanation_and_records_read_back() {
    let graph = glimpse::load_model(crate::common::asset("models/lenet_mnist.onnx")).unwrap();
    let model = crate::common::model(&graph);
    let x = data("data/mnist_test_x.npy", 3);
    let mut plain = Explainer::new(&model, &lrp(), 4).unwrap();
    let want = plain.explain(&x, &[Target::Predicted]).unwrap();
    let (start, _) = parse_start(&graph, "/fc3/Gemm").unwrap();
    let fc1 = find_node(&graph, "/fc1/Gemm").unwrap();
    let filter = Filter {
        start: Some(start),
        record: vec![start, fc1],
        ..Filter::default()
    };
    let mut e = Explainer::with_filter(&model, &lrp(), 4, filter).unwrap();
    // The class as a weighting of the start node: one-hot.
    let targets: Vec<Target> = want
        .classes
        .iter()
        .map(|&c| {
            let mut w = vec![0.0; 10];
            w[c] = 1.0;
            Target::Weights(w)
        })
        .collect();
    let got = e.explain_filtered(&x, &targets, &[]).unwrap();
    assert_eq!(got.map.data, want.map.data);
    // At the start node the record is the seed w ⊙ f(x); at fc1 its concepts are normalised.
    let seed = &got.records[0];
    for i in 0..3 {
        for j in 0..10 {
            let w = if j == want.classes[i] {
                want.outputs.data[i * 10 + j]
            } else {
                0.0
            };
            assert_eq!(seed.relevance.data[i * 10 + j], w);
        }
    }
    let inner = &got.records[1];
    assert_eq!(inner.relevance.shape, vec![3, graph.nodes[fc1].shape[0]]);
    for row in inner.concepts.data.chunks(inner.concepts.shape[1]) {
        let l1: f32 = row.iter().map(|v| v.abs()).sum();
        assert!((l1 - 1.0).abs() < 1e-5, "Σ|concept relevance| = {l1}");
    }
    let again = concept_relevance(&inner.relevance.data, 3, inner.relevance.shape[1]);
    assert_eq!(again, inner.concepts.data);
}

fn err<T>(r: glimpse::Result<T>) -> String {
    r.map(|_| ()).unwrap_err().to_string()
}

#[test]
fn bad_filters_are_named() {
    let graph = glimpse::load_model(crate::common::asset("models/lenet_mnist.onnx")).unwrap();
    assert!(err(parse_start(&graph, "/conv9/Conv:1")).contains("no node named '/conv9/Conv'"));
    assert!(err(parse_start(&graph, "/conv2/Conv:99")).contains("channel 99 is out of range"));
    assert!(err(parse_start(&graph, "/conv2/Conv:1,99,0")).contains("row 99"));
    assert!(err(parse_start(&graph, "input")).contains("cannot start at the input"));
    assert!(err(parse_condition_set(&graph, "/conv2/Conv")).contains("names no channels"));
    assert!(err(parse_condition_set(&graph, "/fc1/Gemm:1(2,3)"))
        .contains("its neurons are its channels"));
    assert!(err(parse_condition_set(&graph, "/conv2/Conv:1;/conv2/Conv:2")).contains("twice"));
    let model = crate::common::model(&graph);
    // A condition after the start node is outside the backward pass.
    let (start, _) = parse_start(&graph, "/conv2/Conv").unwrap();
    let sets = vec![parse_condition_set(&graph, "/fc1/Gemm:3").unwrap()];
    let filter = Filter::for_conditions(Some(start), &sets, false, vec![]);
    let e = Explainer::with_filter(&model, &lrp(), 2, filter);
    assert!(err(e).contains("outside the backward pass"));
    let filter = Filter::for_conditions(None, &sets, true, vec![]);
    let cam: Method = "grad-cam".parse().unwrap();
    assert!(
        err(Explainer::with_filter(&model, &cam, 2, filter.clone())).contains("not to grad-cam")
    );
    let mut e = Explainer::with_filter(&model, &lrp(), 2, filter).unwrap();
    let x = data("data/mnist_test_x.npy", 2);
    let wrong = e.explain_filtered(&x, &[Target::Predicted], &sets);
    assert!(err(wrong).contains("1 condition sets for 2 inputs"));
    // Hand-made conditions outside the node are refused, not indexed.
    let outside = vec![
        vec![glimpse::explain::Condition {
            node: sets[0][0].node,
            channels: vec![500],
            neurons: vec![],
        }];
        2
    ];
    let wrong = e.explain_filtered(&x, &[Target::Predicted], &outside);
    assert!(err(wrong).contains("channel 500, outside its shape"));
}

#[test]
fn integrated_gradients_from_an_inner_channel_are_complete() {
    // IG started at /conv2/Conv:3 attributes the channel's summed activation: the map sums to
    // its value at x minus its value at the zero baseline, up to the Riemann sum's error.
    let graph = glimpse::load_model(crate::common::asset("models/lenet_mnist.onnx")).unwrap();
    let model = crate::common::model(&graph);
    let (start, target) = parse_start(&graph, "/conv2/Conv:3").unwrap();
    let filter = Filter {
        start: Some(start),
        ..Filter::default()
    };
    let ig: Method = "integrated-gradients".parse().unwrap();
    let mut e = Explainer::with_filter(&model, &ig, 64, filter).unwrap();
    let x = data("data/mnist_test_x.npy", 2);
    let got = e.explain_filtered(&x, &[target], &[]).unwrap();
    let (scores, refs) = (&got.scores, got.reference_scores.as_ref().unwrap());
    for (i, r) in got.residuals.as_ref().unwrap().iter().enumerate() {
        let span = (scores[i] - refs[i]).abs();
        assert!(span > 1.0, "item {i}: the channel barely moves ({span})");
        assert!(r.abs() < 0.02 * span, "item {i}: residual {r} of {span}");
    }
}
