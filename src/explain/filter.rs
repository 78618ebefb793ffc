//! Filtering, as zennit-crp's `CondAttribution` does it: a backward pass that starts at any
//! node (a neuron, a channel, all of it, or a given tensor) and conditions, per item, that let
//! relevance through only some channels (or neurons) of a node. With `exclude_parallel`
//! (zennit-crp's default) what bypasses a conditioned node — a residual branch beside it — is
//! dropped there, so the map shows only what passed through the condition.

use super::Target;
use crate::error::{Error, Result};
use crate::model::{Graph, NodeId};

/// What a plan records of filtering (the per-item conditions come with each run).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Filter {
    /// The node the backward pass starts at (`None`: the explained output).
    pub start: Option<NodeId>,
    /// Nodes where relevance is masked per item (each run's conditions name only these).
    pub conditioned: Vec<NodeId>,
    /// At a conditioned node, drop what flowed around it (zennit-crp's `exclude_parallel`).
    pub exclude_parallel: bool,
    /// Nodes whose relevance is read back (zennit-crp's `record_layer`).
    pub record: Vec<NodeId>,
    /// The start node's relevance is given as the target's weights (zennit-crp's `init_rel`
    /// tensor), not `w ⊙ activation`.
    pub given_start: bool,
}

/// One node's condition: the channels (or single neurons) relevance may flow through.
#[derive(Clone, Debug, PartialEq)]
pub struct Condition {
    pub node: NodeId,
    /// Channels let through whole.
    pub channels: Vec<usize>,
    /// Single neurons let through, `(channel, flat index within the channel)`.
    pub neurons: Vec<(usize, usize)>,
}

/// One item's conditions (at most one per node).
pub type ConditionSet = Vec<Condition>;

impl Filter {
    /// Whether the filter changes anything.
    pub fn is_none(&self) -> bool {
        *self == Filter::default()
    }

    /// The plan's filter for `sets`: every node they condition, each once, in graph order.
    pub fn for_conditions(
        start: Option<NodeId>,
        sets: &[ConditionSet],
        exclude_parallel: bool,
        record: Vec<NodeId>,
    ) -> Filter {
        let mut conditioned: Vec<NodeId> = sets.iter().flatten().map(|c| c.node).collect();
        conditioned.sort_unstable();
        conditioned.dedup();
        Filter {
            start,
            conditioned,
            exclude_parallel,
            record,
            given_start: false,
        }
    }

    /// Checks `sets` (one per item) against the plan: only conditioned nodes, each set naming
    /// all of them when parallel paths are excluded (a set without a node would have its
    /// parallel relevance dropped there all the same, which zennit-crp refuses too).
    pub fn check_sets(&self, sets: &[ConditionSet]) -> Result<()> {
        for (i, set) in sets.iter().enumerate() {
            for (k, c) in set.iter().enumerate() {
                if set[..k].iter().any(|d| d.node == c.node) {
                    return Err(Error::Invalid(format!(
                        "condition set {i} conditions node {} twice",
                        c.node
                    )));
                }
                if !self.conditioned.contains(&c.node) {
                    return Err(Error::Invalid(format!(
                        "condition set {i} conditions node {}, which the plan does not",
                        c.node
                    )));
                }
            }
            if self.exclude_parallel && set.len() != self.conditioned.len() {
                return Err(Error::Invalid(format!(
                    "condition set {i} names {} of the {} conditioned nodes: with parallel \
                     paths excluded every set must condition the same nodes (run the others \
                     separately, or keep parallel paths: --keep-parallel)",
                    set.len(),
                    self.conditioned.len()
                )));
            }
        }
        Ok(())
    }

    /// Writes item `set`'s 0/1 mask of conditioned node `slot` (of item shape `shape`) into
    /// `out` (one value per value of the node); all ones when the set does not condition it.
    /// A channel or neuron outside the node is an error.
    pub fn mask(
        &self,
        shape: &[usize],
        set: Option<&ConditionSet>,
        slot: usize,
        out: &mut [f32],
    ) -> Result<()> {
        let node = self.conditioned[slot];
        let Some(c) = set.and_then(|s| s.iter().find(|c| c.node == node)) else {
            out.fill(1.0);
            return Ok(());
        };
        out.fill(0.0);
        let inner = inner_len(shape);
        let outside = |what: String| {
            Error::Invalid(format!(
                "a condition on node {node} names {what}, outside its shape {shape:?}"
            ))
        };
        for &ch in &c.channels {
            out.get_mut(ch * inner..(ch + 1) * inner)
                .ok_or_else(|| outside(format!("channel {ch}")))?
                .fill(1.0);
        }
        for &(ch, j) in &c.neurons {
            if j >= inner {
                return Err(outside(format!("position {j} of channel {ch}")));
            }
            *out.get_mut(ch * inner + j)
                .ok_or_else(|| outside(format!("channel {ch}")))? = 1.0;
        }
        Ok(())
    }
}

