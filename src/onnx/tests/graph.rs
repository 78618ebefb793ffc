//! Graph structure: pass-through nodes, node order, dead nodes, generated names, dangling
//! inputs and cycles, the graph input and output, the opset range.

use prost::Message;

use super::builder::{dim_value, input, value_info, B};
use super::check::{assert_close, err_text, forward, kinds};
use crate::error::Error;
use crate::onnx::from_bytes;
use crate::onnx::proto::tensor_shape_proto::Dimension;
use crate::onnx::proto::{DataType, TensorProto};

#[test]
fn dropout_and_identity_are_removed() {
    let g = B::new(&[1, 3, 3])
        .init("W0", &[1, 1, 1, 1], &[2.0])
        .node("Identity", "wid", &["W0"], &["W"], vec![])
        .node("Identity", "id", &["x"], &["a"], vec![])
        .node("Conv", "conv", &["a", "W"], &["c"], vec![])
        .node("Dropout", "drop", &["c"], &["d", "mask"], vec![])
        .node("Relu", "relu", &["d"], &["r"], vec![])
        .node("Identity", "id2", &["r"], &["y"], vec![])
        .import()
        .unwrap();
    assert_eq!(kinds(&g), ["Input", "Conv2d", "Relu"]);
    assert_eq!(g.nodes[2].inputs, [1]);
    assert_close(&forward(&g, 1, &[1.0; 9]), &[2.0; 9]);

    // Opset 12+ Dropout: ratio and training_mode inputs; training_mode must be false.
    let dropout = |training: u8| {
        B::new(&[2])
            .init("ratio", &[], &[0.5])
            .init_t(TensorProto {
                name: "train".into(),
                data_type: DataType::Bool as i32,
                raw_data: vec![training],
                ..Default::default()
            })
            .node("Dropout", "drop", &["x", "ratio", "train"], &["y"], vec![])
            .import()
    };
    assert_eq!(kinds(&dropout(0).unwrap()), ["Input"]);
    let e = err_text(dropout(1));
    assert!(e.contains("training_mode") && e.contains("'drop'"), "{e}");
}

#[test]
fn nodes_out_of_order_are_sorted_and_dead_ones_skipped() {
    let g = B::new(&[2])
        .node("Relu", "second", &["h"], &["y"], vec![])
        .node("Clip", "first", &["x"], &["h"], vec![])
        .node("Sigmoid", "dead", &["x"], &["unused"], vec![])
        .out("y")
        .import()
        .unwrap();
    assert_eq!(kinds(&g), ["Input", "Clip", "Relu"]);
    assert_eq!(g.nodes[2].name, "second");
}

#[test]
fn generated_names_are_unique() {
    let g = B::new(&[2])
        .node("Relu", "", &["x"], &["a"], vec![])
        .node("Relu", "Relu_0", &["a"], &["b"], vec![])
        .node("Relu", "input", &["b"], &["y"], vec![])
        .import()
        .unwrap();
    let names: Vec<&str> = g.nodes.iter().map(|n| n.name.as_str()).collect();
    assert_eq!(names, ["input", "Relu_0", "Relu_0_2", "input_2"]);
}

#[test]
fn dangling_input_and_cycle() {
    let e = B::new(&[2])
        .node("Relu", "r", &["nowhere"], &["y"], vec![])
        .import()
        .unwrap_err();
    assert!(
        matches!(&e, Error::Graph(m) if m.contains("'r'") && m.contains("'nowhere'")),
        "{e}"
    );
    let e = B::new(&[2])
        .node("Add", "a", &["x", "c"], &["b"], vec![])
        .node("Relu", "c_node", &["b"], &["c"], vec![])
        .node("Relu", "out", &["b"], &["y"], vec![])
        .import()
        .unwrap_err();
    assert!(
        matches!(&e, Error::Graph(m) if m.contains("cycle") && m.contains("'a'") && m.contains("'c_node'")),
        "{e}"
    );
    let e = err_text(
        B::new(&[2])
            .node("Relu", "r1", &["x"], &["y"], vec![])
            .node("Relu", "r2", &["x"], &["y"], vec![])
            .import(),
    );
    assert!(e.contains("defined twice"), "{e}");
}

