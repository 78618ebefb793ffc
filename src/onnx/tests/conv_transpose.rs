//! ConvTranspose: scattering by hand, pads from output_shape and auto_pad (as the spec derives
//! them), groups, output_padding, and what is rejected.

use super::builder::{ai, ais, astr, B};
use super::check::{assert_close, err_text, forward, kinds, only};
use crate::model::Op;
use crate::onnx::proto::AttributeProto;

fn transposed(item: &[i64], w: &[i64], attrs: Vec<AttributeProto>) -> B {
    let n: i64 = w.iter().product();
    let data: Vec<f32> = (1..=n).map(|v| v as f32).collect();
    B::new(item)
        .init("W", w, &data)
        .node("ConvTranspose", "up", &["x", "W"], &["y"], attrs)
}

#[test]
fn stride_two_scatters_the_kernel_without_overlap_and_adds_the_bias() {
    let g = transposed(&[1, 2, 2], &[1, 1, 2, 2], vec![ais("strides", &[2, 2])])
        .import()
        .unwrap();
    assert_eq!(kinds(&g), ["Input", "ConvTranspose2d"]);
    assert_eq!(g.output_shape(), [1, 4, 4]);
    let y = forward(&g, 1, &[1.0, 2.0, 3.0, 4.0]);
    // Each input value times W = [1 2; 3 4] in its own 2×2 block.
    #[rustfmt::skip]
    let want = [
        1.0, 2.0, 2.0, 4.0,
        3.0, 4.0, 6.0, 8.0,
        3.0, 6.0, 4.0, 8.0,
        9.0, 12.0, 12.0, 16.0,
    ];
    assert_close(&y, &want);
    let g = B::new(&[1, 2, 2])
        .init("W", &[1, 1, 2, 2], &[1.0; 4])
        .init("b", &[1], &[0.5])
        .node("ConvTranspose", "up", &["x", "W", "b"], &["y"], vec![])
        .import()
        .unwrap();
    // Stride 1: overlapping 2×2 kernels of ones give the sums of the inputs each output sees.
    let y = forward(&g, 1, &[1.0, 2.0, 3.0, 4.0]);
    let want = [1.0, 3.0, 2.0, 4.0, 10.0, 6.0, 3.0, 7.0, 4.0].map(|v| v + 0.5);
    assert_close(&y, &want);
}

#[test]
fn pads_from_attributes_output_shape_and_auto_pad() {
    let case = |attrs: Vec<AttributeProto>| {
        let g = transposed(&[1, 3, 3], &[1, 1, 3, 3], attrs)
            .import()
            .unwrap();
        let c = only(&g, |op| match op {
            Op::ConvTranspose2d(c) => Some(c),
            _ => None,
        });
        (c.pads, c.output_padding, g.output_shape().to_vec())
    };
    let s2 = || ais("strides", &[2, 2]);
    // Full output: (3 − 1)·2 + 3 = 7 per axis.
    assert_eq!(case(vec![s2()]), ([0; 4], [0, 0], vec![1, 7, 7]));
    assert_eq!(
        case(vec![s2(), ais("pads", &[1, 0, 2, 1])]),
        ([1, 0, 2, 1], [0, 0], vec![1, 4, 6])
    );
    assert_eq!(
        case(vec![
            s2(),
            ais("pads", &[1, 1, 1, 1]),
            ais("output_padding", &[1, 0])
        ]),
        ([1, 1, 1, 1], [1, 0], vec![1, 6, 5])
    );
    // SAME_*: output = input · stride = 6, one value of padding: the smaller half first for
    // SAME_UPPER, the larger for SAME_LOWER (onnxruntime agrees).
    assert_eq!(
        case(vec![s2(), astr("auto_pad", "SAME_UPPER")]),
        ([0, 0, 1, 1], [0, 0], vec![1, 6, 6])
    );
    assert_eq!(
        case(vec![s2(), astr("auto_pad", "SAME_LOWER")]),
        ([1, 1, 0, 0], [0, 0], vec![1, 6, 6])
    );
    assert_eq!(
        case(vec![s2(), astr("auto_pad", "VALID")]),
        ([0; 4], [0, 0], vec![1, 7, 7])
    );
    // output_shape overrides pads; with NOTSET the larger half comes first.
    assert_eq!(
        case(vec![
            s2(),
            ais("output_shape", &[6, 4]),
            ais("pads", &[9, 9, 9, 9])
        ]),
        ([1, 2, 0, 1], [0, 0], vec![1, 6, 4])
    );
    assert_eq!(
        case(vec![
            s2(),
            ais("output_shape", &[1, 1, 6, 5]),
            astr("auto_pad", "SAME_UPPER")
        ]),
        ([0, 1, 1, 1], [0, 0], vec![1, 6, 5])
    );
    assert_eq!(
        case(vec![
            ais("output_shape", &[8, 8]),
            ais("output_padding", &[3, 3]),
            s2()
        ]),
        ([1, 1, 1, 1], [3, 3], vec![1, 8, 8])
    );
}