/// Checks a run's conditions: none, or one set per item, each fitting the plan's filter.
pub(crate) fn check_conditions(filter: &Filter, n: usize, sets: &[ConditionSet]) -> Result<()> {
    if !sets.is_empty() && sets.len() != n {
        return Err(Error::Invalid(format!(
            "{} condition sets for {n} inputs: give one per input",
            sets.len()
        )));
    }
    if sets.is_empty() && filter.exclude_parallel && !filter.conditioned.is_empty() {
        return Err(Error::Invalid(
            "the plan conditions nodes with parallel paths excluded: give each input its conditions".into(),
        ));
    }
    filter.check_sets(sets)
}

/// Values per channel of a node's item (1 for a flat `[F]` node, whose features are its
/// channels).
fn inner_len(shape: &[usize]) -> usize {
    shape.iter().skip(1).product::<usize>().max(1)
}

/// Finds a node by its ONNX name (or its index), naming a few that exist when it is missing.
pub fn find_node(graph: &Graph, name: &str) -> Result<NodeId> {
    if let Some(k) = graph.nodes.iter().position(|n| n.name == name) {
        return Ok(k);
    }
    if let Ok(k) = name.parse::<usize>() {
        if k < graph.nodes.len() {
            return Ok(k);
        }
    }
    let names: Vec<&str> = graph.nodes.iter().map(|n| n.name.as_str()).collect();
    let shown = names.len().min(12);
    Err(Error::Invalid(format!(
        "the model has no node named '{name}'; its nodes are {}{}",
        names[..shown].join(", "),
        if names.len() > shown { ", …" } else { "" }
    )))
}

/// Splits `NODE:SELECTION` at the last ':' followed by a selection (digits, commas, parentheses),
/// so node names holding ':' still parse; no selection gives `None`.
fn split_selection<'a>(graph: &Graph, s: &'a str) -> (&'a str, Option<&'a str>) {
    if graph.nodes.iter().any(|n| n.name == s) {
        return (s, None);
    }
    match s.rsplit_once(':') {
        Some((node, sel))
            if !sel.is_empty()
                && sel
                    .chars()
                    .all(|c| c.is_ascii_digit() || " ,()".contains(c)) =>
        {
            (node, Some(sel))
        }
        _ => (s, None),
    }
}

fn index(text: &str, what: &str, below: usize, node: &str) -> Result<usize> {
    let v: usize = text
        .trim()
        .parse()
        .map_err(|_| Error::Invalid(format!("'{text}' is not a {what} index (in '{node}')")))?;
    if v >= below {
        return Err(Error::Invalid(format!(
            "{what} {v} is out of range: '{node}' has {below}"
        )));
    }
    Ok(v)
}

/// Parses where a backward pass starts: `NODE` (all of it), `NODE:C` (one channel, or one
/// feature of a flat node) or `NODE:C,Y,X` (one neuron). The target is the start node's
/// weighting: relevance starts as the node's activation there (zennit-crp's default
/// `init_rel`), a gradient as 1 there.
pub fn parse_start(graph: &Graph, spec: &str) -> Result<(NodeId, Target)> {
    let (name, sel) = split_selection(graph, spec.trim());
    let node = find_node(graph, name)?;
    if node == 0 {
        return Err(Error::Invalid(
            "a backward pass cannot start at the input".into(),
        ));
    }
    let shape = &graph.nodes[node].shape;
    let numel: usize = shape.iter().product();
    let inner = inner_len(shape);
    let mut w = vec![0.0f32; numel];
    match sel.map(|s| s.split(',').collect::<Vec<_>>()) {
        None => w.fill(1.0),
        Some(parts) if parts.len() == 1 => {
            let c = index(parts[0], "channel", shape[0], name)?;
            w[c * inner..(c + 1) * inner].fill(1.0);
        }
        Some(parts) if parts.len() == 3 && shape.len() == 3 => {
            let c = index(parts[0], "channel", shape[0], name)?;
            let y = index(parts[1], "row", shape[1], name)?;
            let x = index(parts[2], "column", shape[2], name)?;
            w[(c * shape[1] + y) * shape[2] + x] = 1.0;
        }
        Some(_) => {
            return Err(Error::Invalid(format!(
                "'{spec}' is not NODE, NODE:C or NODE:C,Y,X for a node of shape {shape:?}"
            )))
        }
    }
    Ok((node, Target::Weights(w)))
}

