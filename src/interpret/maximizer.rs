//! One activation-maximisation run as one GPU program: the step (forward to the objective's
//! node, the objective's gradient, the backward recorder to the input, the penalties, the
//! update) repeats `steps` times in one submission; only the prototypes, the final terms and
//! the curve (every `every` steps) are read back.

use super::diversity::{channels, groups, record_diversity, DiversityIo};
use super::fourier::Spectrum;
use super::kernels::{penalty_shape, record_objective, record_penalties, slot, TERMS};
use super::objective::Resolved;
use super::step::{record_step, StepIo, StepShape};
use super::{Objective, Settings};
use crate::error::{Error, Result};
use crate::gpu::{DeviceModel, Executable};
use crate::layers::GradMode;
use crate::model::{NodeId, Tensor};
use crate::plan::{items_per_submission, record_forward_to, Program, TensorId, WgslEnum as _};

/// What one prototype's run computed at one step.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CurvePoint {
    /// Updates done before these values were computed.
    pub step: usize,
    /// The objective (logit, log-probability, probability, or mean activation).
    pub objective: f32,
    /// The target class's probability (class objectives; 0 otherwise).
    pub probability: f32,
    /// Σx².
    pub l2: f32,
    /// Σ|x|.
    pub l1: f32,
    /// The total variation.
    pub tv: f32,
    /// `log p(x)` under the expert (0 without one).
    pub log_density: f32,
    /// The diversity term `d_b` (0 without one; see [`super::Diversity`]).
    pub diversity: f32,
    /// `J`: the objective minus the weighted penalties and diversity term plus the expert's
    /// weighted term.
    pub total: f32,
}

/// Prototypes of one run.
#[derive(Clone, Debug)]
pub struct Prototypes {
    /// The optimised inputs `[batch, …input shape]`.
    pub inputs: Tensor,
    /// Each prototype's curve: steps 0, every, 2·every, … and the final one.
    pub curves: Vec<Vec<CurvePoint>>,
    /// The values of `Settings::image_node` at the prototypes (the generated pictures in code
    /// space).
    pub images: Option<Tensor>,
}

impl Prototypes {
    /// The last point of each curve: the terms at the prototype.
    pub fn finals(&self) -> Vec<CurvePoint> {
        self.curves
            .iter()
            .filter_map(|c| c.last().copied())
            .collect()
    }
}

/// An activation-maximisation program for a batch of objectives on one node, reusable for
/// several runs with other objectives on that node.
pub struct Maximizer<'m> {
    model: &'m DeviceModel,
    settings: Settings,
    batch: usize,
    node: NodeId,
    spectrum: Option<Spectrum>,
    exe: Executable,
    t: Tensors,
}

struct Tensors {
    var: TensorId,
    x: TensorId,
    step: TensorId,
    moments: TensorId,
    spec: TensorId,
    groups: TensorId,
    finals: TensorId,
    final_log_density: TensorId,
    image: Option<(TensorId, usize)>,
}

