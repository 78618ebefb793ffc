//! `glimpse explain`'s filtering options (zennit-crp's `CondAttribution`): where the backward
//! pass starts, the condition sets every input is explained under (all in one batch), and the
//! inner nodes whose relevance is read back with its concept relevance.

use std::path::PathBuf;

use clap::Args;
use glimpse::error::{Error, Result};
use glimpse::explain::filter::{find_node, parse_condition_set, parse_start};
use glimpse::explain::{ConditionSet, Filter};
use glimpse::{Graph, Target, Tensor};

/// Filtering: explain, and condition on, anything inside the network.
#[derive(Args, Debug, Clone, Default, serde::Serialize)]
pub struct FilterArgs {
    /// Start the backward pass at a node instead of the output, by ONNX node name or index:
    /// NODE (all of it), NODE:C (one channel, or one feature of a flat node) or NODE:C,Y,X (one
    /// neuron). Relevance starts as the node's activation there (zennit-crp's default), a
    /// gradient as 1.
    #[arg(long, value_name = "NODE[:C[,Y,X]]")]
    pub start: Option<String>,
    /// The relevance (or gradient) to start from at --start's node, as it is: an .npy of the
    /// node's shape, used for every input.
    #[arg(long, value_name = "FILE.npy")]
    pub init: Option<PathBuf>,
    /// A condition set: the channels (or neurons, C(Y,X)) of a node relevance may pass,
    /// several nodes joined by ';' (e.g. /conv2/Conv:3,5;/fc1/Gemm:7). Repeatable: every
    /// input is explained under every set, all in one batch, written NAME_condJ….
    #[arg(long = "condition", value_name = "NODE:C1,C2[;NODE:C…]")]
    pub conditions: Vec<String>,
    /// Keep what flows around a conditioned node (a residual branch beside it); by default it
    /// is dropped there, as zennit-crp's exclude_parallel=True does.
    #[arg(long)]
    pub keep_parallel: bool,
    /// Read back relevance at these nodes (repeatable): NAME_rel_NODE.npy, concept relevance
    /// per channel in the summary and NAME_concepts_NODE.png (NAME_condJ_… under conditions).
    #[arg(long = "record", value_name = "NODE")]
    pub record: Vec<String>,
}

/// The filtering a command line asks for, resolved on the model.
pub struct Filtering {
    pub filter: Filter,
    /// Every input's condition sets (none: one unconditioned explanation each).
    pub sets: Vec<ConditionSet>,
    /// Their texts, as given.
    pub texts: Vec<String>,
    /// The start node's weighting (with --start or --init), which replaces --target.
    pub start_target: Option<Target>,
}

impl FilterArgs {
    /// Whether any filtering option is given.
    pub fn is_set(&self) -> bool {
        self.start.is_some()
            || self.init.is_some()
            || !self.conditions.is_empty()
            || !self.record.is_empty()
    }

    /// Resolves the options on `graph` (checked before any work); `None` when none is given.
    pub fn resolve(&self, graph: &Graph) -> Result<Option<Filtering>> {
        if !self.is_set() {
            return Ok(None);
        }
        let (start, mut start_target) = match &self.start {
            Some(s) => {
                let (node, t) = parse_start(graph, s)?;
                (Some(node), Some(t))
            }
            None => (None, None),
        };
        let mut given_start = false;
        if let Some(path) = &self.init {
            let node = start.ok_or_else(|| {
                Error::Invalid("--init gives the relevance at --start's node: give --start".into())
            })?;
            let selects =
                matches!(&start_target, Some(Target::Weights(w)) if w.iter().any(|&v| v != 1.0));
            if selects {
                return Err(Error::Invalid(
                    "--init gives the whole start node's relevance: name the node alone in --start, without a channel or neuron".into(),
                ));
            }
            let init = glimpse::io::npy::read_f32(path)?;
            let shape = &graph.nodes[node].shape;
            if init.shape != *shape {
                return Err(Error::Shape(format!(
                    "--init {}: shape {:?}, but '{}' has shape {shape:?}",
                    path.display(),
                    init.shape,
                    graph.nodes[node].name
                )));
            }
            init.check_finite(&format!("--init {}", path.display()))?;
            start_target = Some(Target::Weights(init.data));
            given_start = true;
        }
        let sets = self
            .conditions
            .iter()
            .map(|c| parse_condition_set(graph, c))
            .collect::<Result<Vec<_>>>()?;
        let record = self
            .record
            .iter()
            .map(|r| find_node(graph, r))
            .collect::<Result<Vec<_>>>()?;
        let mut filter = Filter::for_conditions(start, &sets, !self.keep_parallel, record);
        filter.given_start = given_start;
        filter.check_sets(&sets)?;
        Ok(Some(Filtering {
            filter,
            sets,
            texts: self.conditions.clone(),
            start_target,
        }))
    }
}

impl Filtering {
    /// Explanations per input.
    pub fn per_input(&self) -> usize {
        self.sets.len().max(1)
    }

    /// The batch `x` (`[N, ...]`) with each input repeated once per condition set
    /// (input-major, as zennit-crp broadcasts), its targets and its conditions.
    pub fn expand(
        &self,
        x: &Tensor,
        target: &Target,
    ) -> Result<(Tensor, Vec<Target>, Vec<ConditionSet>)> {
        let k = self.per_input();
        let n = x.shape[0];
        let item = x.numel() / n.max(1);
        let mut data = Vec::with_capacity(x.numel() * k);
        for row in x.data.chunks(item.max(1)) {
            for _ in 0..k {
                data.extend_from_slice(row);
            }
        }
        let mut shape = x.shape.clone();
        shape[0] = n * k;
        let target = self.start_target.as_ref().unwrap_or(target).clone();
        let sets = (0..n).flat_map(|_| self.sets.iter().cloned()).collect();
        Ok((Tensor::new(shape, data)?, vec![target], sets))
    }

    /// The file-name tag of condition set `j` (empty without conditions).
    pub fn tag(&self, j: usize) -> String {
        if self.sets.is_empty() {
            String::new()
        } else {
            format!("_cond{j}")
        }
    }
}
