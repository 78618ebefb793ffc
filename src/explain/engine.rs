//! The program every explanation method runs: the forward pass of a batch of sample points, the
//! one backward pass under the method's per-node rules, and (for input-space maps of several
//! samples) the combination of each input's samples into one map — all in one submission,
//! reading back only the maps, the explained outputs, and what the method asks besides (a
//! layer's value and gradient for CAMs, per-layer sums for LRP's conservation report).

use super::backward::{record_backward, BackwardSpec, NodeRule, Seed};
use super::filter::{check_conditions, ConditionSet, Filter};
use super::{Recorded, Target};
use crate::error::{Error, Result};
use crate::gpu::{DeviceModel, Executable};
use crate::layers::LayerClass;
use crate::model::{Graph, NodeId};
use crate::plan::{
    binds, items_per_submission, record_forward, Launch, Out, Program, Resource, TensorId, WgslEnum,
};

crate::wgsl_enum! {
    /// The element-wise map applied to each sample's gradient before it is weighted and summed.
    pub enum SampleMap("MAP") {
        /// The gradient itself.
        Identity = 0,
        /// Its absolute value.
        Abs = 1,
        /// Its square.
        Square = 2,
    }
}

crate::params! {
    /// `inputs` × `samples` gradients of `item` values, combined.
    pub struct CombineParams {
        pub inputs: u32, pub samples: u32, pub item: u32, pub map: u32,
        pub delta: u32, pub second: u32, pub pad0: u32, pub pad1: u32,
    }
}

crate::kernel!(pub(crate) COMBINE: CombineParams = "explain/combine");

/// How the samples of one input become its map (see `explain/combine.wgsl`).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Combine {
    pub map: SampleMap,
    /// Multiply by `a − b` (the input minus its baseline or root point).
    pub delta: bool,
    /// Also sum the squares of the mapped gradients (VarGrad).
    pub second: bool,
}

/// What a method asks of the engine.
pub(crate) struct EngineSpec {
    /// Every node's backward rule.
    pub rules: Vec<NodeRule>,
    /// What flows from the explained node.
    pub seed: Seed,
    /// Run each input's reference too (DeepLIFT): forward tensors hold the references after
    /// the explained items.
    pub reference: bool,
    /// Gradient samples per input (IG's path points, SmoothGrad's noisy copies), at least 1.
    pub samples: usize,
    /// Combine the samples' input gradients into maps; without, what reaches `stop` is read
    /// back as it is (one sample per input).
    pub combine: Option<Combine>,
    /// The node the backward pass stops at (0: the input).
    pub stop: NodeId,
    /// Also read back the forward value of `stop` (CAMs).
    pub read_stop_value: bool,
    /// Per-node sums of what flows back (LRP's conservation report).
    pub sums: bool,
    /// Gradient items per submission wanted; a submission always holds all samples of its
    /// inputs when they fit the device, so at least one input's.
    pub batch: usize,
    /// Where the backward pass starts, where it is conditioned, what is recorded.
    pub filter: Filter,
}

/// Where one method's inputs come from, per input `i` and sample `s`.
pub(crate) trait Samples {
    /// The forward input of sample `s` of input `i`, written into `out`.
    fn point(&self, i: usize, s: usize, out: &mut [f32]) -> Result<()>;
    /// The weight of sample `s` of input `i` in the combined map.
    fn weight(&self, _i: usize, _s: usize) -> f32 {
        1.0
    }
    /// The reference input of input `i` (DeepLIFT only).
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
    /// Combined maps `[n × item]`, or what reached the stop node without a combination.
    pub m1: Vec<f32>,
    /// Sums of squares `[n × item]` (with `second`).
    pub m2: Option<Vec<f32>>,
    /// Explained outputs at each input's first sample point `[n × F]`.
    pub outputs: Vec<f32>,
    /// Explained outputs at each input's reference `[n × F]` (DeepLIFT).
    pub reference_outputs: Option<Vec<f32>>,
    /// The stop node's forward value `[n × its item]` (with `read_stop_value`).
    pub stop_value: Option<Vec<f32>>,
    /// Per node, the per-item sums of what reached it (with `sums`).
    pub sums: Option<Vec<Vec<f32>>>,
    /// What reached each recorded node (the filter's `record`).
    pub records: Vec<Recorded>,
}

