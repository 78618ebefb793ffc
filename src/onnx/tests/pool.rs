//! MaxPool, AveragePool, GlobalAveragePool and ReduceMean.

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
            .node("ReduceMean", "rm", &["x"], &["y"], vec![ais("axes", &[1])])
            .import(),
    );
    assert!(e.contains("axes [2, 3]") && e.contains("'rm'"), "{e}");
    let e = err_text(
        B::new(&[2, 2, 2])
            .node("ReduceMean", "rm", &["x"], &["y"], vec![])
            .opset(18)
            .import(),
    );
    assert!(e.contains("all axes"), "{e}");
}
