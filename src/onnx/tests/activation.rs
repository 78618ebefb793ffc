//! Clip: bounds as inputs (opset 11+) and as attributes (before).

use super::builder::{af, B};
use super::check::{assert_close, forward, kinds};
use crate::model::{Graph, Op};
use crate::onnx::import::import_model;

#[test]
fn clip_inputs_and_attributes() {
    let clip = |g: &Graph| match g.nodes[1].op {
        Op::Elementwise(e) if e.func == crate::layers::Func::Clip => (e.a, e.b),
        _ => panic!("{:?}", kinds(g)),
    };
    let g = B::new(&[2])
        .init("lo", &[], &[0.0])
        .init("hi", &[], &[6.0])
        .node("Clip", "relu6", &["x", "lo", "hi"], &["y"], vec![])
        .import()
        .unwrap();
    assert_eq!(clip(&g), (0.0, 6.0));
    assert_close(&forward(&g, 1, &[-1.0, 7.0]), &[0.0, 6.0]);
    let g = B::new(&[2])
        .init("hi", &[1], &[1.0])
        .node("Clip", "c", &["x", "", "hi"], &["y"], vec![])
        .import()
        .unwrap();
    assert_eq!(clip(&g), (f32::NEG_INFINITY, 1.0));
    let g = B::new(&[2])
        .node("Clip", "c", &["x"], &["y"], vec![])
        .opset(11)
        .import()
        .unwrap();
    assert_eq!(clip(&g), (f32::NEG_INFINITY, f32::INFINITY));
    // Clip bounds given by Constant nodes.
    let g = B::new(&[2])
        .node("Constant", "k", &[], &["lo"], vec![af("value_float", -1.0)])
        .node("Clip", "c", &["x", "lo"], &["y"], vec![])
        .import()
        .unwrap();
    assert_eq!(clip(&g), (-1.0, f32::INFINITY));
    // Before opset 11 the bounds are attributes (the importer maps it; `from_bytes` accepts 11+).
    let m = B::new(&[2])
        .node(
            "Clip",
            "c",
            &["x"],
            &["y"],
            vec![af("min", -2.0), af("max", 3.0)],
        )
        .opset(10)
        .model();
    let g = import_model(&m, 10, None).unwrap();
    assert_eq!(clip(&g), (-2.0, 3.0));
}
