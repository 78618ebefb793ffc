//! Plumbing shared by the mappings: a node's inputs (activations or constants), its outputs,
//! and the glimpse nodes it appends.

use std::borrow::Cow;

use super::{unsupported, Importer, Val};
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

    /// Input `i`, which must be computed from the graph input, with the batch as its first
    /// axis: a node in whole form (see [`Importer::act_whole`]) whose first axis is 1 is
    /// reshaped to drop it; one whose batch lies inside another axis is refused.
    pub(crate) fn act(&mut self, n: &'m NodeProto, name: &str, i: usize) -> Result<NodeId> {
        let id = self.act_any(n, name, i)?;
        self.lead(id).ok_or_else(|| {
            unsupported(
                n,
                name,
                format!(
                    "input {i} ('{}') has shape {:?} at batch 1, its batch merged into another \
                     axis; glimpse applies this operator only where the batch is the first axis",
                    n.input[i],
                    self.onnx_shape(id)
                ),
            )
        })
    }

    /// Input `i`, computed from the graph input, in whichever form it is held.
    pub(crate) fn act_any(&self, n: &'m NodeProto, name: &str, i: usize) -> Result<NodeId> {
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

    /// Input `i` in whole form: a glimpse node whose per-item shape is the ONNX tensor's
    /// whole shape at batch 1, batch axis included wherever the graph moved it (attention's
    /// heads and tokens). glimpse runs a graph per item, as it computes at batch 1, so this
    /// needs the graph's batch open or 1.
    pub(crate) fn act_whole(&mut self, n: &'m NodeProto, name: &str, i: usize) -> Result<NodeId> {
        let id = self.act_any(n, name, i)?;
        self.whole(id).map_err(|why| unsupported(n, name, why))
    }

    /// Whether node `id` holds its ONNX tensor in whole form.
    pub(crate) fn is_whole(&self, id: NodeId) -> bool {
        self.whole_form.contains(&id)
    }

    /// The ONNX tensor's shape at batch 1 of what node `id` holds.
    pub(crate) fn onnx_shape(&self, id: NodeId) -> Vec<usize> {
        let s = self.shape(id);
        if self.is_whole(id) {
            s.to_vec()
        } else {
            std::iter::once(1).chain(s.iter().copied()).collect()
        }
    }

    /// Node `id` with the batch first: itself, or a whole-form node whose first axis is 1
    /// without it.
    pub(crate) fn lead(&mut self, id: NodeId) -> Option<NodeId> {
        if !self.is_whole(id) {
            return Some(id);
        }
        if let Some(&l) = self.lead_of.get(&id) {
            return Some(l);
        }
        let s = self.shape(id).to_vec();
        if s.first() != Some(&1) || s.len() < 2 {
            return None;
        }
        let name = format!("{}:batch", self.graph.nodes[id].name);
        let l = self.push_reshape(&name, id, s[1..].to_vec()).ok()?;
        self.lead_of.insert(id, l);
        Some(l)
    }

    /// Node `id` in whole form.
    pub(crate) fn whole(&mut self, id: NodeId) -> std::result::Result<NodeId, String> {
        if self.is_whole(id) {
            return Ok(id);
        }
        if let Some(b) = self.batch.filter(|&b| b != 1) {
            return Err(format!(
                "the graph input's batch is fixed at {b}, and this operator moves or merges \
                 the batch axis; export with batch 1 or an open batch"
            ));
        }
        if let Some(&w) = self.whole_of.get(&id) {
            return Ok(w);
        }
        let shape = self.onnx_shape(id);
        let name = format!("{}:whole", self.graph.nodes[id].name);
        let w = self
            .push_reshape(&name, id, shape)
            .map_err(|e| e.to_string())?;
        self.whole_form.insert(w);
        self.whole_of.insert(id, w);
        self.lead_of.insert(w, id);
        Ok(w)
    }

    /// [`Importer::push`] of a node in whole form when `whole`; returns it.
    pub(crate) fn push_form(
        &mut self,
        n: &'m NodeProto,
        name: &str,
        op: Op,
        inputs: Vec<NodeId>,
        whole: bool,
    ) -> Result<NodeId> {
        let id = self.push_node(name, op, inputs)?;
        if whole {
            self.whole_form.insert(id);
        }
        self.set(n, Val::Node(id))?;
        Ok(id)
    }

    /// Inputs `ids` in one form: with the batch first where every one allows it, else whole.
    /// Returns them and whether they are whole.
    pub(crate) fn same_form(
        &mut self,
        n: &'m NodeProto,
        name: &str,
        ids: &[NodeId],
    ) -> Result<(Vec<NodeId>, bool)> {
        if ids.iter().all(|&id| !self.is_whole(id)) {
            return Ok((ids.to_vec(), false));
        }
        let leads: Option<Vec<NodeId>> = ids.iter().map(|&id| self.lead(id)).collect();
        if let Some(l) = leads {
            return Ok((l, false));
        }
        let mut out = Vec::with_capacity(ids.len());
        for &id in ids {
            out.push(self.whole(id).map_err(|why| unsupported(n, name, why))?);
        }
        Ok((out, true))
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
        Ok(Some(tensor::to_i64(&t, self.base_dir)?.1))
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
