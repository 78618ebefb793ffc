//! The plan every gradient method runs: the forward pass of a batch of sample points, the
//! backward pass of [`record_backward`], and (for input-space maps) the combination of the
//! samples of each input into one map — all in one submission, reading back only the maps,
//! the explained outputs and, for CAMs, one layer's value and gradient.

use super::record::{record_backward, Backward};
use crate::error::{Error, Result};
use crate::explain::lrp::explained_node;
use crate::explain::Target;
use crate::gpu::Gpu;
use crate::model::{Graph, NodeId};
use crate::plan::forward::binds;
use crate::plan::predict::items_per_submission;
use crate::plan::{record_forward, Launch, Plan, PlanBuilder, Resource, TensorId};

/// The element-wise map applied to each sample's gradient before it is weighted and summed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Map {
    Identity = 0,
    Abs = 1,
    Square = 2,
}

/// How the samples of one input become its map (see `gradient/sample_moments.wgsl`).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Combine {
    pub map: Map,
    /// Multiply by `a − b` (the input minus its baseline or root point).
    pub delta: bool,
    /// Also sum the squares of the mapped gradients (VarGrad).
    pub second: bool,
}

/// What a method asks of the engine.
pub(crate) struct EngineSpec {
    pub backward: Backward,
    /// Gradient samples per input (IG's path points, SmoothGrad's noisy copies), at least 1.
    pub samples: usize,
    /// Combine the input gradients into maps.
    pub combine: Option<Combine>,
    /// Stop the backward pass at this node and read back its value and gradient (CAMs).
    pub layer: Option<NodeId>,
    /// Gradient items per submission wanted; a submission always holds all samples of its
    /// inputs when they fit the device, so at least one input's.
    pub batch: usize,
}

/// Where one method's inputs come from, per input `i` and sample `s`.
pub(crate) trait Samples {
    /// The forward input of sample `s` of input `i`, written into `out`.
    fn point(&self, i: usize, s: usize, out: &mut [f32]) -> Result<()>;
    /// The weight of sample `s` of input `i` in the combined map.
    fn weight(&self, _i: usize, _s: usize) -> f32 {
        1.0
    }
    /// The reference input of input `i` ([`Backward::DeepLift`] only).
    fn reference(&self, _i: usize, _out: &mut [f32]) -> Result<()> {
        Ok(())
    }
    /// The factors `a`, `b` of `a − b` for input `i` (when the combination multiplies by it).
    fn delta(&self, _i: usize, _a: &mut [f32], _b: &mut [f32]) -> Result<()> {
        Ok(())
    }
    /// The target of input `i`.
    fn target(&self, i: usize) -> &Target;
}

/// What [`Engine::run_all`] returns for `n` inputs.
pub(crate) struct Sampled {
    /// Combined maps `[n × item]` (zeros without a combination).
    pub m1: Vec<f32>,
    /// Sums of squares `[n × item]` (with `second`).
    pub m2: Option<Vec<f32>>,
    /// Explained outputs at each input's first sample point `[n × F]`.
    pub outputs: Vec<f32>,
    /// Explained outputs at each input's reference `[n × F]` (DeepLIFT).
    pub reference_outputs: Option<Vec<f32>>,
    /// The chosen layer's value and gradient `[n × layer item]` each (one sample per input).
    pub layer: Option<(Vec<f32>, Vec<f32>)>,
}

struct CombineTensors {
    weights: TensorId,
    a: TensorId,
    b: TensorId,
    out: TensorId,
    second: bool,
}

/// A compiled gradient plan.
pub(crate) struct Engine {
    plan: Plan,
    input: TensorId,
    target: TensorId,
    outputs: TensorId,
    combine: Option<CombineTensors>,
    layer: Option<(TensorId, TensorId, usize)>,
    reference: bool,
    samples: usize,
    inputs_per_run: usize,
    samples_per_run: usize,
    item_in: usize,
    features: usize,
}