#[test]
fn graph_inputs_and_outputs() {
    let mut b = B::new(&[2]).node("Add", "a", &["x", "z"], &["y"], vec![]);
    b.inputs.push(input("z", &[2]));
    let e = err_text(b.import());
    assert!(e.contains("2 inputs") && e.contains("x, z"), "{e}");
    // An initializer listed among the inputs is not a real input.
    let mut b = B::new(&[3]).init("W", &[3, 2], &[0.0; 6]).node(
        "MatMul",
        "mm",
        &["x", "W"],
        &["y"],
        vec![],
    );
    b.inputs.push(input("W", &[2]));
    b.import().unwrap();

    let mut b = B::new(&[2]).node("Relu", "r", &["x"], &["y"], vec![]);
    b.inputs = vec![value_info(
        "x",
        vec![dim_value(1), Dimension { value: None }],
    )];
    let e = err_text(b.import());
    assert!(e.contains("dimension 1 = unknown"), "{e}");
    // Sequences [N, T, D] (and ranks up to 5) load; rank 6 does not.
    let g = B::new(&[2, 3])
        .node("Relu", "r", &["x"], &["y"], vec![])
        .import()
        .unwrap();
    assert_eq!(g.output_shape(), [2, 3]);
    let mut b = B::new(&[2]).node("Relu", "r", &["x"], &["y"], vec![]);
    b.inputs = vec![value_info("x", (1..=6).map(dim_value).collect())];
    let e = err_text(b.import());
    assert!(e.contains("rank 6") && e.contains("ranks 2 to 5"), "{e}");

    let e = err_text(
        B::new(&[2])
            .node("Relu", "r", &["x"], &["y"], vec![])
            .out("nope")
            .import(),
    );
    assert!(e.contains("'nope'"), "{e}");
    let e = err_text(
        B::new(&[2])
            .init("c", &[2], &[1.0, 2.0])
            .node("Identity", "i", &["c"], &["y"], vec![])
            .import(),
    );
    assert!(e.contains("constant"), "{e}");

    // A declared output shape must match.
    let mut m = B::new(&[2])
        .node("Relu", "r", &["x"], &["y"], vec![])
        .model();
    let g = m.graph.as_mut().unwrap();
    g.output[0] = value_info("y", vec![Dimension { value: None }, dim_value(3)]);
    let e = from_bytes(&m.encode_to_vec(), None).unwrap_err();
    assert!(matches!(e, Error::Shape(_)), "{e}");
    m.graph.as_mut().unwrap().output[0] = value_info("y", vec![dim_value(1), dim_value(2)]);
    from_bytes(&m.encode_to_vec(), None).unwrap();
}

#[test]
fn opset_range() {
    let b = B::new(&[2]).node("Relu", "r", &["x"], &["y"], vec![]);
    let e = err_text(b.opset(9).import());
    assert!(e.contains("opset 9"), "{e}");
    let b = B::new(&[2]).node("Relu", "r", &["x"], &["y"], vec![]);
    assert!(b.opset(22).import().is_err());
    for v in [11, 17, 21] {
        B::new(&[2])
            .node("Relu", "r", &["x"], &["y"], vec![])
            .opset(v)
            .import()
            .unwrap();
    }
    let mut m = B::new(&[2])
        .node("Relu", "r", &["x"], &["y"], vec![])
        .model();
    m.opset_import[0].domain = "com.microsoft".into();
    let e = from_bytes(&m.encode_to_vec(), None)
        .unwrap_err()
        .to_string();
    assert!(e.contains("no opset of the default"), "{e}");
}
