//! Conv: pads, auto_pad, dilation, stride, groups, bias, and what is rejected.

use super::builder::{ai, ais, astr, B};
use super::check::{assert_close, err_text, forward, kinds, only};
use crate::model::Op;

#[test]
fn conv_asymmetric_pads_dilation_stride_bias() {
    let w: Vec<f32> = (0..8).map(|v| v as f32).collect();
    let g = B::new(&[1, 4, 4])
        .init("W", &[2, 1, 2, 2], &w)
        .init("b", &[2], &[0.5, -1.0])
        .node(
            "Conv",
            "conv",
            &["x", "W", "b"],
            &["y"],
            vec![
                ais("kernel_shape", &[2, 2]),
                ais("pads", &[0, 1, 1, 0]),
                ais("strides", &[1, 2]),
                ais("dilations", &[1, 1]),
            ],
        )
        .import()
        .unwrap();
    assert_eq!(kinds(&g), ["Input", "Conv2d"]);
    let c = only(&g, |op| match op {
        Op::Conv2d(c) => Some(c),
        _ => None,
    });
    assert_eq!(c.pads, [0, 1, 1, 0]);
    assert_eq!(c.stride, [1, 2]);
    assert_eq!(c.bias.as_deref(), Some(&[0.5, -1.0][..]));
    // H: 4 + 0 + 1 − 2 + 1 = 4 rows; W: (4 + 1 + 0 − 2) / 2 + 1 = 2 columns.
    assert_eq!(g.output_shape(), [2, 4, 2]);
    assert_eq!(g.nodes[1].name, "conv");
    // x = 1 everywhere: output (channel 0, row 0, col 0) sees the left pad column, so only
    // taps (0,1) and (1,1) of W[0] = [0 1; 2 3] hit: 1 + 3 + 0.5.
    let y = forward(&g, 1, &[1.0; 16]);
    assert_eq!(y[0], 4.5);
    // Last row (3) sees the bottom pad row: taps (0,0),(0,1) at col 1 → 0 + 1 + 0.5.
    assert_eq!(y[3 * 2 + 1], 1.5);
    // Channel 1: W[1] = [4 5; 6 7], bias −1; centre output (1, 1) sees all four taps.
    assert_eq!(y[8 + 2 + 1], 4.0 + 5.0 + 6.0 + 7.0 - 1.0);
}

#[test]
fn conv_auto_pad_same_upper_lower_valid() {
    let case = |auto: &str, k: i64, s: i64| {
        let g = B::new(&[1, 5, 5])
            .init("W", &[1, 1, k, k], &vec![1.0; (k * k) as usize])
            .node(
                "Conv",
                "c",
                &["x", "W"],
                &["y"],
                vec![astr("auto_pad", auto), ais("strides", &[s, s])],
            )
            .import()
            .unwrap();
        let Op::Conv2d(c) = &g.nodes[1].op else {
            panic!()
        };
        (c.pads, g.output_shape().to_vec())
    };
    assert_eq!(case("SAME_UPPER", 2, 1), ([0, 0, 1, 1], vec![1, 5, 5]));
    assert_eq!(case("SAME_LOWER", 2, 1), ([1, 1, 0, 0], vec![1, 5, 5]));
    assert_eq!(case("SAME_UPPER", 3, 2), ([1, 1, 1, 1], vec![1, 3, 3]));
    assert_eq!(case("SAME_UPPER", 2, 2), ([0, 0, 1, 1], vec![1, 3, 3]));
    assert_eq!(case("SAME_LOWER", 2, 2), ([1, 1, 0, 0], vec![1, 3, 3]));
    assert_eq!(case("VALID", 3, 1), ([0; 4], vec![1, 3, 3]));
    assert_eq!(case("NOTSET", 3, 1), ([0; 4], vec![1, 3, 3]));
}

#[test]
fn conv_groups_and_depthwise() {
    // Two groups of two channels; each output channel sums its group's inputs.
    let g = B::new(&[4, 1, 1])
        .init("W", &[4, 2, 1, 1], &[1.0; 8])
        .node("Conv", "grouped", &["x", "W"], &["y"], vec![ai("group", 2)])
        .import()
        .unwrap();
    let Op::Conv2d(c) = &g.nodes[1].op else {
        panic!()
    };
    assert_eq!((c.groups, c.bias.is_none()), (2, true));
    assert_close(
        &forward(&g, 1, &[1.0, 2.0, 3.0, 4.0]),
        &[3.0, 3.0, 7.0, 7.0],
    );
    let g = B::new(&[3, 2, 2])
        .init("W", &[3, 1, 1, 1], &[1.0, 2.0, 3.0])
        .node("Conv", "dw", &["x", "W"], &["y"], vec![ai("group", 3)])
        .import()
        .unwrap();
    assert_eq!(g.output_shape(), [3, 2, 2]);
    assert_close(&forward(&g, 1, &[1.0; 12])[..5], &[1.0, 1.0, 1.0, 1.0, 2.0]);
}

#[test]
fn conv_rejects_computed_weight_and_1d() {
    let e = err_text(
        B::new(&[1, 3, 3])
            .node("Relu", "r", &["x"], &["w"], vec![])
            .node("Conv", "conv", &["x", "w"], &["y"], vec![])
            .import(),
    );
    assert!(
        e.contains("Conv") && e.contains("'conv'") && e.contains("constant"),
        "{e}"
    );
    let e = err_text(
        B::new(&[1, 3, 3])
            .init("W", &[1, 1, 3], &[1.0; 3])
            .node("Conv", "c1d", &["x", "W"], &["y"], vec![])
            .import(),
    );
    assert!(e.contains("2-D"), "{e}");
}
