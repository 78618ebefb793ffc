//! Add, Concat and Softmax (as the last layer).

use super::builder::{ai, B};
use super::check::{assert_close, err_text, forward, kinds};

#[test]
fn add_concat_softmax() {
    let g = B::new(&[1, 2, 2])
        .init("lo", &[], &[0.0])
        .init("hi", &[], &[1.0])
        .node("Relu", "a", &["x"], &["ra"], vec![])
        .node("Clip", "b", &["x", "lo", "hi"], &["cb"], vec![])
        .node("Add", "sum", &["ra", "cb"], &["s"], vec![])
        .node("Concat", "cat", &["s", "x"], &["y"], vec![ai("axis", -3)])
        .import()
        .unwrap();
    assert_eq!(kinds(&g), ["Input", "Relu", "Clip", "Add", "Concat"]);
    assert_eq!(g.output_shape(), [2, 2, 2]);
    assert_close(
        &forward(&g, 1, &[-1.0, 0.5, 2.0, 3.0]),
        &[0.0, 1.0, 3.0, 4.0, -1.0, 0.5, 2.0, 3.0],
    );
    let e = err_text(
        B::new(&[1, 2, 2])
            .node("Concat", "cat", &["x", "x"], &["y"], vec![ai("axis", 0)])
            .import(),
    );
    assert!(e.contains("'cat'") && e.contains("items"), "{e}");

    let g = B::new(&[2])
        .node("Softmax", "sm", &["x"], &["y"], vec![])
        .import()
        .unwrap();
    let y = forward(&g, 1, &[0.0, 2f64.ln()]);
    assert_close(&y, &[1.0 / 3.0, 2.0 / 3.0]);
    // Opset 11: axis 1 of an image is a softmax over all its features.
    let g = B::new(&[2, 1, 1])
        .node("Softmax", "sm", &["x"], &["y"], vec![])
        .opset(11)
        .import()
        .unwrap();
    assert_eq!(kinds(&g), ["Input", "Softmax"]);
    // From opset 13, along one axis (here the channels of each pixel), anywhere in the graph.
    let g = B::new(&[2, 1, 2])
        .node("Softmax", "sm", &["x"], &["s"], vec![ai("axis", 1)])
        .node("Relu", "after", &["s"], &["y"], vec![])
        .import()
        .unwrap();
    assert_eq!(kinds(&g), ["Input", "Softmax", "Relu"]);
    let y = forward(&g, 1, &[0.0, 0.0, 2f64.ln(), 0.0]);
    assert_close(&y, &[1.0 / 3.0, 0.5, 2.0 / 3.0, 0.5]);
    // Never along the batch.
    let e = err_text(
        B::new(&[4])
            .node("Softmax", "sm", &["x"], &["y"], vec![ai("axis", 0)])
            .import(),
    );
    assert!(e.contains("'sm'") && e.contains("items"), "{e}");
}
