//! Gemm and MatMul into Dense, and the bias Add folded into a MatMul.

use super::builder::{af, ai, B};
use super::check::{assert_close, err_text, forward, kinds};
use crate::model::Op;

#[test]
fn gemm_trans_b_alpha_beta() {
    // transB = 1: B is [out, in].
    let g = B::new(&[3])
        .init("B", &[2, 3], &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0])
        .init("C", &[2], &[1.0, -1.0])
        .node(
            "Gemm",
            "fc",
            &["x", "B", "C"],
            &["y"],
            vec![ai("transB", 1), af("alpha", 2.0), af("beta", 0.5)],
        )
        .import()
        .unwrap();
    let Op::Dense(d) = &g.nodes[1].op else {
        panic!()
    };
    assert_eq!(d.weight.shape, [2, 3]);
    assert_eq!(d.weight.data, [2.0, 4.0, 6.0, 8.0, 10.0, 12.0]);
    assert_eq!(d.bias.as_deref(), Some(&[0.5, -0.5][..]));
    // y = 2·B·x + 0.5·C for x = (1, 1, 2).
    assert_close(&forward(&g, 1, &[1.0, 1.0, 2.0]), &[18.5, 41.5]);

    // transB = 0: B is [in, out]; C of shape [1, out] and a scalar C broadcast.
    let b = [1.0, 4.0, 2.0, 5.0, 3.0, 6.0];
    for (cdims, cdata) in [(&[1i64, 2][..], &[1.0f32, -1.0][..]), (&[][..], &[3.0][..])] {
        let g = B::new(&[3])
            .init("B", &[3, 2], &b)
            .init("C", cdims, cdata)
            .node("Gemm", "fc", &["x", "B", "C"], &["y"], vec![])
            .import()
            .unwrap();
        let Op::Dense(d) = &g.nodes[1].op else {
            panic!()
        };
        assert_eq!(d.weight.data, [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
        let want = if cdata.len() == 2 {
            [1.0, -1.0]
        } else {
            [3.0, 3.0]
        };
        assert_eq!(d.bias.as_deref(), Some(&want[..]));
    }

    let e = err_text(
        B::new(&[3])
            .init("B", &[3, 2], &b)
            .node("Gemm", "fc", &["x", "B"], &["y"], vec![ai("transA", 1)])
            .import(),
    );
    assert!(e.contains("transA"), "{e}");
    let e = err_text(
        B::new(&[3])
            .init("B", &[3, 2], &b)
            .init("C", &[3], &[0.0; 3])
            .node("Gemm", "fc", &["x", "B", "C"], &["y"], vec![])
            .import(),
    );
    assert!(e.contains("C has shape [3]"), "{e}");
    // Gemm on an image needs a Flatten first.
    let e = err_text(
        B::new(&[1, 2, 2])
            .init("B", &[4, 2], &[0.0; 8])
            .node("Gemm", "fc", &["x", "B"], &["y"], vec![])
            .import(),
    );
    assert!(e.contains("Flatten"), "{e}");
}

#[test]
fn matmul_then_add_becomes_dense_with_bias() {
    let w = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]; // [in = 3, out = 2]
    for (order, bdims) in [(["mm", "b"], &[2i64][..]), (["b", "mm"], &[1, 2][..])] {
        let g = B::new(&[3])
            .init("W", &[3, 2], &w)
            .init("b", bdims, &[0.5, -0.5])
            .node("MatMul", "matmul", &["x", "W"], &["mm"], vec![])
            .node("Add", "bias", &order, &["y"], vec![])
            .import()
            .unwrap();
        assert_eq!(kinds(&g), ["Input", "Dense"]);
        let Op::Dense(d) = &g.nodes[1].op else {
            panic!()
        };
        assert_eq!(d.weight.shape, [2, 3]);
        assert_eq!(d.weight.data, [1.0, 3.0, 5.0, 2.0, 4.0, 6.0]);
        assert_eq!(g.nodes[1].name, "matmul");
        assert_close(&forward(&g, 1, &[1.0, 0.0, 1.0]), &[6.5, 7.5]);
    }
    // MatMul alone has no bias.
    let g = B::new(&[3])
        .init("W", &[3, 2], &w)
        .node("MatMul", "", &["x", "W"], &["y"], vec![])
        .import()
        .unwrap();
    assert_eq!(g.nodes[1].name, "MatMul_0");
    let Op::Dense(d) = &g.nodes[1].op else {
        panic!()
    };
    assert!(d.bias.is_none());

    // An Add of a constant anywhere else adds a constant node.
    let g = B::new(&[2])
        .init("b", &[2], &[1.0, 2.0])
        .node("Relu", "r", &["x"], &["h"], vec![])
        .node("Add", "shift", &["h", "b"], &["y"], vec![])
        .import()
        .unwrap();
    assert_eq!(kinds(&g), ["Input", "Relu", "Constant", "Add"]);
    assert_close(
        &forward(&g, 2, &[-1.0, 3.0, 2.0, -2.0]),
        &[1.0, 5.0, 3.0, 2.0],
    );
    // ... and so does one after a MatMul whose output something else reads too.
    let g = B::new(&[3])
        .init("W", &[3, 2], &w)
        .init("b", &[2], &[1.0, 1.0])
        .node("MatMul", "mm", &["x", "W"], &["h"], vec![])
        .node("Add", "bias", &["h", "b"], &["a"], vec![])
        .node("Add", "sum", &["a", "h"], &["y"], vec![])
        .import()
        .unwrap();
    assert_eq!(kinds(&g), ["Input", "Dense", "Constant", "Add", "Add"]);
    // A bias of the wrong length does not broadcast.
    let e = err_text(
        B::new(&[3])
            .init("W", &[3, 2], &w)
            .init("b", &[3], &[1.0; 3])
            .node("MatMul", "mm", &["x", "W"], &["h"], vec![])
            .node("Add", "bias", &["h", "b"], &["y"], vec![])
            .import(),
    );
    assert!(e.contains("'bias'") && e.contains("broadcast"), "{e}");
}

/// MatMul on `[N, .., rows, in]` (a Linear on channels-last maps or tokens) is one dense layer
/// per row; the Add after it is its bias.
#[test]
fn matmul_on_rows_is_a_token_wise_dense_layer() {
    let g = B::new(&[1, 2, 3])
        .init("w", &[3, 2], &[1.0, 0.0, 0.0, 1.0, 1.0, 1.0])
        .init("b", &[2], &[0.5, -0.5])
        .node("MatMul", "mm", &["x", "w"], &["h"], vec![])
        .node("Add", "bias", &["h", "b"], &["y"], vec![])
        .import()
        .unwrap();
    assert_eq!(kinds(&g), ["Input", "TokenDense"]);
    assert_eq!(g.nodes[1].shape, [1, 2, 2]);
    // Rows (1, 2, 3) and (0, -1, 4): (x0 + x2, x1 + x2) + b.
    let y = forward(&g, 1, &[1.0, 2.0, 3.0, 0.0, -1.0, 4.0]);
    assert_close(&y, &[4.5, 4.5, 4.5, 2.5]);
}
