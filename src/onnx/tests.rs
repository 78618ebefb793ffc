//! Importer tests on models encoded here with the prost messages; no GPU, no files but temp ones.

use std::path::{Path, PathBuf};

use prost::Message;

use super::import::import_model;
use super::proto::{
    tensor_shape_proto::{dimension, Dimension},
    type_proto, AttributeProto, AttributeType, DataLocation, DataType, GraphProto, ModelProto,
    NodeProto, OperatorSetIdProto, StringStringEntryProto, TensorProto, TensorShapeProto,
    TypeProto, ValueInfoProto,
};
use super::{from_bytes, load};
use crate::error::{Error, Result};
use crate::layers::reference_forward;
use crate::model::{fold_batch_norm, Graph, Op, Tensor};

// ---- a tiny model builder --------------------------------------------------------------------

struct B {
    nodes: Vec<NodeProto>,
    inits: Vec<TensorProto>,
    inputs: Vec<ValueInfoProto>,
    output: String,
    opset: i64,
}

fn dim_value(v: i64) -> Dimension {
    Dimension {
        value: Some(dimension::Value::DimValue(v)),
    }
}

fn value_info(name: &str, dims: Vec<Dimension>) -> ValueInfoProto {
    ValueInfoProto {
        name: name.into(),
        r#type: Some(TypeProto {
            value: Some(type_proto::Value::TensorType(type_proto::Tensor {
                elem_type: DataType::Float as i32,
                shape: Some(TensorShapeProto { dim: dims }),
            })),
        }),
    }
}

/// A graph input named `name` of shape `[N, ...item]` with a symbolic batch.
fn input(name: &str, item: &[i64]) -> ValueInfoProto {
    let mut dims = vec![Dimension {
        value: Some(dimension::Value::DimParam("N".into())),
    }];
    dims.extend(item.iter().map(|&d| dim_value(d)));
    value_info(name, dims)
}

fn f32_tensor(name: &str, dims: &[i64], data: &[f32]) -> TensorProto {
    TensorProto {
        name: name.into(),
        dims: dims.to_vec(),
        data_type: DataType::Float as i32,
        raw_data: data.iter().flat_map(|v| v.to_le_bytes()).collect(),
        ..Default::default()
    }
}

fn i64_tensor(name: &str, data: &[i64]) -> TensorProto {
    TensorProto {
        name: name.into(),
        dims: vec![data.len() as i64],
        data_type: DataType::Int64 as i32,
        int64_data: data.to_vec(),
        ..Default::default()
    }
}

fn ai(name: &str, v: i64) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        r#type: AttributeType::Int as i32,
        i: v,
        ..Default::default()
    }
}

fn af(name: &str, v: f32) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        r#type: AttributeType::Float as i32,
        f: v,
        ..Default::default()
    }
}

fn ais(name: &str, v: &[i64]) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        r#type: AttributeType::Ints as i32,
        ints: v.to_vec(),
        ..Default::default()
    }
}

fn astr(name: &str, v: &str) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        r#type: AttributeType::String as i32,
        s: v.as_bytes().to_vec(),
        ..Default::default()
    }
}

fn atensor(name: &str, t: TensorProto) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        r#type: AttributeType::Tensor as i32,
        t: Some(t),
        ..Default::default()
    }
}

impl B {
    /// A model whose single input `x` has per-item shape `item`, at opset 13.
    fn new(item: &[i64]) -> Self {
        B {
            nodes: vec![],
            inits: vec![],
            inputs: vec![input("x", item)],
            output: String::new(),
            opset: 13,
        }
    }

    fn opset(mut self, v: i64) -> Self {
        self.opset = v;
        self
    }

    fn init(mut self, name: &str, dims: &[i64], data: &[f32]) -> Self {
        self.inits.push(f32_tensor(name, dims, data));
        self
    }

    fn init_t(mut self, t: TensorProto) -> Self {
        self.inits.push(t);
        self
    }