struct CombineTensors {
    weights: TensorId,
    a: TensorId,
    b: TensorId,
    out: TensorId,
    second: bool,
}

/// A compiled explanation program.
pub(crate) struct Engine {
    exe: Executable,
    input: TensorId,
    target: TensorId,
    outputs: TensorId,
    combine: Option<CombineTensors>,
    stop: TensorId,
    stop_value: Option<TensorId>,
    stop_item: usize,
    sums: Option<TensorId>,
    nodes: usize,
    reference: bool,
    samples: usize,
    inputs_per_run: usize,
    samples_per_run: usize,
    item_in: usize,
    features: usize,
    filter: Filter,
    /// Per conditioned node: its mask tensor and the node's item shape.
    masks: Vec<(TensorId, Vec<usize>)>,
    records: Vec<RecordSlot>,
}

/// A recorded node: the tensor of what reaches it, the node, its name and item shape.
struct RecordSlot {
    tensor: TensorId,
    node: NodeId,
    name: String,
    shape: Vec<usize>,
}

impl RecordSlot {
    fn len(&self) -> usize {
        self.shape.iter().product()
    }
}

/// The node an explanation starts from: the output, or the logits before a final softmax.
pub fn explained_node(graph: &Graph) -> NodeId {
    let out = &graph.nodes[graph.output];
    if out.op.layer().class() == LayerClass::Softmax {
        out.inputs[0]
    } else {
        graph.output
    }
}

impl Engine {
    /// Bytes of the tensor buffers and own constants.
    pub fn memory_bytes(&self) -> u64 {
        self.exe.buffer_bytes() + self.exe.own_constant_bytes()
    }

    pub fn new(model: &DeviceModel, spec: &EngineSpec) -> Result<Self> {
        let graph = model.graph();
        if spec.samples == 0 {
            return Err(Error::Invalid(
                "the number of samples must be at least 1".into(),
            ));
        }
        let start = spec.filter.start.unwrap_or_else(|| explained_node(graph));
        let name = |k: NodeId| &graph.nodes[k].name;
        for &k in spec.filter.conditioned.iter().chain(&spec.filter.record) {
            if k > start || k < spec.stop {
                return Err(Error::Invalid(format!(
                    "'{}' is outside the backward pass, which runs from '{}' to '{}'",
                    name(k),
                    name(start),
                    name(spec.stop)
                )));
            }
        }
        if !spec.filter.record.is_empty() && spec.samples != 1 {
            return Err(Error::Invalid(
                "inner relevance is recorded for methods of one sample per input".into(),
            ));
        }
        if spec.stop >= start || (spec.combine.is_none() && spec.samples != 1) {
            return Err(Error::Invalid(format!(
                "node {} cannot be read back: it must come before the explained node {start}",
                spec.stop
            )));
        }
        let profile = model.profile();
        let copies = 1 + spec.reference as usize;
        // Items one submission holds, counting the reference run's copies.
        let fit = items_per_submission(&profile, graph, usize::MAX / 4)? / copies;
        if fit == 0 {
            return Err(Error::Invalid(
                "not even one input and its reference fit one submission on this device".into(),
            ));
        }
        let samples_per_run = spec.samples.min(fit);
        let inputs_per_run = if samples_per_run == spec.samples {
            // As few submissions as the device allows, evenly filled (16 inputs where 10 fit
            // run as 8 + 8).
            let per_input = spec.samples * copies;
            let wanted = (spec.batch / spec.samples).max(1) * per_input;
            (items_per_submission(&profile, graph, wanted)? / per_input).max(1)
        } else {
            1
        };
        let items = inputs_per_run * samples_per_run;
        let mut p = Program::new(&profile);
        let values = record_forward(&mut p, graph, items * copies)?;
        let mut masks = Vec::with_capacity(spec.filter.conditioned.len());
        let mut mask_ids = Vec::with_capacity(masks.capacity());
        for &k in &spec.filter.conditioned {
            let shape = graph.nodes[k].shape.clone();
            let t = p.tensor(
                &format!("condition[{}]", name(k)),
                items * shape.iter().product::<usize>(),
            )?;
            p.keep(t);
            mask_ids.push((k, t));
            masks.push((t, shape));
        }
        let back = BackwardSpec {
            batch: items,
            start,
            stop: spec.stop,
            rules: &spec.rules,
            seed: spec.seed,
            sums: spec.sums,
            label: match spec.seed {
                Seed::Relevance => "R",
                Seed::Gradient | Seed::Tensor(_) => "grad",
            },
            joins: &[],
            masks: &mask_ids,
            exclude_parallel: spec.filter.exclude_parallel,
        };
        let t = record_backward(&mut p, graph, &values, &back)?;
        let mut records = Vec::with_capacity(spec.filter.record.len());
        for &k in &spec.filter.record {
            let r = t.flow[k].ok_or_else(|| {
                Error::Graph(format!(
                    "nothing flows back to '{}' from '{}'",
                    name(k),
                    name(start)
                ))
            })?;
            p.keep(r);
            records.push(RecordSlot {
                tensor: r,
                node: k,
                name: name(k).clone(),
                shape: graph.nodes[k].shape.clone(),
            });
        }
        let stop = t.flow[spec.stop].expect("checked by the recorder");
        let item_in: usize = graph.input_shape().iter().product();
        let combine = match spec.combine {
            Some(c) => Some(record_combine(
                &mut p,
                stop,
                inputs_per_run,
                samples_per_run,
                item_in,
                c,
            )?),
            None => None,
        };
        p.keep(values[start]);
        if spec.combine.is_none() {
            p.keep(stop);
        }
        let stop_value = spec.read_stop_value.then_some(values[spec.stop]);
        if let Some(v) = stop_value {
            p.keep(v);
        }
        Ok(Engine {
            exe: Executable::new(model, p)?,
            input: values[0],
            target: t.target,
            outputs: values[start],
            combine,
            stop,
            stop_value,
            stop_item: graph.nodes[spec.stop].shape.iter().product(),
            sums: t.sums,
            nodes: graph.nodes.len(),
            reference: spec.reference,
            samples: spec.samples,
            inputs_per_run,
            samples_per_run,
            item_in,
            features: graph.nodes[start].shape.iter().product(),
            filter: spec.filter.clone(),
            masks,
            records,
        })
    }