/// Parses one item's conditions: `NODE:C1,C2` with neurons as `C(Y,X)` among the channels,
/// several nodes joined by `;` (`/conv2/Conv:3,5;/fc1/Gemm:7`).
pub fn parse_condition_set(graph: &Graph, spec: &str) -> Result<ConditionSet> {
    let mut set: ConditionSet = Vec::new();
    for part in spec.split(';').map(str::trim).filter(|p| !p.is_empty()) {
        let (name, sel) = split_selection(graph, part);
        let sel = sel.ok_or_else(|| {
            Error::Invalid(format!(
                "condition '{part}' names no channels: write NODE:C1,C2 (neurons as C(Y,X))"
            ))
        })?;
        let node = find_node(graph, name)?;
        if node == 0 {
            return Err(Error::Invalid("the input cannot be conditioned".into()));
        }
        if set.iter().any(|c| c.node == node) {
            return Err(Error::Invalid(format!(
                "'{name}' is conditioned twice in '{spec}'"
            )));
        }
        let shape = &graph.nodes[node].shape;
        let mut c = Condition {
            node,
            channels: Vec::new(),
            neurons: Vec::new(),
        };
        for item in split_items(sel) {
            match item.split_once('(') {
                None => c.channels.push(index(item, "channel", shape[0], name)?),
                Some((ch, rest)) if shape.len() == 3 => {
                    let ch = index(ch, "channel", shape[0], name)?;
                    let yx: Vec<&str> = rest.trim_end_matches(')').split(',').collect();
                    if yx.len() != 2 || !rest.ends_with(')') {
                        return Err(Error::Invalid(format!(
                            "neuron '{item}' is not C(Y,X) (in '{part}')"
                        )));
                    }
                    let y = index(yx[0], "row", shape[1], name)?;
                    let x = index(yx[1], "column", shape[2], name)?;
                    c.neurons.push((ch, y * shape[2] + x));
                }
                Some(_) => {
                    return Err(Error::Invalid(format!(
                        "'{name}' has shape {shape:?}: its neurons are its channels (NODE:C)"
                    )))
                }
            }
        }
        set.push(c);
    }
    if set.is_empty() {
        return Err(Error::Invalid(format!("'{spec}' conditions nothing")));
    }
    Ok(set)
}

/// The comma-separated items of a selection, commas inside parentheses kept.
fn split_items(sel: &str) -> Vec<&str> {
    let (mut out, mut depth, mut from) = (Vec::new(), 0, 0);
    for (i, ch) in sel.char_indices() {
        match ch {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                out.push(sel[from..i].trim());
                from = i + 1;
            }
            _ => {}
        }
    }
    out.push(sel[from..].trim());
    out
}

/// Concept relevance (zennit-crp's `ChannelConcept.attribute` with `abs_norm`): per item, each
/// channel's relevance summed over its positions, divided by the sum of their magnitudes
/// (plus 1e-10, as zennit-crp adds).
pub fn concept_relevance(relevance: &[f32], items: usize, channels: usize) -> Vec<f32> {
    let per_item = relevance.len() / items.max(1);
    let inner = per_item / channels.max(1);
    let mut out = Vec::with_capacity(items * channels);
    for item in relevance.chunks(per_item.max(1)) {
        let sums: Vec<f64> = item
            .chunks(inner.max(1))
            .map(|c| c.iter().map(|&v| v as f64).sum())
            .collect();
        let norm: f64 = sums.iter().map(|s| s.abs()).sum::<f64>() + 1e-10;
        out.extend(sums.iter().map(|s| (s / norm) as f32));
    }
    out
}