    /// A node; the last node's first output becomes the graph output unless [`B::out`] says otherwise.
    fn node(
        mut self,
        op: &str,
        name: &str,
        inputs: &[&str],
        outputs: &[&str],
        attrs: Vec<AttributeProto>,
    ) -> Self {
        self.nodes.push(NodeProto {
            input: inputs.iter().map(|s| s.to_string()).collect(),
            output: outputs.iter().map(|s| s.to_string()).collect(),
            name: name.into(),
            op_type: op.into(),
            attribute: attrs,
            domain: String::new(),
        });
        self.output = outputs[0].to_string();
        self
    }

    fn out(mut self, name: &str) -> Self {
        self.output = name.into();
        self
    }

    fn model(&self) -> ModelProto {
        ModelProto {
            ir_version: 8,
            opset_import: vec![OperatorSetIdProto {
                domain: String::new(),
                version: self.opset,
            }],
            producer_name: "glimpse-tests".into(),
            producer_version: String::new(),
            graph: Some(GraphProto {
                node: self.nodes.clone(),
                name: "test".into(),
                initializer: self.inits.clone(),
                input: self.inputs.clone(),
                output: vec![ValueInfoProto {
                    name: self.output.clone(),
                    r#type: None,
                }],
                value_info: vec![],
            }),
        }
    }

    fn bytes(&self) -> Vec<u8> {
        self.model().encode_to_vec()
    }

    fn import(&self) -> Result<Graph> {
        from_bytes(&self.bytes(), None)
    }
}

/// The graph's output for a batch of inputs (f64 reference).
fn forward(g: &Graph, batch: usize, x: &[f64]) -> Vec<f64> {
    let shape = std::iter::once(batch)
        .chain(g.input_shape().iter().cloned())
        .collect();
    let input = Tensor::new(shape, x.to_vec()).unwrap();
    reference_forward(g, &input)[g.output].data.clone()
}

fn kinds(g: &Graph) -> Vec<&'static str> {
    g.nodes.iter().map(|n| n.op.kind()).collect()
}

fn assert_close(a: &[f64], b: &[f64]) {
    assert_eq!(a.len(), b.len(), "{a:?} vs {b:?}");
    for (x, y) in a.iter().zip(b) {
        assert!((x - y).abs() < 1e-5, "{a:?} vs {b:?}");
    }
}

fn only<T>(g: &Graph, f: impl Fn(&Op) -> Option<&T>) -> &T {
    let found: Vec<&T> = g.nodes.iter().filter_map(|n| f(&n.op)).collect();
    assert_eq!(found.len(), 1, "{:?}", kinds(g));
    found[0]
}

fn temp_dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("glimpse_onnx_{tag}_{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn err_text(r: Result<Graph>) -> String {
    match r {
        Ok(g) => panic!("expected an error, got {:?}", kinds(&g)),
        Err(e) => e.to_string(),
    }
}

// ---- operators -------------------------------------------------------------------------------

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

    // An Add of a constant anywhere else is refused, naming the node.
    let e = err_text(
        B::new(&[2])
            .init("b", &[2], &[1.0, 1.0])
            .node("Relu", "r", &["x"], &["h"], vec![])
            .node("Add", "shift", &["h", "b"], &["y"], vec![])
            .import(),
    );
    assert!(
        e.contains("'shift'") && e.contains("Add") && e.contains("MatMul"),
        "{e}"
    );
    // ... and so is one after a MatMul whose output something else reads too.
    let e = err_text(
        B::new(&[3])
            .init("W", &[3, 2], &w)
            .init("b", &[2], &[1.0, 1.0])
            .node("MatMul", "mm", &["x", "W"], &["h"], vec![])
            .node("Add", "bias", &["h", "b"], &["a"], vec![])
            .node("Add", "sum", &["a", "h"], &["y"], vec![])
            .import(),
    );
    assert!(e.contains("'bias'"), "{e}");
    // A bias of the wrong length.
    let e = err_text(
        B::new(&[3])
            .init("W", &[3, 2], &w)
            .init("b", &[3], &[1.0; 3])
            .node("MatMul", "mm", &["x", "W"], &["h"], vec![])
            .node("Add", "bias", &["h", "b"], &["y"], vec![])
            .import(),
    );
    assert!(e.contains("bias has shape [3]"), "{e}");
}