#[test]
fn groups_dilation_and_output_padding() {
    // Two groups: output channel 0 sums input channels 0, 1; channel 1 sums 2, 3.
    let g = B::new(&[4, 1, 1])
        .init("W", &[4, 1, 1, 1], &[1.0, 2.0, 3.0, 4.0])
        .node(
            "ConvTranspose",
            "g",
            &["x", "W"],
            &["y"],
            vec![ai("group", 2)],
        )
        .import()
        .unwrap();
    assert_eq!(g.output_shape(), [2, 1, 1]);
    assert_close(&forward(&g, 1, &[1.0, 1.0, 1.0, 1.0]), &[3.0, 7.0]);
    // Dilation 2 spreads a 2-tap kernel over 3 columns; output padding adds a column of bias.
    let g = B::new(&[1, 1, 1])
        .init("W", &[1, 1, 1, 2], &[1.0, 2.0])
        .init("b", &[1], &[0.25])
        .node(
            "ConvTranspose",
            "d",
            &["x", "W", "b"],
            &["y"],
            vec![
                ais("dilations", &[1, 2]),
                ais("strides", &[1, 2]),
                ais("output_padding", &[0, 1]),
            ],
        )
        .import()
        .unwrap();
    assert_eq!(g.output_shape(), [1, 1, 4]);
    assert_close(&forward(&g, 1, &[2.0]), &[2.25, 0.25, 4.25, 0.25]);
}

#[test]
fn what_is_rejected() {
    let e =
        err_text(transposed(&[1, 3, 3], &[1, 1, 3, 3], vec![astr("auto_pad", "SAME")]).import());
    assert!(e.contains("auto_pad 'SAME'"), "{e}");
    // An output larger than the full one would need negative padding.
    let e = err_text(
        transposed(
            &[1, 3, 3],
            &[1, 1, 3, 3],
            vec![ais("output_shape", &[9, 5])],
        )
        .import(),
    );
    assert!(
        e.contains("output_shape") && e.contains("-4 padding"),
        "{e}"
    );
    // Stride 4 with a 1×1 kernel cannot reach input · stride without negative padding.
    let e = err_text(
        transposed(
            &[1, 3, 3],
            &[1, 1, 1, 1],
            vec![ais("strides", &[4, 4]), astr("auto_pad", "SAME_UPPER")],
        )
        .import(),
    );
    assert!(e.contains("auto_pad SAME_UPPER"), "{e}");
    let e = err_text(
        transposed(
            &[1, 3, 3],
            &[1, 1, 3, 3],
            vec![ais("kernel_shape", &[2, 2])],
        )
        .import(),
    );
    assert!(e.contains("kernel_shape"), "{e}");
    let e = err_text(transposed(&[3, 3, 3], &[3, 1, 1, 1], vec![ai("group", 2)]).import());
    assert!(e.contains("group"), "{e}");
    let e = err_text(transposed(&[1, 3, 3], &[1, 1, 3], vec![]).import());
    assert!(e.contains("2-D"), "{e}");
    let e =
        err_text(transposed(&[1, 3, 3], &[1, 1, 3, 3], vec![ais("pads", &[4, 4, 4, 4])]).import());
    assert!(e.contains("nothing is left"), "{e}");
    let e = err_text(
        transposed(
            &[1, 3, 3],
            &[1, 1, 3, 3],
            vec![ais("output_padding", &[-1, 0])],
        )
        .import(),
    );
    assert!(e.contains("output_padding"), "{e}");
}
