//! One recorded step of activation maximisation: the image from its parameters, transforms,
//! forward, the objective's and the diversity term's gradients, the backward pass to the
//! input, the transforms' adjoint, penalties, the expert, the parameters' gradient, the update
//! and the blur.

use super::diversity::{channels, record_diversity, DiversityIo};
use super::fourier::Spectrum;
use super::kernels::{
    penalty_shape, record_blur, record_objective, record_penalties, record_transform,
    record_update, slot, TERMS,
};
use super::Settings;
use crate::error::{Error, Result};
use crate::explain::backward::{gradient_rules, record_backward, BackwardSpec, Seed};
use crate::layers::{Dest, GradMode};
use crate::model::{Graph, NodeId};
use crate::plan::{record_forward_to, Program, TensorId};

/// The tensors every step reads and writes.
#[derive(Clone, Copy)]
pub(super) struct StepIo {
    /// What the optimiser moves: the image, or its spectrum.
    pub var: TensorId,
    /// The image (`var` itself without a parameterisation).
    pub x: TensorId,
    pub step: TensorId,
    pub moments: TensorId,
    pub spec: TensorId,
    pub terms: TensorId,
    pub log_density: TensorId,
    /// Each item's diversity group.
    pub groups: TensorId,
}

/// What the program's shape fixes: the objective's node, the diversity node, the batch.
#[derive(Clone, Copy)]
pub(super) struct StepShape<'a> {
    pub graph: &'a Graph,
    pub node: NodeId,
    pub diversity: Option<NodeId>,
    pub spectrum: Option<Spectrum>,
    pub batch: usize,
}

/// Records one step whose backward pass runs in `mode`.
pub(super) fn record_step(
    p: &mut Program,
    shape: &StepShape,
    settings: &Settings,
    io: &StepIo,
    mode: GradMode,
) -> Result<()> {
    let StepShape {
        graph, node, batch, ..
    } = *shape;
    let StepIo {
        var,
        x,
        step,
        moments,
        spec,
        terms,
        log_density,
        groups,
    } = *io;
    if let Some(s) = &shape.spectrum {
        s.record_image(p, batch, var, x)?;
    }
    let size: usize = graph.input_shape().iter().product();
    let features: usize = graph.nodes[node].shape.iter().product();
    let pshape = penalty_shape(graph.input_shape());
    let transforms = settings.transforms.active();
    if transforms && graph.input_shape().len() != 3 {
        return Err(Error::Invalid(format!(
            "jitter and scale need a [C, H, W] input; this one is {:?}",
            graph.input_shape()
        )));
    }
    let seen = if transforms {
        let xt = p.tensor("transformed prototype", batch * size)?;
        let io = (x, step, xt);
        record_transform(p, "forward", io, batch, pshape, &settings.transforms)?;
        xt
    } else {
        x
    };
    let last = shape.diversity.map_or(node, |d| d.max(node));
    let values = record_forward_to(p, graph, batch, last, Some(seen))?;
    let g_node = p.tensor("objective gradient", batch * features)?;
    let dims = (batch, features);
    record_objective(p, values[node], spec, terms, Some(g_node), dims)?;
    let mut seeds = vec![(node, g_node)];
    if let (Some(d), Some(div)) = (shape.diversity, &settings.diversity) {
        let grad = if d == node {
            Dest {
                tensor: g_node,
                accumulate: true,
            }
        } else {
            let per: usize = graph.nodes[d].shape.iter().product();
            let t = p.tensor("diversity gradient", batch * per)?;
            seeds.push((d, t));
            Dest {
                tensor: t,
                accumulate: false,
            }
        };
        let io = DiversityIo {
            a: values[d],
            groups,
            terms: Some((terms, TERMS, slot::DIVERSITY)),
            grad: Some(grad),
        };
        record_diversity(p, &io, batch, channels(&graph.nodes[d].shape), div.weight)?;
    }
    seeds.sort_by_key(|&(n, _)| std::cmp::Reverse(n));
    let rules = gradient_rules(graph, mode);
    let back = BackwardSpec {
        batch,
        start: seeds[0].0,
        stop: 0,
        rules: &rules,
        seed: Seed::Tensor(seeds[0].1),
        sums: false,
        label: "grad",
        joins: &seeds[1..],
        masks: &[],
        exclude_parallel: false,
    };
    let flow = record_backward(p, graph, &values, &back)?;
    let mut g = flow.flow[0].ok_or_else(|| {
        Error::Invalid(format!(
            "no gradient reaches the input from node '{}'",
            graph.nodes[node].name
        ))
    })?;
    if transforms {
        let gx = p.tensor("prototype gradient", batch * size)?;
        let io = (g, step, gx);
        record_transform(p, "adjoint", io, batch, pshape, &settings.transforms)?;
        g = gx;
    }
    record_penalties(p, x, terms, Some(g), batch, pshape, &settings.penalties)?;
    if let Some(e) = &settings.expert {
        e.expert.check_dim(size)?;
        let ld = Some(log_density);
        e.expert
            .record_grad_and_log_density(p, x, batch, e.weight, g, ld)?;
    }
    let (count, range) = match &shape.spectrum {
        Some(s) => {
            let g_theta = p.tensor("spectrum gradient", batch * s.values_per_item())?;
            s.record_adjoint(p, batch, (x, g), g_theta)?;
            g = g_theta;
            (
                batch * s.values_per_item(),
                (f32::NEG_INFINITY, f32::INFINITY),
            )
        }
        None => (batch * size, settings.range),
    };
    record_update(
        p,
        (var, g, step, moments),
        count,
        &settings.optimizer,
        range,
    )?;
    if let Some(blur) = &settings.blur {
        if graph.input_shape().len() != 3 {
            return Err(Error::Invalid("a blur needs a [C, H, W] input".into()));
        }
        let tmp = p.tensor("blurred prototype", batch * size)?;
        record_blur(p, (x, tmp, step), batch, pshape, blur)?;
    }
    Ok(())
}