#[test]
fn clip_inputs_and_attributes() {
    let clip = |g: &Graph| match g.nodes[1].op {
        Op::Clip { min, max } => (min, max),
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

#[test]
fn flatten_and_reshape_semantics() {
    let shape_of = |target: &[i64], item: &[i64], fixed: Option<i64>| -> Result<Vec<usize>> {
        let mut b = B::new(item).init_t(i64_tensor("s", target)).node(
            "Reshape",
            "rs",
            &["x", "s"],
            &["y"],
            vec![],
        );
        if let Some(n) = fixed {
            let mut dims = vec![dim_value(n)];
            dims.extend(item.iter().map(|&d| dim_value(d)));
            b.inputs = vec![value_info("x", dims)];
        }
        b.import().map(|g| g.output_shape().to_vec())
    };
    assert_eq!(shape_of(&[0, -1], &[2, 3, 4], None).unwrap(), [24]);
    assert_eq!(shape_of(&[-1, 6, 4], &[2, 3, 4], None).unwrap(), [6, 4]);
    assert_eq!(shape_of(&[0, 0, -1], &[2, 3, 4], None).unwrap(), [2, 12]);
    assert_eq!(
        shape_of(&[0, 0, 12, 1], &[2, 3, 4], None).unwrap(),
        [2, 12, 1]
    );
    // A literal batch size is fine only when the input's batch is fixed to it.
    assert!(shape_of(&[1, -1], &[2, 3, 4], None).is_err());
    assert_eq!(shape_of(&[1, -1], &[2, 3, 4], Some(1)).unwrap(), [24]);
    let e = shape_of(&[-1, 5], &[2, 3, 4], None)
        .unwrap_err()
        .to_string();
    assert!(e.contains("'rs'"), "{e}");
    assert!(shape_of(&[0, -1, -1], &[2, 3, 4], None).is_err());
    assert!(shape_of(&[0, 7, -1], &[2, 3, 4], None).is_err());

    // Reshape values keep their order.
    let g = B::new(&[2, 2, 1])
        .init_t(i64_tensor("s", &[0, 4]))
        .node("Reshape", "rs", &["x", "s"], &["y"], vec![])
        .import()
        .unwrap();
    assert_close(
        &forward(&g, 2, &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0]),
        &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0],
    );

    // The shape from a Constant node.
    let g = B::new(&[2, 3, 4])
        .node(
            "Constant",
            "k",
            &[],
            &["s"],
            vec![atensor("value", i64_tensor("", &[-1, 12, 2]))],
        )
        .node("Reshape", "rs", &["x", "s"], &["y"], vec![])
        .import()
        .unwrap();
    assert_eq!(g.output_shape(), [12, 2]);

    let g = B::new(&[2, 3, 4])
        .node("Flatten", "fl", &["x"], &["y"], vec![])
        .import()
        .unwrap();
    assert_eq!(
        (kinds(&g), g.output_shape()),
        (vec!["Input", "Reshape"], &[24][..])
    );
    let g = B::new(&[2, 3, 4])
        .node("Flatten", "fl", &["x"], &["y"], vec![ai("axis", -3)])
        .import()
        .unwrap();
    assert_eq!(g.output_shape(), [24]);
    let e = err_text(
        B::new(&[2, 3, 4])
            .node("Flatten", "fl", &["x"], &["y"], vec![ai("axis", 2)])
            .import(),
    );
    assert!(e.contains("axis 1") && e.contains("'fl'"), "{e}");
}

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
fn add_concat_softmax() {
    let g = B::new(&[1, 2, 2])
        .init("lo", &[], &[0.0])
        .init("hi", &[], &[1.0])
        .node("Relu", "a", &["x"], &["ra"], vec![])
        .node("Clip", "b", &["x", "lo", "hi"], &["cb"], vec![])
        .node("Add", "sum", &["ra", "cb"], &["s"], vec![])
        .node("Concat", "cat", &["s", "x"], &["y"], vec![ai("axis", -3)])
        .import()
        .unwrap();
    assert_eq!(kinds(&g), ["Input", "Relu", "Clip", "Add", "Concat"]);
    assert_eq!(g.output_shape(), [2, 2, 2]);
    assert_close(
        &forward(&g, 1, &[-1.0, 0.5, 2.0, 3.0]),
        &[0.0, 1.0, 3.0, 4.0, -1.0, 0.5, 2.0, 3.0],
    );
    let e = err_text(
        B::new(&[1, 2, 2])
            .node("Concat", "cat", &["x", "x"], &["y"], vec![ai("axis", 2)])
            .import(),
    );
    assert!(e.contains("axis 1"), "{e}");

    let g = B::new(&[2])
        .node("Softmax", "sm", &["x"], &["y"], vec![])
        .import()
        .unwrap();
    let y = forward(&g, 1, &[0.0, 2f64.ln()]);
    assert_close(&y, &[1.0 / 3.0, 2.0 / 3.0]);
    // Opset 11: axis 1 of an image is a softmax over all its features.
    let g = B::new(&[2, 1, 1])
        .node("Softmax", "sm", &["x"], &["y"], vec![])
        .opset(11)
        .import()
        .unwrap();
    assert_eq!(kinds(&g), ["Input", "Softmax"]);
    let e = err_text(
        B::new(&[2, 3, 1])
            .node("Softmax", "sm", &["x"], &["y"], vec![ai("axis", 1)])
            .import(),
    );
    assert!(e.contains("softmax over all features"), "{e}");
    let e = err_text(
        B::new(&[2])
            .node("Softmax", "sm", &["x"], &["s"], vec![])
            .node("Relu", "after", &["s"], &["y"], vec![])
            .import(),
    );
    assert!(e.contains("Softmax") && e.contains("last"), "{e}");
    let e = err_text(
        B::new(&[4])
            .init_t(i64_tensor("s", &[0, 2, 2]))
            .node("Softmax", "sm", &["x"], &["s_out"], vec![])
            .node("Reshape", "after", &["s_out", "s"], &["y"], vec![])
            .import(),
    );
    assert!(e.contains("'sm'") && e.contains("last"), "{e}");
}

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

