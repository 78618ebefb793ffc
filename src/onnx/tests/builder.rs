//! A tiny ONNX model builder on the prost messages, and constructors for its parts.

use prost::Message;

use crate::error::Result;
use crate::model::Graph;
use crate::onnx::from_bytes;
use crate::onnx::proto::{
    tensor_shape_proto::{dimension, Dimension},
    type_proto, AttributeProto, AttributeType, DataType, GraphProto, ModelProto, NodeProto,
    OperatorSetIdProto, TensorProto, TensorShapeProto, TypeProto, ValueInfoProto,
};

pub(super) struct B {
    pub(super) nodes: Vec<NodeProto>,
    pub(super) inits: Vec<TensorProto>,
    pub(super) inputs: Vec<ValueInfoProto>,
    pub(super) output: String,
    pub(super) opset: i64,
}

pub(super) fn dim_value(v: i64) -> Dimension {
    Dimension {
        value: Some(dimension::Value::DimValue(v)),
    }
}

pub(super) fn value_info(name: &str, dims: Vec<Dimension>) -> ValueInfoProto {
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
pub(super) fn input(name: &str, item: &[i64]) -> ValueInfoProto {
    let mut dims = vec![Dimension {
        value: Some(dimension::Value::DimParam("N".into())),
    }];
    dims.extend(item.iter().map(|&d| dim_value(d)));
    value_info(name, dims)
}

pub(super) fn f32_tensor(name: &str, dims: &[i64], data: &[f32]) -> TensorProto {
    TensorProto {
        name: name.into(),
        dims: dims.to_vec(),
        data_type: DataType::Float as i32,
        raw_data: data.iter().flat_map(|v| v.to_le_bytes()).collect(),
        ..Default::default()
    }
}

pub(super) fn i64_tensor(name: &str, data: &[i64]) -> TensorProto {
    TensorProto {
        name: name.into(),
        dims: vec![data.len() as i64],
        data_type: DataType::Int64 as i32,
        int64_data: data.to_vec(),
        ..Default::default()
    }
}

pub(super) fn ai(name: &str, v: i64) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        r#type: AttributeType::Int as i32,
        i: v,
        ..Default::default()
    }
}

pub(super) fn af(name: &str, v: f32) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        r#type: AttributeType::Float as i32,
        f: v,
        ..Default::default()
    }
}

pub(super) fn ais(name: &str, v: &[i64]) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        r#type: AttributeType::Ints as i32,
        ints: v.to_vec(),
        ..Default::default()
    }
}

pub(super) fn astr(name: &str, v: &str) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        r#type: AttributeType::String as i32,
        s: v.as_bytes().to_vec(),
        ..Default::default()
    }
}

pub(super) fn atensor(name: &str, t: TensorProto) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        r#type: AttributeType::Tensor as i32,
        t: Some(t),
        ..Default::default()
    }
}

impl B {
    /// A model whose single input `x` has per-item shape `item`, at opset 13.
    pub(super) fn new(item: &[i64]) -> Self {
        B {
            nodes: vec![],
            inits: vec![],
            inputs: vec![input("x", item)],
            output: String::new(),
            opset: 13,
        }
    }

    /// The graph input's batch size fixed to `n` (instead of symbolic).
    pub(super) fn batch(mut self, n: i64) -> Self {
        let item: Vec<i64> = match &self.inputs[0].r#type {
            Some(TypeProto {
                value: Some(type_proto::Value::TensorType(t)),
            }) => t.shape.as_ref().unwrap().dim[1..]
                .iter()
                .map(|d| match d.value {
                    Some(dimension::Value::DimValue(v)) => v,
                    _ => 0,
                })
                .collect(),
            _ => vec![],
        };
        let mut dims = vec![dim_value(n)];
        dims.extend(item.iter().map(|&d| dim_value(d)));
        self.inputs[0] = value_info("x", dims);
        self
    }

    pub(super) fn opset(mut self, v: i64) -> Self {
        self.opset = v;
        self
    }

    pub(super) fn init(mut self, name: &str, dims: &[i64], data: &[f32]) -> Self {
        self.inits.push(f32_tensor(name, dims, data));
        self
    }

    pub(super) fn init_t(mut self, t: TensorProto) -> Self {
        self.inits.push(t);
        self
    }

    /// A node; the last node's first output becomes the graph output unless [`B::out`] says otherwise.
    pub(super) fn node(
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

    pub(super) fn out(mut self, name: &str) -> Self {
        self.output = name.into();
        self
    }

    pub(super) fn model(&self) -> ModelProto {
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

    pub(super) fn bytes(&self) -> Vec<u8> {
        self.model().encode_to_vec()
    }

    pub(super) fn import(&self) -> Result<Graph> {
        from_bytes(&self.bytes(), None)
    }
}
