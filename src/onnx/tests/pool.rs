//! MaxPool, AveragePool, GlobalAveragePool, ReduceMean and ReduceSum.

use super::builder::{ai, ais, astr, i64_tensor, B};
use super::check::{assert_close, err_text, forward, kinds};
use crate::model::Op;

#[test]
fn pools_and_their_attributes() {
    let g = B::new(&[1, 5, 5])
        .node(
            "MaxPool",
            "mp",
            &["x"],
            &["y"],
            vec![
                ais("kernel_shape", &[2, 2]),
                ais("strides", &[2, 2]),
                ai("ceil_mode", 1),
                ai("storage_order", 0),
            ],
        )
        .import()
        .unwrap();
    assert_eq!(g.output_shape(), [1, 3, 3]);
    let Op::MaxPool2d(p) = &g.nodes[1].op else {
        panic!()
    };
    assert!(p.ceil_mode);
    let x: Vec<f64> = (0..25).map(|v| v as f64).collect();
    assert_close(
        &forward(&g, 1, &x),
        &[6.0, 8.0, 9.0, 16.0, 18.0, 19.0, 21.0, 23.0, 24.0],
    );

    for (cip, corner) in [(0, 1.0), (1, 0.25)] {
        let g = B::new(&[1, 2, 2])
            .node(
                "AveragePool",
                "ap",
                &["x"],
                &["y"],
                vec![
                    ais("kernel_shape", &[2, 2]),
                    ais("pads", &[1, 1, 1, 1]),
                    ai("count_include_pad", cip),
                ],
            )
            .import()
            .unwrap();
        let Op::AvgPool2d(p) = &g.nodes[1].op else {
            panic!()
        };
        assert_eq!((p.pads, p.count_include_pad), ([1; 4], cip == 1));
        let y = forward(&g, 1, &[1.0; 4]);
        assert_eq!(y.len(), 9);
        assert_close(&[y[0], y[4]], &[corner, 1.0]);
    }

    let g = B::new(&[1, 4, 4])
        .node(
            "MaxPool",
            "same",
            &["x"],
            &["y"],
            vec![
                ais("kernel_shape", &[3, 3]),
                ais("strides", &[2, 2]),
                astr("auto_pad", "SAME_UPPER"),
            ],
        )
        .import()
        .unwrap();
    assert_eq!(g.output_shape(), [1, 2, 2]);

    let e = err_text(
        B::new(&[1, 4, 4])
            .node(
                "MaxPool",
                "mp",
                &["x"],
                &["y", "idx"],
                vec![ais("kernel_shape", &[2, 2])],
            )
            .node("Relu", "r", &["idx"], &["z"], vec![])
            .node("Add", "a", &["y", "z"], &["out"], vec![])
            .import(),
    );
    assert!(e.contains("Indices"), "{e}");
    // An Indices output nobody reads is fine.
    B::new(&[1, 4, 4])
        .node(
            "MaxPool",
            "mp",
            &["x"],
            &["y", "idx"],
            vec![ais("kernel_shape", &[2, 2])],
        )
        .import()
        .unwrap();
    let e = err_text(
        B::new(&[1, 5, 5])
            .node(
                "MaxPool",
                "mp",
                &["x"],
                &["y"],
                vec![ais("kernel_shape", &[2, 2]), ais("dilations", &[2, 2])],
            )
            .import(),
    );
    assert!(e.contains("dilations"), "{e}");
}