impl Engine {
    pub fn new(gpu: &Gpu, graph: &Graph, spec: &EngineSpec) -> Result<Self> {
        if spec.samples == 0 {
            return Err(Error::Invalid(
                "the number of samples must be at least 1".into(),
            ));
        }
        let start = explained_node(graph);
        if let Some(l) = spec.layer {
            if l >= start || spec.samples != 1 || spec.backward == Backward::DeepLift {
                return Err(Error::Invalid(format!(
                    "node {l} cannot be read back: it must come before the explained node {start}"
                )));
            }
        }
        let reference = spec.backward == Backward::DeepLift;
        // Items one submission holds, counting the reference run's copies.
        let fit = items_per_submission(gpu, graph, usize::MAX / 4)? / (1 + reference as usize);
        if fit == 0 {
            return Err(Error::Invalid(
                "not even one input and its reference fit one submission on this device".into(),
            ));
        }
        let samples_per_run = spec.samples.min(fit);
        let inputs_per_run = if samples_per_run == spec.samples {
            (spec.batch / spec.samples).clamp(1, (fit / spec.samples).max(1))
        } else {
            1
        };
        let items = inputs_per_run * samples_per_run;
        let mut b = PlanBuilder::new(gpu);
        let values = record_forward(&mut b, graph, items * (1 + reference as usize))?;
        let stop = spec.layer.unwrap_or(0);
        let t = record_backward(&mut b, graph, &values, items, start, stop, spec.backward)?;
        let item_in: usize = graph.input_shape().iter().product();
        let combine = match spec.combine {
            Some(c) => Some(record_combine(
                &mut b,
                t.gradient,
                inputs_per_run,
                samples_per_run,
                item_in,
                c,
            )?),
            None => None,
        };
        let layer = spec.layer.map(|l| {
            let item: usize = graph.nodes[l].shape.iter().product();
            (values[l], t.gradient, item)
        });
        for keep in [values[0], values[start], t.target] {
            b.keep(keep);
        }
        if let Some((v, g, _)) = layer {
            b.keep(v);
            b.keep(g);
        }
        if let Some(c) = &combine {
            for keep in [c.weights, c.a, c.b, c.out] {
                b.keep(keep);
            }
        }
        Ok(Engine {
            plan: b.build()?,
            input: values[0],
            target: t.target,
            outputs: values[start],
            combine,
            layer,
            reference,
            samples: spec.samples,
            inputs_per_run,
            samples_per_run,
            item_in,
            features: graph.nodes[start].shape.iter().product(),
        })
    }

    /// Inputs per submission.
    pub fn inputs_per_run(&self) -> usize {
        self.inputs_per_run
    }

