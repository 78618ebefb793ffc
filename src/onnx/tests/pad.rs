//! Pad: constant zeros on H and W fold into the Convs that read them; any other constant padding is a Pad layer; the rest is refused with the reason.

use super::builder::{ais, astr, f32_tensor, i64_tensor, B};
use super::check::{assert_close, err_text, forward, kinds, only};
use crate::model::Op;

fn conv_pads(g: &crate::model::Graph) -> [usize; 4] {
    only(g, |op| match op {
        Op::Conv2d(c) => Some(c),
        _ => None,
    })
    .pads
}

/// Pad (TensorFlow "SAME" at stride 2: one zero row and column after) then an unpadded Conv
/// computes what the Conv with those pads does.
#[test]
fn zero_pad_folds_into_the_conv() {
    let w: Vec<f32> = (0..9).map(|v| v as f32 - 4.0).collect();
    let padded = B::new(&[1, 6, 6])
        .init("W", &[1, 1, 3, 3], &w)
        .init_t(i64_tensor("pads", &[0, 0, 0, 0, 0, 0, 1, 1]))
        .node("Pad", "pad", &["x", "pads"], &["xp"], vec![])
        .node(
            "Conv",
            "conv",
            &["xp", "W"],
            &["y"],
            vec![ais("strides", &[2, 2])],
        )
        .import()
        .unwrap();
    assert_eq!(kinds(&padded), ["Input", "Conv2d"]);
    assert_eq!(conv_pads(&padded), [0, 0, 1, 1]);
    assert_eq!(padded.output_shape(), [1, 3, 3]);
    let explicit = B::new(&[1, 6, 6])
        .init("W", &[1, 1, 3, 3], &w)
        .node(
            "Conv",
            "conv",
            &["x", "W"],
            &["y"],
            vec![ais("strides", &[2, 2]), ais("pads", &[0, 0, 1, 1])],
        )
        .import()
        .unwrap();
    let x: Vec<f64> = (0..36).map(|v| (v as f64 * 0.37).sin()).collect();
    assert_close(&forward(&padded, 1, &x), &forward(&explicit, 1, &x));
}

/// Two Pads in a row add up.
#[test]
fn pads_in_a_row_add_up() {
    let g = B::new(&[1, 5, 5])
        .init("W", &[1, 1, 3, 3], &[1.0; 9])
        .init_t(i64_tensor("p1", &[0, 0, 1, 0, 0, 0, 0, 2]))
        .init_t(i64_tensor("p2", &[0, 0, 1, 1, 0, 0, 1, 1]))
        .node("Pad", "a", &["x", "p1"], &["xa"], vec![])
        .node("Pad", "b", &["xa", "p2"], &["xb"], vec![])
        .node("Conv", "c", &["xb", "W"], &["y"], vec![])
        .import()
        .unwrap();
    assert_eq!(conv_pads(&g), [2, 1, 1, 3]);
}

/// Opset 18's `axes` input, a zero constant_value, and the Conv's own pads on top.
#[test]
fn pad_with_axes_adds_to_the_conv_pads() {
    let g = B::new(&[2, 5, 5])
        .opset(18)
        .init("W", &[3, 2, 2, 2], &[0.5; 24])
        .init_t(i64_tensor("pads", &[1, 0, 2, 1]))
        .init_t(i64_tensor("axes", &[-2, 3]))
        .init_t(f32_tensor("zero", &[], &[0.0]))
        .node(
            "Pad",
            "pad",
            &["x", "pads", "zero", "axes"],
            &["xp"],
            vec![astr("mode", "constant")],
        )
        .node(
            "Conv",
            "conv",
            &["xp", "W"],
            &["y"],
            vec![ais("pads", &[1, 1, 0, 0])],
        )
        .import()
        .unwrap();
    // [top, left, bottom, right]: Pad gives H (1, 2) and W (0, 1); the Conv adds (1, 1) at the start.
    assert_eq!(conv_pads(&g), [2, 1, 2, 1]);
}

/// Two convolutions reading one Pad (through an Identity) each get its zeros; a Conv with
/// auto_pad SAME after a Pad computes its own pads on the padded size.
#[test]
fn pad_serves_every_conv_that_reads_it() {
    let g = B::new(&[1, 6, 6])
        .init("W", &[1, 1, 3, 3], &[1.0; 9])
        .init_t(i64_tensor("pads", &[0, 0, 1, 1, 0, 0, 1, 1]))
        .node("Pad", "pad", &["x", "pads"], &["xp"], vec![])
        .node("Identity", "id", &["xp"], &["xq"], vec![])
        .node("Conv", "a", &["xp", "W"], &["ya"], vec![])
        .node(
            "Conv",
            "b",
            &["xq", "W"],
            &["yb"],
            vec![astr("auto_pad", "SAME_UPPER"), ais("strides", &[2, 2])],
        )
        .node("Add", "sum", &["ya", "yb"], &["y"], vec![])
        .import();
    // a: 6 + 2 − 2 = 6 rows; b: the padded 8 rows at stride 2 give 4, SAME_UPPER adds (0, 1),
    // so b's total pads are [1, 1, 2, 2] and its output 4×4: the Add's shapes disagree.
    let e = err_text(g);
    assert!(e.contains("[1, 6, 6]") && e.contains("[1, 4, 4]"), "{e}");
    let g = B::new(&[1, 6, 6])
        .init("W", &[1, 1, 3, 3], &[1.0; 9])
        .init_t(i64_tensor("pads", &[0, 0, 1, 1, 0, 0, 1, 1]))
        .node("Pad", "pad", &["x", "pads"], &["xp"], vec![])
        .node(
            "Conv",
            "b",
            &["xp", "W"],
            &["y"],
            vec![astr("auto_pad", "SAME_UPPER"), ais("strides", &[2, 2])],
        )
        .import()
        .unwrap();
    assert_eq!(conv_pads(&g), [1, 1, 2, 2]);
    assert_eq!(g.output_shape(), [1, 4, 4]);
}