#[test]
fn global_average_pool_and_reduce_mean_forms() {
    let x: Vec<f64> = (0..8).map(|v| v as f64).collect(); // [1, 2, 2, 2]
    let g = B::new(&[2, 2, 2])
        .node("GlobalAveragePool", "gap", &["x"], &["y"], vec![])
        .import()
        .unwrap();
    assert_eq!(g.output_shape(), [2, 1, 1]);
    assert_close(&forward(&g, 1, &x), &[1.5, 5.5]);

    // Opset 13: axes as an attribute.
    let g = B::new(&[2, 2, 2])
        .node(
            "ReduceMean",
            "rm",
            &["x"],
            &["y"],
            vec![ais("axes", &[2, 3]), ai("keepdims", 1)],
        )
        .import()
        .unwrap();
    assert_eq!(
        (kinds(&g), g.output_shape()),
        (vec!["Input", "GlobalAvgPool"], &[2, 1, 1][..])
    );
    let g = B::new(&[2, 2, 2])
        .node(
            "ReduceMean",
            "rm",
            &["x"],
            &["y"],
            vec![ais("axes", &[-1, -2]), ai("keepdims", 0)],
        )
        .import()
        .unwrap();
    assert_eq!(kinds(&g), ["Input", "GlobalAvgPool", "Reshape"]);
    assert_eq!(g.output_shape(), [2]);
    assert_close(&forward(&g, 1, &x), &[1.5, 5.5]);

    // Opset 18: axes as an input.
    for keepdims in [1, 0] {
        let g = B::new(&[2, 2, 2])
            .init_t(i64_tensor("axes", &[3, 2]))
            .node(
                "ReduceMean",
                "rm",
                &["x", "axes"],
                &["y"],
                vec![ai("keepdims", keepdims)],
            )
            .opset(18)
            .import()
            .unwrap();
        let want: &[usize] = if keepdims == 1 { &[2, 1, 1] } else { &[2] };
        assert_eq!(g.output_shape(), want);
    }
    let e = err_text(
        B::new(&[2, 2, 2])
            .node(
                "ReduceMean",
                "rm",
                &["x"],
                &["y"],
                vec![ais("axes", &[0, 1])],
            )
            .import(),
    );
    assert!(e.contains("batch") && e.contains("'rm'"), "{e}");
    let e = err_text(
        B::new(&[2, 2, 2])
            .node("ReduceMean", "rm", &["x"], &["y"], vec![])
            .opset(18)
            .import(),
    );
    assert!(e.contains("all axes"), "{e}");
}

#[test]
fn reduce_mean_and_sum_over_any_axes() {
    // [1, 2, 3, 2]: x[c, h, w] = 6c + 2h + w.
    let x: Vec<f64> = (0..12).map(|v| v as f64).collect();
    let reduce = |op: &str, axes: &[i64], keepdims: i64| {
        B::new(&[2, 3, 2])
            .node(
                op,
                "r",
                &["x"],
                &["y"],
                vec![ais("axes", axes), ai("keepdims", keepdims)],
            )
            .opset(11)
            .import()
            .unwrap()
    };
    // Over channels, kept: the mean of x[0, h, w] and x[1, h, w].
    let g = reduce("ReduceMean", &[1], 1);
    assert_eq!(g.output_shape(), [1, 3, 2]);
    let want: Vec<f64> = (0..6).map(|v| v as f64 + 3.0).collect();
    assert_close(&forward(&g, 1, &x), &want);
    // Over C and W (not adjacent), dropped: a sum per row h.
    let g = reduce("ReduceSum", &[1, -1], 0);
    assert_eq!(g.output_shape(), [3]);
    let want: Vec<f64> = (0..3)
        .map(|h| {
            (0..2)
                .flat_map(|c| (0..2).map(move |w| (6 * c + 2 * h + w) as f64))
                .sum()
        })
        .collect();
    assert_close(&forward(&g, 1, &x), &want);
    // Over every per-item axis.
    let g = reduce("ReduceSum", &[1, 2, 3], 0);
    assert_eq!(g.output_shape(), [1]);
    assert_close(&forward(&g, 1, &x), &[66.0]);
    // ReduceSum takes its axes as an input from opset 13.
    let g = B::new(&[2, 3, 2])
        .init_t(i64_tensor("axes", &[2]))
        .node("ReduceSum", "r", &["x", "axes"], &["y"], vec![])
        .opset(13)
        .import()
        .unwrap();
    assert_eq!(g.output_shape(), [2, 1, 2]);
    assert_close(&forward(&g, 1, &x), &[6.0, 9.0, 24.0, 27.0]);
}
