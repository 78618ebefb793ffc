//! Transpose, Slice and Split of activations, and the shape arithmetic exporters write around
//! them folded at import (ShuffleNetV2's channel shuffle and `chunk`).

use super::builder::{ai, ais, i64_tensor, B};
use super::check::{assert_close, err_text, forward, kinds};

fn iota(n: usize) -> Vec<f64> {
    (0..n).map(|v| v as f64).collect()
}

/// A channel shuffle of 4 channels in 2 groups, as torchvision writes it: Reshape to
/// [N, 2, 2, H, W], Transpose(0, 2, 1, 3, 4), Reshape back.
#[test]
fn a_channel_shuffle_reorders_the_channels() {
    let g = B::new(&[4, 1, 2])
        .init_t(i64_tensor("s5", &[-1, 2, 2, 1, 2]))
        .init_t(i64_tensor("s4", &[-1, 4, 1, 2]))
        .node("Reshape", "r1", &["x", "s5"], &["a"], vec![])
        .node(
            "Transpose",
            "t",
            &["a"],
            &["b"],
            vec![ais("perm", &[0, 2, 1, 3, 4])],
        )
        .node("Reshape", "r2", &["b", "s4"], &["y"], vec![])
        .import()
        .unwrap();
    assert_eq!(kinds(&g), ["Input", "Reshape", "Transpose", "Reshape"]);
    // Channels 0 1 2 3 -> 0 2 1 3, two values each; batch 2.
    let x = iota(16);
    let want = [
        0., 1., 4., 5., 2., 3., 6., 7., 8., 9., 12., 13., 10., 11., 14., 15.,
    ];
    assert_close(&forward(&g, 2, &x), &want);
}

#[test]
fn split_follows_each_opset_form() {
    let x = iota(6);
    // Opset 18: num_outputs, uneven (2 + 1 channels).
    let g18 = B::new(&[3, 1, 2])
        .opset(18)
        .node(
            "Split",
            "sp",
            &["x"],
            &["a", "b"],
            vec![ai("axis", 1), ai("num_outputs", 2)],
        )
        .node("Concat", "c", &["b", "a"], &["y"], vec![ai("axis", 1)])
        .import()
        .unwrap();
    assert_close(&forward(&g18, 1, &x), &[4., 5., 0., 1., 2., 3.]);
    // Opset 13: sizes as an input; opset 11: as an attribute.
    let g13 = B::new(&[3, 1, 2])
        .init_t(i64_tensor("sizes", &[1, 2]))
        .node(
            "Split",
            "sp",
            &["x", "sizes"],
            &["a", "b"],
            vec![ai("axis", -3)],
        )
        .node("Concat", "c", &["b", "a"], &["y"], vec![ai("axis", 1)])
        .import()
        .unwrap();
    assert_close(&forward(&g13, 1, &x), &[2., 3., 4., 5., 0., 1.]);
    let g11 = B::new(&[3, 1, 2])
        .opset(11)
        .node(
            "Split",
            "sp",
            &["x"],
            &["a", "b"],
            vec![ai("axis", 3), ais("split", &[1, 1])],
        )
        .node("Concat", "c", &["b", "a"], &["y"], vec![ai("axis", -1)])
        .import()
        .unwrap();
    assert_close(&forward(&g11, 1, &x), &[1., 0., 3., 2., 5., 4.]);
    let e = err_text(
        B::new(&[3, 1, 2])
            .node("Split", "sp", &["x"], &["a", "b"], vec![ai("axis", 0)])
            .import(),
    );
    assert!(e.contains("'sp'") && e.contains("batch"), "{e}");
}

#[test]
fn slices_take_negative_indices_and_steps() {
    let g = B::new(&[6])
        .init_t(i64_tensor("st", &[-1]))
        .init_t(i64_tensor("en", &[0]))
        .init_t(i64_tensor("ax", &[1]))
        .init_t(i64_tensor("sp", &[-2]))
        .node("Slice", "s", &["x", "st", "en", "ax", "sp"], &["y"], vec![])
        .import()
        .unwrap();
    assert_eq!(g.nodes[1].shape, [3]);
    assert_close(&forward(&g, 1, &iota(6)), &[5., 3., 1.]);
    let e = err_text(
        B::new(&[6])
            .init_t(i64_tensor("st", &[1]))
            .init_t(i64_tensor("en", &[2]))
            .init_t(i64_tensor("ax", &[0]))
            .node("Slice", "s", &["x", "st", "en", "ax"], &["y"], vec![])
            .import(),
    );
    assert!(e.contains("'s'") && e.contains("batch"), "{e}");
}

