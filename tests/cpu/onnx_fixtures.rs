//! The shipped fixture models under `assets/`: each imported graph, run by the f64 reference
//! forward pass, reproduces onnxruntime's outputs (`assets/reference/*.npy`). No GPU.

use std::path::{Path, PathBuf};

use glimpse::layers::reference_forward;
use glimpse::model::{fold_batch_norm, Graph, Op, Tensor};
use glimpse::onnx;

fn assets() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("assets")
}

/// False (with a note) when the fixture models are not checked out; a partial set fails.
fn have_assets() -> bool {
    let present = assets().join("models").is_dir();
    if !present {
        eprintln!("skipping: {} is missing", assets().join("models").display());
    }
    present
}

/// A little-endian f32 `.npy` file (`<f4`, C order) as its shape and values.
fn read_npy_f32(path: &Path) -> (Vec<usize>, Vec<f32>) {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert_eq!(
        &bytes[..6],
        b"\x93NUMPY",
        "{}: not a .npy file",
        path.display()
    );
    let (header_len, start) = match bytes[6] {
        1 => (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10),
        _ => (
            u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize,
            12,
        ),
    };
    let header = std::str::from_utf8(&bytes[start..start + header_len]).unwrap();
    assert!(
        header.contains("'descr': '<f4'"),
        "{}: {header}",
        path.display()
    );
    assert!(header.contains("'fortran_order': False"), "{header}");
    let shape_text = header
        .split("'shape': (")
        .nth(1)
        .and_then(|s| s.split(')').next())
        .unwrap();
    let shape: Vec<usize> = shape_text
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.parse().unwrap())
        .collect();
    let data: Vec<f32> = bytes[start + header_len..]
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    assert_eq!(data.len(), shape.iter().product::<usize>(), "{header}");
    (shape, data)
}

/// The first `items` rows of an `[N, ...]` array.
fn first_items(shape: &[usize], data: &[f32], items: usize) -> Tensor<f64> {
    let items = items.min(shape[0]);
    let per: usize = shape[1..].iter().product();
    let mut s = shape.to_vec();
    s[0] = items;
    Tensor::new(s, data[..items * per].iter().map(|&v| v as f64).collect()).unwrap()
}

/// Runs `graph` on the first `items` inputs of `input` and compares with `reference`;
/// returns the largest absolute difference.
fn compare(graph: &Graph, input: &str, reference: &str, items: usize) -> f64 {
    let (xs, xd) = read_npy_f32(&assets().join(input));
    let (rs, rd) = read_npy_f32(&assets().join(reference));
    let x = first_items(&xs, &xd, items);
    let want = first_items(&rs, &rd, items);
    assert_eq!(graph.input_shape(), &xs[1..]);
    assert_eq!(graph.output_shape(), &rs[1..]);
    let got = &reference_forward(graph, &x)[graph.output];
    assert_eq!(got.shape, want.shape);
    let mut worst = 0f64;
    for (k, (g, w)) in got.data.iter().zip(&want.data).enumerate() {
        let d = (g - w).abs();
        assert!(
            d <= 1e-4 + 1e-4 * w.abs(),
            "{reference}: value {k} is {g}, onnxruntime says {w}"
        );
        worst = worst.max(d);
    }
    let f = want.data.len() / want.shape[0];
    for (i, (g, w)) in got.data.chunks(f).zip(want.data.chunks(f)).enumerate() {
        assert_eq!(
            argmax(g),
            argmax(w),
            "{reference}: item {i} changes its class"
        );
    }
    eprintln!(
        "{reference}: {} items, max |glimpse − onnxruntime| = {worst:.2e}",
        want.shape[0]
    );
    worst
}

fn argmax(v: &[f64]) -> usize {
    (0..v.len()).max_by(|&a, &b| v[a].total_cmp(&v[b])).unwrap()
}