impl<'m> Maximizer<'m> {
    /// Records and prepares the program for `batch` prototypes whose objectives read `node`.
    pub fn new(
        model: &'m DeviceModel,
        node: NodeId,
        batch: usize,
        settings: &Settings,
    ) -> Result<Self> {
        settings.check()?;
        let graph = model.graph();
        if node >= graph.nodes.len() || node == 0 {
            return Err(Error::Invalid(format!(
                "node {node} is not a layer of the model"
            )));
        }
        let fit = items_per_submission(&model.profile(), graph, batch)?;
        if fit < batch {
            return Err(Error::Invalid(format!(
                "{batch} prototypes do not fit one submission on this device ({fit} do)"
            )));
        }
        let spectrum = settings
            .fourier
            .map(|f| Spectrum::new(graph.input_shape(), settings.range, f))
            .transpose()?;
        let diversity = match &settings.diversity {
            Some(d) => {
                let i = d.node.resolve(graph)?;
                if i == 0 {
                    return Err(Error::Invalid(
                        "the diversity term compares a layer's activations, not the input".into(),
                    ));
                }
                Some(i)
            }
            None => None,
        };
        let size: usize = graph.input_shape().iter().product();
        let vsize = spectrum.map_or(size, |s| s.values_per_item());
        let features: usize = graph.nodes[node].shape.iter().product();
        let mut p = Program::new(&model.profile());
        let var = p.tensor("prototype parameters", batch * vsize)?;
        let x = match spectrum {
            Some(_) => p.tensor("prototype", batch * size)?,
            None => var,
        };
        let step = p.tensor("step", 1 + batch)?;
        let moments = p.tensor("moments", 2 * batch * vsize)?;
        let spec = p.tensor("objective spec", batch * (2 + features))?;
        let groups = p.tensor("diversity groups", batch)?;
        let terms = p.tensor("terms", batch * TERMS)?;
        let finals = p.tensor("final terms", batch * TERMS)?;
        let log_density = p.tensor("log density", batch)?;
        let final_log_density = p.tensor("final log density", batch)?;
        for t in [
            var,
            x,
            step,
            moments,
            spec,
            groups,
            finals,
            final_log_density,
        ] {
            p.keep(t);
        }
        let io = StepIo {
            var,
            x,
            step,
            moments,
            spec,
            terms,
            log_density,
            groups,
        };
        let shape = StepShape {
            graph,
            node,
            diversity,
            spectrum,
            batch,
        };
        let mut record = vec![terms];
        if settings.expert.is_some() {
            record.push(log_density);
        }
        // Lucid's redirected rectifier gradients for the first steps, then the true gradient:
        // two phases of one submission; the curve keeps its period across them.
        let redirected = settings.redirect_steps.min(settings.steps);
        let phases = [
            (GradMode::Redirected, redirected, 1),
            (
                GradMode::Gradient,
                settings.steps - redirected,
                (settings.every - redirected % settings.every) % settings.every + 1,
            ),
        ];
        for (mode, times, first) in phases {
            if times > 0 {
                p.begin_repeat()?;
                record_step(&mut p, &shape, settings, &io, mode)?;
                p.end_repeat_from(times, first, settings.every, &record)?;
            }
        }
        let last = settings
            .image_node
            .into_iter()
            .chain(diversity)
            .fold(node, usize::max);
        if last >= graph.nodes.len() {
            return Err(Error::Invalid(format!(
                "image node {last} is not in the model"
            )));
        }
        if let Some(s) = &spectrum {
            s.record_image(&mut p, batch, var, x)?;
        }
        let values = record_forward_to(&mut p, graph, batch, last, Some(x))?;
        record_objective(&mut p, values[node], spec, finals, None, (batch, features))?;
        let pshape = penalty_shape(graph.input_shape());
        record_penalties(&mut p, x, finals, None, batch, pshape, &settings.penalties)?;
        if let (Some(d), Some(div)) = (diversity, &settings.diversity) {
            let io = DiversityIo {
                a: values[d],
                groups,
                terms: Some((finals, TERMS, slot::DIVERSITY)),
                grad: None,
            };
            record_diversity(
                &mut p,
                &io,
                batch,
                channels(&graph.nodes[d].shape),
                div.weight,
            )?;
        }
        if let Some(e) = &settings.expert {
            e.expert
                .record_log_density(&mut p, x, batch, final_log_density)?;
        }
        let image = settings.image_node.map(|i| {
            p.keep(values[i]);
            (values[i], graph.nodes[i].shape.iter().product::<usize>())
        });
        let exe = Executable::new(model, p)?;
        Ok(Maximizer {
            model,
            settings: settings.clone(),
            batch,
            node,
            spectrum,
            exe,
            t: Tensors {
                var,
                x,
                step,
                moments,
                spec,
                groups,
                finals,
                final_log_density,
                image,
            },
        })
    }