// ---- errors ----------------------------------------------------------------------------------

#[test]
fn unsupported_op_names_op_and_node() {
    let e = B::new(&[2])
        .node("Sigmoid", "squash", &["x"], &["y"], vec![])
        .import()
        .unwrap_err();
    assert!(
        matches!(&e, Error::UnsupportedOp { op, node, .. } if op == "Sigmoid" && node == "squash")
    );
    let e = e.to_string();
    assert!(
        e.contains("Sigmoid") && e.contains("'squash'") && e.contains("Conv, Gemm"),
        "{e}"
    );
    let mut b = B::new(&[2]).node("Relu", "custom", &["x"], &["y"], vec![]);
    b.nodes[0].domain = "com.microsoft".into();
    let e = err_text(b.import());
    assert!(e.contains("com.microsoft"), "{e}");
}

#[test]
fn malformed_and_truncated_bytes() {
    let e = from_bytes(b"\xff\xff\xff\xff not a protobuf", None).unwrap_err();
    assert!(matches!(e, Error::Onnx(_)), "{e}");
    assert!(from_bytes(b"", None).is_err());

    let bytes = B::new(&[1, 2, 2])
        .init("W", &[2, 1, 1, 1], &[1.0, 2.0])
        .node("Conv", "conv", &["x", "W"], &["y"], vec![])
        .bytes();
    assert!(from_bytes(&bytes, None).is_ok());
    let e = from_bytes(&bytes[..bytes.len() / 2], None).unwrap_err();
    assert!(
        matches!(&e, Error::Onnx(m) if m.contains("truncated")),
        "{e}"
    );
    for cut in 0..bytes.len() {
        assert!(from_bytes(&bytes[..cut], None).is_err(), "cut at {cut}");
    }
}

