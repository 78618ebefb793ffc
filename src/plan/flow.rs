//! What flows back through a graph while a backward pass is recorded (gradients, relevance):
//! one tensor per node, made on first use; the first pass that writes it overwrites, later
//! ones add.

use super::builder::{Launch, PlanBuilder, TensorId};
use super::forward::binds;
use crate::error::Result;
use crate::model::Graph;

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

    /// The tensor receiving node `i`'s flow, and whether a pass writing it must add to what is
    /// there (true after its first writer).
    pub fn dest(
        &mut self,
        b: &mut PlanBuilder,
        graph: &Graph,
        batch: usize,
        i: usize,
    ) -> Result<(TensorId, bool)> {
        let t = match self.tensor[i] {
            Some(t) => t,
            None => {
                let numel = batch * graph.nodes[i].shape.iter().product::<usize>();
                let t = b.tensor(&format!("{}[{}]", self.label, graph.nodes[i].name), numel)?;
                self.tensor[i] = Some(t);
                t
            }
        };
        let accumulate = self.written[i];
        self.written[i] = true;
        Ok((t, accumulate))
    }

    /// Lets node `i` share tensor `t` (a pass-through whose input has no other reader), when
    /// nothing has flowed to `i` yet; returns whether it did.
    pub fn share(&mut self, i: usize, t: TensorId) -> bool {
        if self.tensor[i].is_some() {
            return false;
        }
        self.tensor[i] = Some(t);
        self.written[i] = true;
        true
    }

    /// Sends concat node `k`'s flow `src` back to its inputs, each its channel slab.
    pub fn split_concat(
        &mut self,
        b: &mut PlanBuilder,
        graph: &Graph,
        batch: usize,
        k: usize,
        src: TensorId,
    ) -> Result<()> {
        let item_cat: usize = graph.nodes[k].shape.iter().product();
        let mut offset = 0;
        for &i in &graph.nodes[k].inputs {
            let item: usize = graph.nodes[i].shape.iter().product();
            let (dest, acc) = self.dest(b, graph, batch, i)?;
            let p = vec![
                (batch * item) as u32,
                item_cat as u32,
                item as u32,
                offset as u32,
                acc as u32,
            ];
            let launch = Launch::Flat {
                count: (batch * item) as u64,
                size: 256,
            };
            b.pass(
                "relevance/slice_accumulate",
                "main",
                binds(p, &[src], &[], dest),
                &[dest],
                launch,
            );
            offset += item;
        }
        Ok(())
    }
}