    /// Runs the ascent for `objectives` (one per prototype, all on this program's node).
    pub fn run(&mut self, objectives: &[Objective]) -> Result<Prototypes> {
        let ids: Vec<usize> = (0..objectives.len()).collect();
        self.run_items(objectives, &ids)
    }

    /// Like [`Maximizer::run`]; `ids` are the prototypes' indices in a larger run, which seed
    /// their random transforms.
    pub fn run_items(&mut self, objectives: &[Objective], ids: &[usize]) -> Result<Prototypes> {
        let graph = self.model.graph();
        if objectives.len() != self.batch {
            return Err(Error::Invalid(format!(
                "{} objectives given to a program for {}",
                objectives.len(),
                self.batch
            )));
        }
        let resolved: Vec<Resolved> = objectives
            .iter()
            .map(|o| o.resolve(graph))
            .collect::<Result<_>>()?;
        if let Some(r) = resolved.iter().find(|r| r.node != self.node) {
            return Err(Error::Invalid(format!(
                "an objective reads node '{}' but this program maximises at '{}'",
                graph.nodes[r.node].name, graph.nodes[self.node].name
            )));
        }
        let n = self.batch;
        let size: usize = graph.input_shape().iter().product();
        let mut spec: Vec<f32> = resolved
            .iter()
            .flat_map(|r| [r.mode.code() as f32, r.class as f32])
            .collect();
        for r in &resolved {
            spec.extend(&r.weights);
        }
        let start = self.settings.init.values(n, size)?;
        if let Some(bad) = start.iter().find(|v| !v.is_finite()) {
            return Err(Error::Invalid(format!("the start point holds {bad}")));
        }
        let t = &self.t;
        let start = match &self.spectrum {
            Some(s) => {
                let x: Vec<f64> = start.iter().map(|&v| v as f64).collect();
                s.spectrum_of(&x).into_iter().map(|v| v as f32).collect()
            }
            None => start,
        };
        self.exe.write(t.var, &start)?;
        self.exe.write(t.groups, &groups(objectives))?;
        if ids.len() != n {
            return Err(Error::Invalid(format!(
                "{} item ids for {n} objectives",
                ids.len()
            )));
        }
        let state: Vec<f32> = std::iter::once(0.0)
            .chain(ids.iter().map(|&i| i as f32))
            .collect();
        self.exe.write(t.step, &state)?;
        self.exe.write(t.moments, &vec![0.0; 2 * start.len()])?;
        self.exe.write(t.spec, &spec)?;
        let mut reads_of = vec![(t.x, n * size), (t.finals, n * TERMS)];
        let expert = self.settings.expert.is_some();
        if expert {
            reads_of.push((t.final_log_density, n));
        }
        if let Some((img, per)) = t.image {
            reads_of.push((img, n * per));
        }
        let (reads, history) = self.exe.run_recorded(&reads_of)?;
        let mut curves: Vec<Vec<CurvePoint>> = vec![Vec::new(); n];
        for (r, record) in history.iter().enumerate() {
            for (b, curve) in curves.iter_mut().enumerate() {
                let ld = if expert { record[1][b] } else { 0.0 };
                curve.push(self.point(&record[0][b * TERMS..], ld, r * self.settings.every));
            }
        }
        for (b, curve) in curves.iter_mut().enumerate() {
            let ld = if expert { reads[2][b] } else { 0.0 };
            curve.push(self.point(&reads[1][b * TERMS..], ld, self.settings.steps));
        }
        let images = match t.image {
            Some((_, per)) => {
                let mut shape = vec![n];
                shape.extend(&graph.nodes[self.settings.image_node.unwrap_or(0)].shape);
                let data = reads[reads.len() - 1].clone();
                debug_assert_eq!(data.len(), n * per);
                Some(Tensor::new(shape, data)?)
            }
            None => None,
        };
        if let Some((b, _)) = reads[0]
            .chunks(size)
            .enumerate()
            .find(|(_, v)| v.iter().any(|x| !x.is_finite()))
        {
            return Err(Error::Invalid(format!(
                "prototype {b} ({}) diverged to non-finite values: lower the step size",
                objectives[b].label()
            )));
        }
        let mut shape = vec![n];
        shape.extend(graph.input_shape());
        Ok(Prototypes {
            inputs: Tensor::new(shape, reads[0].clone())?,
            curves,
            images,
        })
    }