#[test]
fn other_constant_pads_are_pad_layers() {
    let x: Vec<f64> = (0..4).map(|v| v as f64 + 1.0).collect();
    // A border of ones on H and W, then a 1×1 convolution: the Pad is a layer of its own.
    let g = B::new(&[1, 2, 2])
        .init("W", &[1, 1, 1, 1], &[2.0])
        .init_t(i64_tensor("hw", &[0, 0, 1, 0, 0, 0, 0, 1]))
        .init_t(f32_tensor("one", &[], &[1.0]))
        .node("Pad", "p", &["x", "hw", "one"], &["xp"], vec![])
        .node("Conv", "c", &["xp", "W"], &["y"], vec![])
        .import()
        .unwrap();
    assert_eq!(kinds(&g), ["Input", "Pad", "Conv2d"]);
    assert_eq!(g.output_shape(), [1, 3, 3]);
    let want = [2., 2., 2., 2., 4., 2., 6., 8., 2.];
    assert_close(&forward(&g, 1, &x), &want);
    // Zeros on the channels, read by a ReLU and as the graph output.
    let g = B::new(&[1, 2, 2])
        .init_t(i64_tensor("ch", &[0, 1, 0, 0, 0, 0, 0, 0]))
        .node("Pad", "p", &["x", "ch"], &["xp"], vec![])
        .node("Relu", "r", &["xp"], &["y"], vec![])
        .import()
        .unwrap();
    assert_eq!(kinds(&g), ["Input", "Pad", "Relu"]);
    assert_close(&forward(&g, 1, &x), &[0., 0., 0., 0., 1., 2., 3., 4.]);
    let g = B::new(&[1, 2, 2])
        .init_t(i64_tensor("ch", &[0, 0, 0, 0, 0, 0, 1, 0]))
        .node("Pad", "p", &["x", "ch"], &["y"], vec![])
        .import()
        .unwrap();
    assert_eq!(g.output_shape(), [1, 3, 2]);
    // All zeros: nothing to do.
    let g = B::new(&[1, 2, 2])
        .init_t(i64_tensor("none", &[0; 8]))
        .node("Pad", "p", &["x", "none"], &["xp"], vec![])
        .node("Relu", "r", &["xp"], &["y"], vec![])
        .import()
        .unwrap();
    assert_eq!(kinds(&g), ["Input", "Relu"]);
}

#[test]
fn other_pads_are_refused_with_the_reason() {
    let base = || {
        B::new(&[1, 4, 4])
            .init("W", &[1, 1, 3, 3], &[1.0; 9])
            .init_t(i64_tensor("hw", &[0, 0, 1, 1, 0, 0, 1, 1]))
    };
    let conv = vec![];
    let cases: Vec<(B, &str)> = vec![
        (
            base()
                .node(
                    "Pad",
                    "p",
                    &["x", "hw"],
                    &["xp"],
                    vec![astr("mode", "reflect")],
                )
                .node("Conv", "c", &["xp", "W"], &["y"], conv.clone()),
            "mode 'reflect'",
        ),
        (
            base()
                .init_t(i64_tensor("crop", &[0, 0, -1, 0, 0, 0, 0, 0]))
                .node("Pad", "p", &["x", "crop"], &["xp"], vec![])
                .node("Conv", "c", &["xp", "W"], &["y"], conv.clone()),
            "cropping",
        ),
        (
            base()
                .opset(18)
                .init_t(i64_tensor("twice", &[1, 3, 1, 3]))
                .init_t(i64_tensor("axes", &[2, -2]))
                .node("Pad", "p", &["x", "twice", "", "axes"], &["xp"], vec![])
                .node("Conv", "c", &["xp", "W"], &["y"], conv.clone()),
            "axis -2 is given twice",
        ),
        (
            base().node("Pad", "p", &["x", "hw"], &["xp"], vec![]).node(
                "Conv",
                "c",
                &["x", "xp"],
                &["y"],
                conv.clone(),
            ),
            "'c'",
        ),
        (
            base()
                .init_t(i64_tensor("short", &[1, 1]))
                .node("Pad", "p", &["x", "short"], &["xp"], vec![])
                .node("Conv", "c", &["xp", "W"], &["y"], conv.clone()),
            "2 pads for 4 axes",
        ),
        (
            base()
                .init_t(i64_tensor("batch", &[1, 0, 0, 0, 0, 0, 0, 0]))
                .node("Pad", "p", &["x", "batch"], &["y"], vec![]),
            "pads the batch axis",
        ),
    ];
    for (model, want) in cases {
        let e = err_text(model.import());
        assert!(e.contains(want), "expected '{want}' in: {e}");
    }
}
