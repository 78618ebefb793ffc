//! Errors: unsupported operators, malformed bytes, tensors of the wrong size.

use super::builder::{f32_tensor, i64_tensor, B};
use super::check::err_text;
use crate::error::Error;
use crate::onnx::from_bytes;

#[test]
fn unsupported_op_names_op_and_node() {
    let e = B::new(&[2])
        .node("LpNormalization", "norm", &["x"], &["y"], vec![])
        .import()
        .unwrap_err();
    assert!(
        matches!(&e, Error::UnsupportedOp { op, node, .. } if op == "LpNormalization" && node == "norm")
    );
    let e = e.to_string();
    assert!(
        e.contains("LpNormalization")
            && e.contains("'norm'")
            && e.contains("Conv, ConvTranspose, Gemm"),
        "{e}"
    );
    let mut b = B::new(&[2]).node("Relu", "custom", &["x"], &["y"], vec![]);
    b.nodes[0].domain = "com.microsoft".into();
    let e = err_text(b.import());
    assert!(e.contains("com.microsoft"), "{e}");
}

/// Shape arithmetic left by an exporter is folded; a Transpose that leaves the batch inside
/// another axis at the output is refused, naming the output.
#[test]
fn shape_arithmetic_is_folded_and_a_bad_transpose_named() {
    let hint = "fold the graph's constants first";
    // Shape arithmetic glimpse folds: Reshape(x, Shape(x)) is the identity.
    let g = B::new(&[1, 2, 3])
        .node("Shape", "shape", &["x"], &["s"], vec![])
        .node("Reshape", "flat", &["x", "s"], &["y"], vec![])
        .import()
        .unwrap();
    assert_eq!(g.nodes.len(), 1);
    // A constant transposed is folded too.
    let g = B::new(&[1, 2, 3])
        .init_t(i64_tensor("c", &[-1, 6]))
        .node("Transpose", "tc", &["c"], &["ct"], vec![])
        .node("Reshape", "flat", &["x", "ct"], &["y"], vec![])
        .import()
        .unwrap();
    assert_eq!(g.nodes[g.output].shape, [6]);
    let e = err_text(
        B::new(&[1, 2, 3])
            .node("Transpose", "t", &["x"], &["y"], vec![])
            .import(),
    );
    assert!(
        e.contains("'y'") && e.contains("batch") && !e.contains(hint),
        "{e}"
    );
}

#[test]
fn malformed_and_truncated_bytes() {
    let e = from_bytes(b"\xff\xff\xff\xff not a protobuf", None).unwrap_err();
    assert!(matches!(e, Error::Onnx(_)), "{e}");
    assert!(from_bytes(b"", None).is_err());

    let bytes = B::new(&[1, 2, 2])
        .init("W", &[2, 1, 1, 1], &[1.0, 2.0])
        .node("Conv", "conv", &["x", "W"], &["y"], vec![])
        .bytes();
    assert!(from_bytes(&bytes, None).is_ok());
    let e = from_bytes(&bytes[..bytes.len() / 2], None).unwrap_err();
    assert!(
        matches!(&e, Error::Onnx(m) if m.contains("truncated")),
        "{e}"
    );
    for cut in 0..bytes.len() {
        assert!(from_bytes(&bytes[..cut], None).is_err(), "cut at {cut}");
    }
}

#[test]
fn bad_tensor_sizes() {
    let mut w = f32_tensor("W", &[2, 1, 1, 1], &[1.0, 2.0]);
    w.raw_data.pop();
    let e = err_text(
        B::new(&[1, 2, 2])
            .init_t(w)
            .node("Conv", "conv", &["x", "W"], &["y"], vec![])
            .import(),
    );
    assert!(
        e.contains("'W'") && e.contains("raw_data holds 7 bytes"),
        "{e}"
    );
    let e = err_text(
        B::new(&[1, 2, 2])
            .init_t(f32_tensor("W", &[1 << 40, 1, 1, 1], &[1.0]))
            .node("Conv", "conv", &["x", "W"], &["y"], vec![])
            .import(),
    );
    assert!(e.contains("absurd"), "{e}");
    // An absurd graph input.
    let e = err_text(
        B::new(&[1 << 40, 1 << 40, 2])
            .node("Relu", "r", &["x"], &["y"], vec![])
            .import(),
    );
    assert!(e.contains("absurd"), "{e}");
}
