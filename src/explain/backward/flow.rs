//! What flows back through a graph while a backward pass is recorded (gradients, relevance):
//! one tensor per node, made on first use; the first pass that writes it overwrites, later
//! ones add.

use crate::error::Result;
use crate::layers::Dest;
use crate::model::Graph;
use crate::plan::{Program, TensorId};

/// Per node, the tensor receiving what flows back to it.
pub(crate) struct Flow {
    label: &'static str,
    tensor: Vec<Option<TensorId>>,
    written: Vec<bool>,
}

impl Flow {
    /// Nothing has flowed yet; tensors are named `label[node]`.
    pub fn new(graph: &Graph, label: &'static str) -> Self {
        Flow {
            label,
            tensor: vec![None; graph.nodes.len()],
            written: vec![false; graph.nodes.len()],
        }
    }

    /// Node `i`'s tensor, if anything flowed to it.
    pub fn get(&self, i: usize) -> Option<TensorId> {
        self.tensor[i]
    }

    /// Every node's tensor.
    pub fn tensors(&self) -> Vec<Option<TensorId>> {
        self.tensor.clone()
    }

    /// Where a pass sends what flows to node `i`: its tensor, added to after its first writer.
    pub fn dest(&mut self, p: &mut Program, graph: &Graph, batch: usize, i: usize) -> Result<Dest> {
        let t = match self.tensor[i] {
            Some(t) => t,
            None => {
                let numel = batch * graph.nodes[i].shape.iter().product::<usize>();
                let t = p.tensor(&format!("{}[{}]", self.label, graph.nodes[i].name), numel)?;
                self.tensor[i] = Some(t);
                t
            }
        };
        let accumulate = self.written[i];
        self.written[i] = true;
        Ok(Dest {
            tensor: t,
            accumulate,
        })
    }

    /// Makes `t` node `i`'s tensor from now on (a fresh sum that replaces one other nodes may
    /// share).
    pub fn replace(&mut self, i: usize, t: TensorId) {
        self.tensor[i] = Some(t);
        self.written[i] = true;
    }

    /// Lets node `i` share tensor `t` (what passes unchanged to an input with no other reader),
    /// when nothing has flowed to `i` yet; returns whether it did.
    pub fn share(&mut self, i: usize, t: TensorId) -> bool {
        if self.tensor[i].is_some() {
            return false;
        }
        self.tensor[i] = Some(t);
        self.written[i] = true;
        true
    }

    /// Forgets what flowed to every node before `k` (relevance that went around `k`).
    pub fn clear_before(&mut self, k: usize) {
        for i in 0..k {
            self.tensor[i] = None;
            self.written[i] = false;
        }
    }
}