    /// Runs `n` inputs, in submissions of whole inputs when their samples fit one (else one
    /// input's samples over several submissions, summed here).
    pub fn run_all(&mut self, n: usize, src: &dyn Samples) -> Result<Sampled> {
        let (d, f) = (self.item_in, self.features);
        let (ipr, spr) = (self.inputs_per_run, self.samples_per_run);
        let items = ipr * spr;
        let mut m1 = vec![0.0f32; n * d];
        let mut m2 = self
            .combine
            .as_ref()
            .filter(|c| c.second)
            .map(|_| vec![0.0f32; n * d]);
        let mut outputs = vec![0.0f32; n * f];
        let mut reference_outputs = self.reference.then(|| vec![0.0f32; n * f]);
        let mut layer = self
            .layer
            .map(|(_, _, l)| (vec![0.0f32; n * l], vec![0.0f32; n * l]));
        for i0 in (0..n).step_by(ipr) {
            let m = ipr.min(n - i0);
            for s0 in (0..self.samples).step_by(spr) {
                let sc = spr.min(self.samples - s0);
                let fwd_items = items * (1 + self.reference as usize);
                let mut forward = vec![0.0f32; fwd_items * d];
                let mut modes = vec![1.0f32; items];
                let mut weights = vec![0.0f32; items * f];
                let mut sample_w = vec![0.0f32; items];
                let mut a = vec![0.0f32; ipr * d];
                let mut bb = vec![0.0f32; ipr * d];
                for j in 0..m {
                    let i = i0 + j;
                    let (mode, w) = src.target(i).encode(f)?;
                    for t in 0..sc {
                        let k = j * spr + t;
                        src.point(i, s0 + t, &mut forward[k * d..(k + 1) * d])?;
                        if self.reference {
                            let r = (items + k) * d;
                            src.reference(i, &mut forward[r..r + d])?;
                        }
                        modes[k] = mode;
                        weights[k * f..(k + 1) * f].copy_from_slice(&w);
                        sample_w[k] = src.weight(i, s0 + t);
                    }
                    src.delta(i, &mut a[j * d..(j + 1) * d], &mut bb[j * d..(j + 1) * d])?;
                }
                modes.extend(weights);
                self.plan.write(self.input, &forward)?;
                self.plan.write(self.target, &modes)?;
                let mut reads = vec![(self.outputs, fwd_items * f)];
                if let Some(c) = &self.combine {
                    self.plan.write(c.weights, &sample_w)?;
                    self.plan.write(c.a, &a)?;
                    self.plan.write(c.b, &bb)?;
                    reads.push((c.out, ipr * d * (1 + c.second as usize)));
                }
                if let Some((v, g, l)) = self.layer {
                    reads.push((v, m * l));
                    reads.push((g, m * l));
                }
                let got = self.plan.run(&reads)?;
                let mut got = got.into_iter();
                let outs = got.next().unwrap_or_default();
                if s0 == 0 {
                    for j in 0..m {
                        let k = j * spr;
                        outputs[(i0 + j) * f..(i0 + j + 1) * f]
                            .copy_from_slice(&outs[k * f..(k + 1) * f]);
                        if let Some(r) = &mut reference_outputs {
                            let k = items + k;
                            r[(i0 + j) * f..(i0 + j + 1) * f]
                                .copy_from_slice(&outs[k * f..(k + 1) * f]);
                        }
                    }
                }
                if self.combine.is_some() {
                    let c = got.next().unwrap_or_default();
                    add_into(&mut m1[i0 * d..(i0 + m) * d], &c[..m * d]);
                    if let Some(m2) = &mut m2 {
                        add_into(&mut m2[i0 * d..(i0 + m) * d], &c[ipr * d..(ipr + m) * d]);
                    }
                }
                if let (Some((vs, gs)), Some((_, _, l))) = (&mut layer, self.layer) {
                    vs[i0 * l..(i0 + m) * l].copy_from_slice(&got.next().unwrap_or_default());
                    gs[i0 * l..(i0 + m) * l].copy_from_slice(&got.next().unwrap_or_default());
                }
            }
        }
        Ok(Sampled {
            m1,
            m2,
            outputs,
            reference_outputs,
            layer,
        })
    }
}

fn add_into(acc: &mut [f32], v: &[f32]) {
    acc.iter_mut().zip(v).for_each(|(a, b)| *a += b);
}

fn record_combine(
    b: &mut PlanBuilder,
    gradient: TensorId,
    inputs: usize,
    samples: usize,
    item: usize,
    c: Combine,
) -> Result<CombineTensors> {
    let weights = b.tensor("sample weights", inputs * samples)?;
    let a = b.tensor("delta a", inputs * item)?;
    let bt = b.tensor("delta b", inputs * item)?;
    let out = b.tensor("map", inputs * item * (1 + c.second as usize))?;
    let p = vec![
        inputs as u32,
        samples as u32,
        item as u32,
        c.map as u32,
        c.delta as u32,
        c.second as u32,
    ];
    b.pass(
        "gradient/sample_moments",
        "main",
        binds(
            p,
            &[gradient],
            &[
                Resource::Tensor(weights),
                Resource::Tensor(a),
                Resource::Tensor(bt),
            ],
            out,
        ),
        &[out],
        Launch::Flat {
            count: (inputs * item) as u64,
            size: 256,
        },
    );
    Ok(CombineTensors {
        weights,
        a,
        b: bt,
        out,
        second: c.second,
    })
}