    /// Inputs per submission.
    pub fn inputs_per_run(&self) -> usize {
        self.inputs_per_run
    }

    /// The compiled program (pass and buffer statistics, profiling).
    pub fn executable(&self) -> &Executable {
        &self.exe
    }

    /// Runs `n` inputs, in submissions of whole inputs when their samples fit one (else one
    /// input's samples over several submissions, summed here), under `conditions` (none, or
    /// one set per input, every sample of an input under its set).
    pub fn run_all(
        &mut self,
        n: usize,
        src: &dyn Samples,
        conditions: &[ConditionSet],
    ) -> Result<Sampled> {
        check_conditions(&self.filter, n, conditions)?;
        let (d, f) = (self.item_in, self.features);
        let (ipr, spr) = (self.inputs_per_run, self.samples_per_run);
        let items = ipr * spr;
        let copies = 1 + self.reference as usize;
        let item_m1 = if self.combine.is_some() {
            d
        } else {
            self.stop_item
        };
        let mut m1 = vec![0.0f32; n * item_m1];
        let mut m2 = self
            .combine
            .as_ref()
            .filter(|c| c.second)
            .map(|_| vec![0.0f32; n * d]);
        let mut outputs = vec![0.0f32; n * f];
        let mut reference_outputs = self.reference.then(|| vec![0.0f32; n * f]);
        let mut stop_value = self.stop_value.map(|_| vec![0.0f32; n * self.stop_item]);
        let mut sums = self.sums.map(|_| vec![Vec::with_capacity(n); self.nodes]);
        let mut records: Vec<Vec<f32>> = (self.records.iter())
            .map(|r| vec![0.0; n * r.len()])
            .collect();
        for i0 in (0..n).step_by(ipr) {
            let m = ipr.min(n - i0);
            for s0 in (0..self.samples).step_by(spr) {
                let sc = spr.min(self.samples - s0);
                let mut forward = vec![0.0f32; items * copies * d];
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
                self.exe.write(self.input, &forward)?;
                self.exe.write(self.target, &modes)?;
                for (slot, (t, shape)) in self.masks.iter().enumerate() {
                    let l: usize = shape.iter().product();
                    let mut mask = vec![1.0f32; items * l];
                    for j in 0..m {
                        let set = conditions.get(i0 + j);
                        for s in 0..sc {
                            let k = (j * spr + s) * l;
                            self.filter.mask(shape, set, slot, &mut mask[k..k + l])?;
                        }
                    }
                    self.exe.write(*t, &mask)?;
                }
                let mut reads = vec![(self.outputs, items * copies * f)];
                match &self.combine {
                    Some(c) => {
                        self.exe.write(c.weights, &sample_w)?;
                        self.exe.write(c.a, &a)?;
                        self.exe.write(c.b, &bb)?;
                        reads.push((c.out, ipr * d * (1 + c.second as usize)));
                    }
                    None => reads.push((self.stop, m * self.stop_item)),
                }
                if let Some(v) = self.stop_value {
                    reads.push((v, m * self.stop_item));
                }
                if let Some(s) = self.sums {
                    reads.push((s, self.nodes * items));
                }
                for r in &self.records {
                    reads.push((r.tensor, m * r.len()));
                }
                let mut got = self.exe.run(&reads)?.into_iter();
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
                let c = got.next().unwrap_or_default();
                add_into(&mut m1[i0 * item_m1..(i0 + m) * item_m1], &c[..m * item_m1]);
                if let Some(m2) = &mut m2 {
                    add_into(&mut m2[i0 * d..(i0 + m) * d], &c[ipr * d..(ipr + m) * d]);
                }
                if let Some(v) = &mut stop_value {
                    let l = self.stop_item;
                    v[i0 * l..(i0 + m) * l].copy_from_slice(&got.next().unwrap_or_default());
                }
                if let Some(all) = &mut sums {
                    let s = got.next().unwrap_or_default();
                    for (k, row) in all.iter_mut().enumerate() {
                        row.extend_from_slice(&s[k * items..k * items + m]);
                    }
                }
                for (out, r) in records.iter_mut().zip(&self.records) {
                    let l = r.len();
                    out[i0 * l..(i0 + m) * l].copy_from_slice(&got.next().unwrap_or_default());
                }
            }
        }
        Ok(Sampled {
            m1,
            m2,
            outputs,
            reference_outputs,
            stop_value,
            sums,
            records: (self.records.iter().zip(records))
                .map(|(r, v)| Recorded::new(r.node, &r.name, &r.shape, v))
                .collect::<Result<_>>()?,
        })
    }
}