    fn point(&self, terms: &[f32], log_density: f32, step: usize) -> CurvePoint {
        let p = &self.settings.penalties;
        let (l2, l1, tv) = (terms[slot::L2], terms[slot::L1], terms[slot::TV]);
        let objective = terms[slot::OBJECTIVE];
        let (diversity, dw) = match &self.settings.diversity {
            Some(d) => (terms[slot::DIVERSITY], d.weight),
            None => (0.0, 0.0),
        };
        CurvePoint {
            step,
            objective,
            probability: terms[slot::PROBABILITY],
            l2,
            l1,
            tv,
            log_density,
            diversity,
            total: objective - p.l2 * l2 - p.l1 * l1 - p.tv * tv - dw * diversity
                + self
                    .settings
                    .expert
                    .as_ref()
                    .map_or(0.0, |e| e.weight * log_density),
        }
    }
}

/// Prototypes for `objectives` (one each), grouped into one program per node they read.
pub fn maximize(
    model: &DeviceModel,
    objectives: &[Objective],
    settings: &Settings,
) -> Result<Prototypes> {
    let graph = model.graph();
    let nodes: Vec<NodeId> = objectives
        .iter()
        .map(|o| o.resolve(graph).map(|r| r.node))
        .collect::<Result<_>>()?;
    if objectives.is_empty() {
        return Err(Error::Invalid("no objective given".into()));
    }
    let size: usize = graph.input_shape().iter().product();
    let mut inputs = vec![0.0f32; objectives.len() * size];
    let mut curves = vec![Vec::new(); objectives.len()];
    let mut images: Option<(Vec<usize>, Vec<f32>)> = None;
    let mut done = vec![false; objectives.len()];
    // The start point of the whole batch, split by group: item j starts where it would alone.
    let start = settings.init.values(objectives.len(), size)?;
    for (i, &node) in nodes.iter().enumerate() {
        if done[i] {
            continue;
        }
        let group: Vec<usize> = (i..nodes.len()).filter(|&j| nodes[j] == node).collect();
        let mut s = settings.clone();
        s.init = super::Init::Batch(
            group
                .iter()
                .flat_map(|&j| start[j * size..(j + 1) * size].iter().copied())
                .collect(),
        );
        let mut m = Maximizer::new(model, node, group.len(), &s)?;
        let objs: Vec<Objective> = group.iter().map(|&j| objectives[j].clone()).collect();
        let got = m.run_items(&objs, &group)?;
        for (k, &j) in group.iter().enumerate() {
            inputs[j * size..(j + 1) * size]
                .copy_from_slice(&got.inputs.data[k * size..(k + 1) * size]);
            curves[j] = got.curves[k].clone();
            done[j] = true;
            if let Some(img) = &got.images {
                let per = img.data.len() / group.len();
                let (_, all) = images.get_or_insert_with(|| {
                    (img.shape[1..].to_vec(), vec![0.0; objectives.len() * per])
                });
                all[j * per..(j + 1) * per].copy_from_slice(&img.data[k * per..(k + 1) * per]);
            }
        }
    }
    let mut shape = vec![objectives.len()];
    shape.extend(graph.input_shape());
    let images = match images {
        Some((item, data)) => {
            let mut shape = vec![objectives.len()];
            shape.extend(item);
            Some(Tensor::new(shape, data)?)
        }
        None => None,
    };
    Ok(Prototypes {
        inputs: Tensor::new(shape, inputs)?,
        curves,
        images,
    })
}