#[test]
fn bad_tensor_sizes() {
    let mut w = f32_tensor("W", &[2, 1, 1, 1], &[1.0, 2.0]);
    w.raw_data.pop();
    let e = err_text(
        B::new(&[1, 2, 2])
            .init_t(w)
            .node("Conv", "conv", &["x", "W"], &["y"], vec![])
            .import(),
    );
    assert!(
        e.contains("'W'") && e.contains("raw_data holds 7 bytes"),
        "{e}"
    );
    let e = err_text(
        B::new(&[1, 2, 2])
            .init_t(f32_tensor("W", &[1 << 40, 1, 1, 1], &[1.0]))
            .node("Conv", "conv", &["x", "W"], &["y"], vec![])
            .import(),
    );
    assert!(e.contains("absurd"), "{e}");
    // An absurd graph input.
    let e = err_text(
        B::new(&[1 << 40, 1 << 40, 2])
            .node("Relu", "r", &["x"], &["y"], vec![])
            .import(),
    );
    assert!(e.contains("absurd"), "{e}");
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
    let mut b = B::new(&[2]).node("Relu", "r", &["x"], &["y"], vec![]);
    b.inputs = vec![value_info(
        "x",
        vec![dim_value(1), dim_value(2), dim_value(3)],
    )];
    assert!(err_text(b.import()).contains("rank 3"));

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

#[test]
fn missing_file_is_io_error_naming_the_path() {
    let p = Path::new("/nonexistent/dir/model.onnx");
    let e = load(p).unwrap_err();
    assert!(matches!(&e, Error::Io { path, .. } if path == p), "{e}");
    assert!(e.to_string().contains("/nonexistent/dir/model.onnx"));
}

fn external_model(location: &str) -> Vec<u8> {
    let w = TensorProto {
        name: "W".into(),
        dims: vec![2, 1, 1, 1],
        data_type: DataType::Float as i32,
        data_location: DataLocation::External as i32,
        external_data: vec![
            StringStringEntryProto {
                key: "location".into(),
                value: location.into(),
            },
            StringStringEntryProto {
                key: "offset".into(),
                value: "4".into(),
            },
            StringStringEntryProto {
                key: "length".into(),
                value: "8".into(),
            },
        ],
        ..Default::default()
    };
    B::new(&[1, 1, 1])
        .init_t(w)
        .node("Conv", "conv", &["x", "W"], &["y"], vec![])
        .bytes()
}

#[test]
fn external_data_through_load() {
    let dir = temp_dir("ext");
    let mut data = vec![0u8; 4];
    data.extend([3.0f32, -1.0].iter().flat_map(|v| v.to_le_bytes()));
    std::fs::write(dir.join("weights.bin"), &data).unwrap();
    std::fs::write(dir.join("ok.onnx"), external_model("weights.bin")).unwrap();
    std::fs::write(dir.join("missing.onnx"), external_model("gone.bin")).unwrap();
    std::fs::write(dir.join("escape.onnx"), external_model("../weights.bin")).unwrap();
    std::fs::write(dir.join("abs.onnx"), external_model("/etc/hostname")).unwrap();

    let g = load(&dir.join("ok.onnx")).unwrap();
    let Op::Conv2d(c) = &g.nodes[1].op else {
        panic!()
    };
    assert_eq!(c.weight.data, [3.0, -1.0]);
    let e = load(&dir.join("missing.onnx")).unwrap_err();
    assert!(
        matches!(&e, Error::Io { path, .. } if path.ends_with("gone.bin")),
        "{e}"
    );
    let e = load(&dir.join("escape.onnx")).unwrap_err().to_string();
    assert!(e.contains("'..'"), "{e}");
    let e = load(&dir.join("abs.onnx")).unwrap_err().to_string();
    assert!(e.contains("absolute"), "{e}");
    // From bytes without a directory, external data cannot be found.
    let e = from_bytes(&external_model("weights.bin"), None)
        .unwrap_err()
        .to_string();
    assert!(e.contains("external"), "{e}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A model that exercises most mappings and their attributes.
fn busy_model() -> B {
    B::new(&[2, 6, 6])
        .init("W", &[4, 1, 3, 3], &[0.1; 36])
        .init("cb", &[4], &[0.0; 4])
        .init("s", &[4], &[1.0; 4])
        .init("b", &[4], &[0.0; 4])
        .init("m", &[4], &[0.0; 4])
        .init("v", &[4], &[1.0; 4])
        .init("G", &[4, 5], &[0.2; 20])
        .init("M", &[5, 3], &[0.3; 15])
        .init("mb", &[3], &[0.1; 3])
        .init_t(i64_tensor("shape", &[0, -1]))
        .node(
            "Conv",
            "conv",
            &["x", "W", "cb"],
            &["c"],
            vec![
                ais("pads", &[1, 0, 1, 2]),
                ais("strides", &[1, 2]),
                ais("dilations", &[1, 1]),
                ai("group", 2),
            ],
        )
        .node(
            "BatchNormalization",
            "bn",
            &["c", "s", "b", "m", "v"],
            &["n"],
            vec![af("epsilon", 1e-3)],
        )
        .node("Relu", "relu", &["n"], &["r"], vec![])
        .node(
            "MaxPool",
            "mp",
            &["r"],
            &["p"],
            vec![
                ais("kernel_shape", &[2, 2]),
                ais("strides", &[1, 1]),
                ai("ceil_mode", 1),
            ],
        )
        .node(
            "AveragePool",
            "ap",
            &["p"],
            &["q"],
            vec![ais("kernel_shape", &[2, 2]), astr("auto_pad", "SAME_LOWER")],
        )
        .node("Add", "res", &["p", "q"], &["a"], vec![])
        .node("Concat", "cat", &["a", "q"], &["k"], vec![ai("axis", 1)])
        .node(
            "ReduceMean",
            "rm",
            &["a"],
            &["g"],
            vec![ais("axes", &[2, 3]), ai("keepdims", 0)],
        )
        .node("GlobalAveragePool", "gap", &["k"], &["h"], vec![])
        .node("Reshape", "rs", &["h", "shape"], &["f"], vec![])
        .node(
            "Gemm",
            "fc",
            &["g", "G"],
            &["z"],
            vec![ai("transB", 0), af("alpha", 0.5)],
        )
        .node("Clip", "clip", &["z", "", ""], &["zc"], vec![])
        .node("MatMul", "mm", &["zc", "M"], &["o"], vec![])
        .node("Add", "mb_add", &["o", "mb"], &["l"], vec![])
        .node("Flatten", "fl", &["l"], &["fl_out"], vec![ai("axis", 1)])
        .node("Softmax", "sm", &["fl_out"], &["y"], vec![ai("axis", -1)])
}

#[test]
fn busy_model_imports() {
    let g = busy_model().import().unwrap();
    assert_eq!(
        kinds(&g),
        [
            "Input",
            "Conv2d",
            "BatchNorm",
            "Relu",
            "MaxPool2d",
            "AvgPool2d",
            "Add",
            "GlobalAvgPool",
            "Reshape",
            "Dense",
            "Clip",
            "Dense",
            "Softmax"
        ]
    );
    assert_eq!(g.output_shape(), [3]);
    let x: Vec<f64> = (0..72).map(|v| (v as f64 * 0.37).sin()).collect();
    let y = forward(&g, 1, &x);
    assert!((y.iter().sum::<f64>() - 1.0).abs() < 1e-9);
}

/// Random byte edits of a valid model must give a graph or an error, never a panic or an
/// allocation the file does not back.
#[test]
fn mutated_models_never_panic() {
    let bytes = busy_model().bytes();
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut imported = 0;
    for _ in 0..20_000 {
        let mut b = bytes.clone();
        for _ in 0..1 + next() % 3 {
            let at = (next() % b.len() as u64) as usize;
            b[at] = next() as u8;
        }
        if from_bytes(&b, None).is_ok() {
            imported += 1;
        }
    }
    // Most edits hit weight bytes and still import.
    assert!(imported > 1000, "{imported}");
}