/// TorchScript's `x.chunk(2, dim=1)[1]`: Shape → Gather → Add → Div → Mul → Slice, folded.
#[test]
fn shape_arithmetic_on_static_shapes_is_folded() {
    let b = || {
        B::new(&[4, 1, 1])
            .init_t(i64_tensor("one", &[1]))
            .init_t(i64_tensor("two", &[2]))
            .init_t(i64_tensor("big", &[i64::MAX]))
            .node("Shape", "shape", &["x"], &["s"], vec![])
            .node("Gather", "g", &["s", "one"], &["c"], vec![ai("axis", 0)])
            .node("Add", "a", &["c", "one"], &["c1"], vec![])
            .node("Div", "d", &["c1", "two"], &["half"], vec![])
            .node("Mul", "m", &["half", "one"], &["start"], vec![])
            .node("Slice", "sl", &["x", "start", "big", "one"], &["y"], vec![])
    };
    // Only the channel count is read: the batch may stay symbolic.
    let g = b().import().unwrap();
    assert_eq!(kinds(&g), ["Input", "Slice"]);
    assert_close(&forward(&g, 1, &iota(4)), &[2., 3.]);
    // A shape that reads the batch size needs a fixed one.
    let view = |b: B| {
        b.init_t(i64_tensor("zero", &[0]))
            .init_t(i64_tensor("minus", &[-1]))
            .node("Shape", "shape", &["x"], &["s"], vec![])
            .node("Gather", "g", &["s", "zero"], &["n"], vec![ai("axis", 0)])
            .node(
                "Concat",
                "c",
                &["n", "minus"],
                &["target"],
                vec![ai("axis", 0)],
            )
            .node("Reshape", "r", &["x", "target"], &["y"], vec![])
    };
    for b in [B::new(&[4, 1, 1]).batch(1), B::new(&[4, 1, 1])] {
        let g = view(b).import().unwrap();
        assert_eq!(g.nodes[g.output].shape, [4]);
    }
    // The open batch size anywhere but first in a Reshape's target is refused, naming the node.
    let e = err_text(
        B::new(&[4, 1, 1])
            .init_t(i64_tensor("zero", &[0]))
            .init_t(i64_tensor("four", &[4]))
            .node("Shape", "shape", &["x"], &["s"], vec![])
            .node("Gather", "g", &["s", "zero"], &["n"], vec![ai("axis", 0)])
            .node("Mul", "m", &["n", "four"], &["n4"], vec![])
            .node(
                "Concat",
                "c",
                &["four", "n"],
                &["target"],
                vec![ai("axis", 0)],
            )
            .node("Reshape", "r", &["x", "target"], &["y"], vec![])
            .import(),
    );
    assert!(e.contains("'y'") && e.contains("batch"), "{e}");
    // Float arithmetic on constants folds too; the result feeds a scale.
    let scaled = B::new(&[2])
        .init("h", &[], &[0.25])
        .init("k", &[], &[2.0])
        .node("Mul", "m", &["h", "k"], &["c"], vec![])
        .node("Mul", "s", &["x", "c"], &["y"], vec![])
        .import()
        .unwrap();
    assert_close(&forward(&scaled, 1, &[2.0, -4.0]), &[1.0, -2.0]);
}

#[test]
fn a_transpose_that_moves_the_batch_is_refused_by_name() {
    let e = err_text(
        B::new(&[6])
            .init_t(i64_tensor("s", &[-1, 2, 3]))
            .node("Reshape", "r", &["x", "s"], &["a"], vec![])
            .node(
                "Transpose",
                "t",
                &["a"],
                &["y"],
                vec![ais("perm", &[1, 0, 2])],
            )
            .import(),
    );
    assert!(e.contains("'y'") && e.contains("batch"), "{e}");
}