fn load(name: &str) -> Graph {
    onnx::load(&assets().join("models").join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn kinds(g: &Graph) -> Vec<&'static str> {
    g.nodes.iter().map(|n| n.op.kind()).collect()
}

fn count(g: &Graph, kind: &str) -> usize {
    g.nodes.iter().filter(|n| n.op.kind() == kind).count()
}

#[test]
fn lenet_mnist_matches_onnxruntime() {
    if !have_assets() {
        return;
    }
    let g = load("lenet_mnist.onnx");
    assert_eq!(
        kinds(&g),
        [
            "Input",
            "Conv2d",
            "Relu",
            "MaxPool2d",
            "Conv2d",
            "Relu",
            "MaxPool2d",
            "Reshape",
            "Dense",
            "Relu",
            "Dense",
            "Relu",
            "Dense"
        ]
    );
    compare(
        &g,
        "data/mnist_test_x.npy",
        "reference/lenet_mnist_logits.npy",
        512,
    );
}

#[test]
fn resnet_fashion_matches_onnxruntime_before_and_after_folding() {
    if !have_assets() {
        return;
    }
    let g = load("resnet_fashion.onnx");
    assert_eq!(count(&g, "BatchNorm"), 7);
    assert_eq!(count(&g, "Add"), 2);
    let items = 256;
    compare(
        &g,
        "data/fashion_test_x.npy",
        "reference/resnet_fashion_logits.npy",
        items,
    );
    let mut folded = g.clone();
    assert_eq!(fold_batch_norm(&mut folded), 6);
    assert_eq!(count(&folded, "BatchNorm"), 1);
    compare(
        &folded,
        "data/fashion_test_x.npy",
        "reference/resnet_fashion_logits.npy",
        items,
    );
}

#[test]
fn resnet_fashion_folded_matches_onnxruntime() {
    if !have_assets() {
        return;
    }
    let g = load("resnet_fashion_folded.onnx");
    assert_eq!(count(&g, "BatchNorm"), 1);
    compare(
        &g,
        "data/fashion_test_x.npy",
        "reference/resnet_fashion_folded_logits.npy",
        256,
    );
}

#[test]
fn ops_zoo_matches_onnxruntime_in_both_opsets() {
    if !have_assets() {
        return;
    }
    for (model, reference) in [
        ("ops_zoo.onnx", "reference/ops_zoo_out.npy"),
        ("ops_zoo_v11.onnx", "reference/ops_zoo_v11_out.npy"),
    ] {
        let g = load(model);
        assert_eq!(
            kinds(&g),
            [
                "Input",
                "Conv2d",
                "Relu",
                "Conv2d",
                "Clip",
                "Conv2d",
                "Relu",
                "BatchNorm",
                "Add",
                "MaxPool2d",
                "AvgPool2d",
                "AvgPool2d",
                "Concat",
                "GlobalAvgPool",
                "Reshape",
                "GlobalAvgPool",
                "Reshape",
                "Concat",
                "Dense",
                "Relu",
                "Dense",
                "Softmax"
            ],
            "{model}"
        );
        let conv = g.find("conv_asym").unwrap();
        let Op::Conv2d(c) = &g.nodes[conv].op else {
            panic!("{model}: conv_asym is {:?}", g.nodes[conv].op.kind())
        };
        assert_eq!((c.pads, c.dilation), ([0, 1, 1, 0], [2, 2]));
        compare(&g, "data/ops_zoo_x.npy", reference, 4);
    }
}

#[test]
fn convtranspose_fixtures_match_onnxruntime() {
    if !have_assets() {
        return;
    }
    let g = load("convtranspose_generator.onnx");
    assert_eq!(
        kinds(&g),
        [
            "Input",
            "Dense",
            "Reshape",
            "ConvTranspose2d",
            "Relu",
            "ConvTranspose2d",
            "Sigmoid"
        ]
    );
    compare(
        &g,
        "data/convtranspose_generator_x.npy",
        "reference/convtranspose_generator_out.npy",
        4,
    );
    let g = load("convtranspose_attrs.onnx");
    let layers: Vec<_> = g
        .nodes
        .iter()
        .filter_map(|n| match &n.op {
            Op::ConvTranspose2d(c) => Some((n.name.as_str(), c.pads, c.output_padding, c.groups)),
            _ => None,
        })
        .collect();
    assert_eq!(
        layers,
        [
            ("grouped", [1, 0, 2, 1], [1, 0], 2),
            ("depthwise_same_upper", [0, 0, 1, 1], [0, 0], 6),
            ("output_shape", [1, 1, 0, 0], [0, 0], 1),
            ("same_lower", [1, 1, 0, 0], [0, 0], 1),
        ]
    );
    compare(
        &g,
        "data/convtranspose_attrs_x.npy",
        "reference/convtranspose_attrs_out.npy",
        3,
    );
}
