//! BatchNormalization: kept as a node, and folded into a Conv afterwards; LayerNormalization.

use super::builder::{af, ai, B};
use super::check::{assert_close, err_text, forward, kinds};
use crate::model::{fold_batch_norm, Op};

#[test]
fn batch_norm_stays_a_node() {
    let g = B::new(&[2, 1, 1])
        .init("s", &[2], &[2.0, 1.0])
        .init("b", &[2], &[1.0, 0.0])
        .init("m", &[2], &[1.0, -1.0])
        .init("v", &[2], &[4.0, 1.0])
        .node(
            "BatchNormalization",
            "bn",
            &["x", "s", "b", "m", "v"],
            &["y"],
            vec![af("epsilon", 0.0)],
        )
        .import()
        .unwrap();
    let Op::BatchNorm(bn) = &g.nodes[1].op else {
        panic!()
    };
    // scale = γ/√(σ²+ε), shift = β − μ·scale.
    assert_eq!(
        (bn.scale.clone(), bn.shift.clone()),
        (vec![1.0, 1.0], vec![0.0, 1.0])
    );
    assert_close(&forward(&g, 1, &[3.0, 3.0]), &[3.0, 4.0]);

    // Training-form outputs in use are refused.
    let e = err_text(
        B::new(&[2, 1, 1])
            .init("s", &[2], &[1.0; 2])
            .init("b", &[2], &[0.0; 2])
            .init("m", &[2], &[0.0; 2])
            .init("v", &[2], &[1.0; 2])
            .node(
                "BatchNormalization",
                "bn",
                &["x", "s", "b", "m", "v"],
                &["y", "rm", "rv"],
                vec![ai("training_mode", 1)],
            )
            .import(),
    );
    assert!(e.contains("training_mode"), "{e}");
}

#[test]
fn conv_then_batch_norm_folds_after_import() {
    let g = B::new(&[1, 2, 2])
        .init("W", &[2, 1, 1, 1], &[1.0, 2.0])
        .init("s", &[2], &[2.0, 1.0])
        .init("b", &[2], &[1.0, 0.0])
        .init("m", &[2], &[0.0, 1.0])
        .init("v", &[2], &[1.0, 1.0])
        .node("Conv", "conv", &["x", "W"], &["c"], vec![])
        .node(
            "BatchNormalization",
            "bn",
            &["c", "s", "b", "m", "v"],
            &["y"],
            vec![af("epsilon", 0.0)],
        )
        .import()
        .unwrap();
    assert_eq!(kinds(&g), ["Input", "Conv2d", "BatchNorm"]);
    let x = [1.0, 2.0, 3.0, 4.0];
    let before = forward(&g, 1, &x);
    let mut folded = g.clone();
    assert_eq!(fold_batch_norm(&mut folded), 1);
    assert_eq!(kinds(&folded), ["Input", "Conv2d"]);
    assert_close(&forward(&folded, 1, &x), &before);
}

#[test]
fn layer_normalization_normalises_the_trailing_axes() {
    let g = B::new(&[1, 2, 2])
        .opset(17)
        .init("s", &[2], &[1.0, 2.0])
        .init("b", &[2], &[0.5, 0.0])
        .node(
            "LayerNormalization",
            "ln",
            &["x", "s", "b"],
            &["y"],
            vec![af("epsilon", 0.0)],
        )
        .import()
        .unwrap();
    assert_eq!(kinds(&g), ["Input", "LayerNorm"]);
    // Rows (1, 3) and (-2, 2): x̂ = (−1, 1) each.
    assert_close(
        &forward(&g, 1, &[1.0, 3.0, -2.0, 2.0]),
        &[-0.5, 2.0, -0.5, 2.0],
    );
    let e = err_text(
        B::new(&[1, 2, 2])
            .opset(17)
            .init("s", &[3], &[1.0; 3])
            .node("LayerNormalization", "ln", &["x", "s"], &["y"], vec![])
            .import(),
    );
    assert!(e.contains("'ln'") && e.contains("3 values"), "{e}");
}