fn add_into(acc: &mut [f32], v: &[f32]) {
    acc.iter_mut().zip(v).for_each(|(a, b)| *a += b);
}

fn record_combine(
    p: &mut Program,
    gradient: TensorId,
    inputs: usize,
    samples: usize,
    item: usize,
    c: Combine,
) -> Result<CombineTensors> {
    let weights = p.tensor("sample weights", inputs * samples)?;
    let a = p.tensor("delta a", inputs * item)?;
    let bt = p.tensor("delta b", inputs * item)?;
    let out = p.tensor("map", inputs * item * (1 + c.second as usize))?;
    for t in [weights, a, bt, out] {
        p.keep(t);
    }
    let params = CombineParams {
        inputs: inputs as u32,
        samples: samples as u32,
        item: item as u32,
        map: c.map.code(),
        delta: c.delta as u32,
        second: c.second as u32,
        ..CombineParams::default()
    };
    let consts = [
        Resource::Tensor(weights),
        Resource::Tensor(a),
        Resource::Tensor(bt),
    ];
    let launch = Launch::Flat {
        count: (inputs * item) as u64,
        size: 256,
    };
    p.pass(
        &COMBINE,
        "main",
        &params,
        binds(&[gradient], &consts, out),
        Out::Write(out),
        launch,
    )?;
    Ok(CombineTensors {
        weights,
        a,
        b: bt,
        out,
        second: c.second,
    })
}
