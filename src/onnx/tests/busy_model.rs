//! A model that exercises most mappings at once, and random edits of its bytes.

use super::builder::{af, ai, ais, astr, i64_tensor, B};
use super::check::{forward, kinds};
use crate::onnx::from_bytes;

/// A model that exercises most mappings and their attributes.
fn busy_model() -> B {
    B::new(&[2, 6, 6])
        .init("W", &[4, 1, 3, 3], &[0.1; 36])
        .init("cb", &[4], &[0.0; 4])
        .init("s", &[4], &[1.0; 4])
        .init("b", &[4], &[0.0; 4])
        .init("m", &[4], &[0.0; 4])
        .init("v", &[4], &[1.0; 4])
        .init("G", &[4, 5], &[0.2; 20])
        .init("M", &[5, 3], &[0.3; 15])
        .init("mb", &[3], &[0.1; 3])
        .init_t(i64_tensor("shape", &[0, -1]))
        .init_t(i64_tensor("pads", &[0, 0, 1, 0, 0, 0, 0, 1]))
        .node("Pad", "pad", &["x", "pads"], &["xp"], vec![])
        .node(
            "Conv",
            "conv",
            &["xp", "W", "cb"],
            &["c"],
            vec![
                ais("pads", &[0, 0, 1, 1]),
                ais("strides", &[1, 2]),
                ais("dilations", &[1, 1]),
                ai("group", 2),
            ],
        )
        .node(
            "BatchNormalization",
            "bn",
            &["c", "s", "b", "m", "v"],
            &["n"],
            vec![af("epsilon", 1e-3)],
        )
        .node("Relu", "relu", &["n"], &["r"], vec![])
        .node(
            "MaxPool",
            "mp",
            &["r"],
            &["p"],
            vec![
                ais("kernel_shape", &[2, 2]),
                ais("strides", &[1, 1]),
                ai("ceil_mode", 1),
            ],
        )
        .node(
            "AveragePool",
            "ap",
            &["p"],
            &["q"],
            vec![ais("kernel_shape", &[2, 2]), astr("auto_pad", "SAME_LOWER")],
        )
        .node("Add", "res", &["p", "q"], &["a"], vec![])
        .node("Concat", "cat", &["a", "q"], &["k"], vec![ai("axis", 1)])
        .node(
            "ReduceMean",
            "rm",
            &["a"],
            &["g"],
            vec![ais("axes", &[2, 3]), ai("keepdims", 0)],
        )
        .node("GlobalAveragePool", "gap", &["k"], &["h"], vec![])
        .node("Reshape", "rs", &["h", "shape"], &["f"], vec![])
        .node(
            "Gemm",
            "fc",
            &["g", "G"],
            &["z"],
            vec![ai("transB", 0), af("alpha", 0.5)],
        )
        .node("Clip", "clip", &["z", "", ""], &["zc"], vec![])
        .node("MatMul", "mm", &["zc", "M"], &["o"], vec![])
        .node("Add", "mb_add", &["o", "mb"], &["l"], vec![])
        .node("Flatten", "fl", &["l"], &["fl_out"], vec![ai("axis", 1)])
        .node("Softmax", "sm", &["fl_out"], &["y"], vec![ai("axis", -1)])
}

#[test]
fn busy_model_imports() {
    let g = busy_model().import().unwrap();
    assert_eq!(
        kinds(&g),
        [
            "Input",
            "Conv2d",
            "BatchNorm",
            "Relu",
            "MaxPool2d",
            "AvgPool2d",
            "Add",
            "GlobalAvgPool",
            "Reshape",
            "Dense",
            "Clip",
            "Dense",
            "Softmax"
        ]
    );
    assert_eq!(g.output_shape(), [3]);
    let x: Vec<f64> = (0..72).map(|v| (v as f64 * 0.37).sin()).collect();
    let y = forward(&g, 1, &x);
    assert!((y.iter().sum::<f64>() - 1.0).abs() < 1e-9);
}

/// Random byte edits of a valid model must give a graph or an error, never a panic or an
/// allocation the file does not back.
#[test]
fn mutated_models_never_panic() {
    let bytes = busy_model().bytes();
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut imported = 0;
    for _ in 0..20_000 {
        let mut b = bytes.clone();
        for _ in 0..1 + next() % 3 {
            let at = (next() % b.len() as u64) as usize;
            b[at] = next() as u8;
        }
        if from_bytes(&b, None).is_ok() {
            imported += 1;
        }
    }
    // Most edits hit weight bytes and still import.
    assert!(imported > 1000, "{imported}");
}
