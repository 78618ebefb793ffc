//! Plumbing shared by the mappings: a node's inputs (activations or constants), its outputs,
//! and the glimpse nodes it appends.

use std::borrow::Cow;

use super::{fold, unsupported, Importer, Val};
use crate::error::{Error, Result};
use crate::model::{NodeId, Op, Tensor};
use crate::onnx::proto::{NodeProto, TensorProto};
use crate::onnx::tensor;

impl<'m> Importer<'m, '_> {
    /// Records `v` as the value of the node's first output.
    pub(crate) fn set(&mut self, n: &'m NodeProto, v: Val<'m>) -> Result<()> {
        self.values.insert(n.output[0].as_str(), v);
        Ok(())
    }

    /// Records output `k` of a node with several (Split's); an empty name is an output left out.
    pub(crate) fn set_output(&mut self, n: &'m NodeProto, k: usize, v: Val<'m>) {
        if let Some(o) = n.output.get(k).filter(|o| !o.is_empty()) {
            self.values.insert(o.as_str(), v);
        }
    }

    /// Appends a glimpse node named after the ONNX one and records it as the node's output.
    pub(crate) fn push(
        &mut self,
        n: &'m NodeProto,
        name: &str,
        op: Op,
        inputs: Vec<NodeId>,
    ) -> Result<()> {
        let id = self.push_node(name, op, inputs)?;
        self.set(n, Val::Node(id))
    }

    pub(crate) fn push_node(&mut self, name: &str, op: Op, inputs: Vec<NodeId>) -> Result<NodeId> {
        let name = self.unique(name);
        self.graph.push(name, op, inputs)
    }

    pub(crate) fn push_reshape(
        &mut self,
        name: &str,
        input: NodeId,
        shape: Vec<usize>,
    ) -> Result<NodeId> {
        let name = self.unique(name);
        self.graph.push_reshape(name, input, shape)
    }

    /// `base`, or `base_2`, `base_3`, ... if taken.
    fn unique(&mut self, base: &str) -> String {
        let mut name = base.to_string();
        let mut k = 2;
        while self.names.contains(&name) {
            name = format!("{base}_{k}");
            k += 1;
        }
        self.names.insert(name.clone());
        name
    }

    /// The name of input `i`, if present (empty names are omitted optional inputs).
    fn input_name(n: &'m NodeProto, i: usize) -> Option<&'m str> {
        n.input.get(i).map(|s| s.as_str()).filter(|s| !s.is_empty())
    }

    /// Optional input `i`.
    fn opt_input(&self, n: &'m NodeProto, name: &str, i: usize) -> Result<Option<Val<'m>>> {
        let Some(t) = Self::input_name(n, i) else {
            return Ok(None);
        };
        if let Some(e) = self.pad_reader_error(n, name, t) {
            return Err(e);
        }
        match self.values.get(t) {
            Some(v) => Ok(Some(v.clone())),
            None => Err(Error::Graph(format!(
                "node '{name}' ({}) reads tensor '{t}' before it is computed",
                n.op_type
            ))),
        }
    }

    /// Required input `i`.
    pub(crate) fn input(&self, n: &'m NodeProto, name: &str, i: usize) -> Result<Val<'m>> {
        self.opt_input(n, name, i)?.ok_or_else(|| {
            Error::Onnx(format!("node '{name}' ({}) lacks its input {i}", n.op_type))
        })
    }

    /// Input `i`, which must be computed from the graph input.
    pub(crate) fn act(&self, n: &'m NodeProto, name: &str, i: usize) -> Result<NodeId> {
        match self.input(n, name, i)? {
            Val::Node(id) => Ok(id),
            Val::Const(_) => Err(unsupported(
                n,
                name,
                format!(
                    "input {i} ('{}') is a constant; it must be computed from the graph input",
                    n.input[i]
                ),
            )),
        }
    }

    /// Optional input `i`, which must be a constant.
    fn opt_const(
        &self,
        n: &'m NodeProto,
        name: &str,
        i: usize,
    ) -> Result<Option<Cow<'m, TensorProto>>> {
        match self.opt_input(n, name, i)? {
            None => Ok(None),
            Some(Val::Const(t)) => Ok(Some(t)),
            Some(Val::Node(_)) => Err(unsupported(
                n,
                name,
                format!(
                    "input {i} ('{}') must be a constant (an initializer or a Constant node), not computed from the graph input",
                    n.input[i]
                ),
            )),
        }
    }

    pub(crate) fn opt_const_f32(
        &self,
        n: &'m NodeProto,
        name: &str,
        i: usize,
    ) -> Result<Option<Tensor>> {
        self.opt_const(n, name, i)?
            .map(|t| tensor::to_f32(&t, self.base_dir))
            .transpose()
    }

    pub(crate) fn const_f32(&self, n: &'m NodeProto, name: &str, i: usize) -> Result<Tensor> {
        self.opt_const_f32(n, name, i)?.ok_or_else(|| {
            Error::Onnx(format!("node '{name}' ({}) lacks its input {i}", n.op_type))
        })
    }

    pub(crate) fn opt_const_i64(
        &self,
        n: &'m NodeProto,
        name: &str,
        i: usize,
    ) -> Result<Option<Vec<i64>>> {
        let Some(t) = self.opt_const(n, name, i)? else {
            return Ok(None);
        };
        let v = tensor::to_i64(&t, self.base_dir)?.1;
        if v.contains(&fold::BATCH) {
            return Err(unsupported(
                n,
                name,
                format!(
                    "input {i} ('{}') is computed from the batch size, which the graph input leaves \
                     open; export with a fixed batch",
                    n.input[i]
                ),
            ));
        }
        Ok(Some(v))
    }

    /// [`Importer::opt_const_i64`] for a Reshape's target: an open batch size folded from a
    /// `Shape` is read as 0 ("keep this dimension") in the first entry only.
    pub(crate) fn opt_shape_i64(
        &self,
        n: &'m NodeProto,
        name: &str,
        i: usize,
    ) -> Result<Option<Vec<i64>>> {
        let Some(t) = self.opt_const(n, name, i)? else {
            return Ok(None);
        };
        let mut v = tensor::to_i64(&t, self.base_dir)?.1;
        if v.iter().skip(1).any(|&d| d == fold::BATCH) {
            return Err(unsupported(
                n,
                name,
                format!(
                    "input {i} ('{}') puts the batch size, which the graph input leaves open, \
                     after the first dimension; export with a fixed batch",
                    n.input[i]
                ),
            ));
        }
        if v.first() == Some(&fold::BATCH) {
            v[0] = 0;
        }
        Ok(Some(v))
    }

    /// Per-item shape of a glimpse node.
    pub(crate) fn shape(&self, id: NodeId) -> &[usize] {
        &self.graph.nodes[id].shape
    }

    /// Fails if an optional extra output (beyond the first) is read by anything.
    pub(crate) fn no_extra_output(&self, n: &NodeProto, name: &str, what: &str) -> Result<()> {
        for o in n.output.iter().skip(1).filter(|o| !o.is_empty()) {
            if self.readers.get(o.as_str()).copied().unwrap_or(0) > 0 {
                return Err(unsupported(
                    n,
                    name,
                    format!("{what} ('{o}') is used, which is not supported"),
                ));
            }
        }
        Ok(())
    }

    /// Dropout's optional `training_mode` input (opset 12+) must be absent or a constant false.
    pub(crate) fn not_training(&self, n: &'m NodeProto, name: &str) -> Result<()> {
        let training = match self.opt_input(n, name, 2)? {
            None => false,
            Some(Val::Node(_)) => true,
            Some(Val::Const(t)) => {
                t.data_location != 0
                    || t.raw_data.iter().any(|&b| b != 0)
                    || t.int32_data.iter().any(|&v| v != 0)
                    || t.int64_data.iter().any(|&v| v != 0)
            }
        };
        if training {
            return Err(unsupported(
                n,
                name,
                "training_mode is (or may be) true; only inference Dropout is supported".into(),
            ));
        }
        Ok(())
    }
}
