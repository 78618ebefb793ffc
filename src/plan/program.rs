//! A program recorded with no GPU: tensors, constants and passes, optionally a step of passes
//! repeated k times; buffer sizes and lifetimes follow from it (see [`Program::memory`]).
//! `gpu::Executable` allocates, binds, submits and reads back.

use std::collections::HashMap;
use std::ops::Range;

use super::device::DeviceProfile;
use super::kernel::{Kernel, Params};
use super::memory::{assign, Assignment, Lifetime};
use super::weights::WeightKey;
use crate::error::{Error, Result};

/// A tensor of a program, before it has a buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TensorId(pub(crate) usize);

/// A constant buffer of a program.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ConstId(pub(crate) usize);

/// Where a constant's values come from.
#[derive(Clone, Debug, PartialEq)]
pub enum ConstSource {
    /// A parameter tensor of the model in some layout and modification, from the device
    /// model's weight store: uploaded once, shared by every program built on the model.
    Weight(WeightKey),
    /// Values of this program alone (bound terms, small per-plan tables).
    Data(Vec<f32>),
}

/// What a binding of a pass refers to.
#[derive(Clone, Debug, PartialEq)]
pub enum Resource {
    /// A tensor, bound whole.
    Tensor(TensorId),
    /// A constant, bound whole.
    Const(ConstId),
    /// `bytes` of a constant from byte `offset` (a multiple of the device's offset alignment):
    /// constants larger than one binding, bound in chunks.
    ConstSlice {
        /// The constant.
        id: ConstId,
        /// First byte bound.
        offset: u64,
        /// Bytes bound.
        bytes: u64,
    },
    /// The kernel's parameter struct (binding 0).
    Params(Vec<u8>),
}

/// How many invocations a pass launches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Launch {
    /// `count` invocations of a 1-D kernel with workgroups of `size`.
    Flat { count: u64, size: u32 },
    /// An explicit workgroup grid (tiled kernels).
    Grid([u32; 3]),
}

/// What a pass does to its output tensor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Out {
    /// Overwrites it.
    Write(TensorId),
    /// Reads and writes it (accumulation, an in-place update).
    Update(TensorId),
}

impl Out {
    /// `Update` when `accumulate`, else `Write`.
    pub fn to(t: TensorId, accumulate: bool) -> Out {
        if accumulate {
            Out::Update(t)
        } else {
            Out::Write(t)
        }
    }

    /// The tensor written.
    pub fn tensor(self) -> TensorId {
        match self {
            Out::Write(t) | Out::Update(t) => t,
        }
    }
}

/// One recorded pass.
#[derive(Clone, Debug)]
pub struct Pass {
    /// Kernel path under `shaders/`.
    pub kernel: &'static str,
    /// Entry point.
    pub entry: &'static str,
    /// Override constants specialising the kernel.
    pub constants: Vec<(&'static str, f64)>,
    /// Bindings, binding 0 the parameter struct.
    pub bindings: Vec<(u32, Resource)>,
    /// The workgroup grid.
    pub grid: [u32; 3],
    /// The tensor it writes.
    pub out: Out,
}

/// A step of passes run `times` times in the same submission, with `record` copied aside after
/// every `every`-th run (read back at the end, never in between).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Repeat {
    /// The passes of one step.
    pub passes: Range<usize>,
    /// How many times the step runs.
    pub times: usize,
    /// Every how many steps `record` is copied aside (0: never).
    pub every: usize,
    /// The first step after which `record` is copied aside (1-based; `every` by default).
    pub first: usize,
    /// Tensors copied aside every `every` steps.
    pub record: Vec<TensorId>,
}

impl Repeat {
    /// How many times the recorded tensors are copied aside.
    pub fn records(&self) -> usize {
        if self.every == 0 || self.record.is_empty() || self.first > self.times {
            0
        } else {
            (self.times - self.first) / self.every + 1
        }
    }

    /// Whether `record` is copied aside after step `step` (1-based).
    pub fn records_after(&self, step: usize) -> bool {
        self.every > 0 && step >= self.first && (step - self.first).is_multiple_of(self.every)
    }
}

#[derive(Clone, Debug)]
pub(crate) struct TensorSpec {
    pub name: String,
    pub bytes: u64,
    pub keep: bool,
}

#[derive(Clone, Debug)]
pub(crate) struct ConstSpec {
    pub name: String,
    pub bytes: u64,
    pub source: ConstSource,
}

/// A recorded program: what a `gpu::Executable` runs.
#[derive(Clone, Debug)]
pub struct Program {
    pub(crate) profile: DeviceProfile,
    pub(crate) tensors: Vec<TensorSpec>,
    pub(crate) consts: Vec<ConstSpec>,
    pub(crate) passes: Vec<Pass>,
    pub(crate) repeats: Vec<Repeat>,
    weights: HashMap<WeightKey, ConstId>,
    by_content: HashMap<u64, Vec<ConstId>>,
    repeat_start: Option<usize>,
}

/// Bindings in the kernels' common order from binding 1: inputs, constants, then the output.
pub fn binds(inputs: &[TensorId], consts: &[Resource], out: TensorId) -> Vec<(u32, Resource)> {
    let mut v: Vec<Resource> = inputs.iter().map(|&t| Resource::Tensor(t)).collect();
    v.extend(consts.iter().cloned());
    v.push(Resource::Tensor(out));
    v.into_iter()
        .enumerate()
        .map(|(i, r)| (i as u32 + 1, r))
        .collect()
}

impl Program {
    /// An empty program for a device.
    pub fn new(profile: &DeviceProfile) -> Self {
        Program {
            profile: profile.clone(),
            tensors: Vec::new(),
            consts: Vec::new(),
            passes: Vec::new(),
            repeats: Vec::new(),
            by_content: HashMap::new(),
            weights: HashMap::new(),
            repeat_start: None,
        }
    }

    /// The device it is recorded for.
    pub fn profile(&self) -> &DeviceProfile {
        &self.profile
    }

    /// A new f32 tensor of `numel` values; fails when no pass could bind it.
    pub fn tensor(&mut self, name: &str, numel: usize) -> Result<TensorId> {
        let bytes = (numel.max(1) as u64) * 4;
        let limit = self.profile.max_tensor_bytes();
        if bytes > limit {
            return Err(Error::TooLarge {
                tensor: name.into(),
                bytes,
                limit,
            });
        }
        self.tensors.push(TensorSpec {
            name: name.into(),
            bytes,
            keep: false,
        });
        Ok(TensorId(self.tensors.len() - 1))
    }

    /// Keeps a tensor's value for the whole program (inputs the host writes, tensors it reads
    /// back): its buffer is shared with no other tensor. Only kept tensors can be written or read.
    pub fn keep(&mut self, t: TensorId) {
        self.tensors[t.0].keep = true;
    }

    /// Whether `t` is kept.
    pub fn is_kept(&self, t: TensorId) -> bool {
        self.tensors[t.0].keep
    }

    /// The name of tensor `t`.
    pub fn tensor_name(&self, t: TensorId) -> &str {
        &self.tensors[t.0].name
    }

    /// Bytes of tensor `t`.
    pub fn tensor_bytes(&self, t: TensorId) -> u64 {
        self.tensors[t.0].bytes
    }

    /// A parameter tensor of the model (`numel` values), from the device model's weight store;
    /// one constant per key however often it is asked for.
    pub fn weight(&mut self, key: WeightKey, name: &str, numel: usize) -> Result<ConstId> {
        if let Some(&id) = self.weights.get(&key) {
            return Ok(id);
        }
        let id = self.push_const(name, numel, ConstSource::Weight(key))?;
        self.weights.insert(key, id);
        Ok(id)
    }

    /// A constant of this program alone. Values equal bit for bit to an earlier constant's
    /// share its upload (a step recorded in several phases, or a term asked for twice, costs
    /// no second copy).
    pub fn constant(&mut self, name: &str, data: Vec<f32>) -> Result<ConstId> {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        data.len().hash(&mut h);
        for v in &data {
            v.to_bits().hash(&mut h);
        }
        let key = h.finish();
        let same = |c: &ConstId, consts: &[ConstSpec]| match &consts[c.0].source {
            ConstSource::Data(d) => {
                d.len() == data.len()
                    && d.iter().zip(&data).all(|(a, b)| a.to_bits() == b.to_bits())
            }
            ConstSource::Weight(_) => false,
        };
        if let Some(&id) = self
            .by_content
            .get(&key)
            .and_then(|ids| ids.iter().find(|c| same(c, &self.consts)))
        {
            return Ok(id);
        }
        let n = data.len();
        let id = self.push_const(name, n, ConstSource::Data(data))?;
        self.by_content.entry(key).or_default().push(id);
        Ok(id)
    }

    /// A one-value constant 0, for bindings a pass declares but its mode does not read.
    pub fn zero(&mut self) -> Result<ConstId> {
        self.constant("zero", vec![0.0])
    }

    fn push_const(&mut self, name: &str, numel: usize, source: ConstSource) -> Result<ConstId> {
        let bytes = (numel.max(1) as u64) * 4;
        if bytes > self.profile.max_buffer {
            return Err(Error::TooLarge {
                tensor: name.into(),
                bytes,
                limit: self.profile.max_buffer,
            });
        }
        self.consts.push(ConstSpec {
            name: name.into(),
            bytes,
            source,
        });
        Ok(ConstId(self.consts.len() - 1))
    }

    /// Bytes of constant `c`.
    pub fn const_bytes(&self, c: ConstId) -> u64 {
        self.consts[c.0].bytes
    }

    /// Records a pass of `kernel::entry` with its parameters, bindings (from 1) and output.
    pub fn pass<P: Params>(
        &mut self,
        kernel: &Kernel<P>,
        entry: &'static str,
        params: &P,
        bindings: Vec<(u32, Resource)>,
        out: Out,
        launch: Launch,
    ) -> Result<()> {
        self.pass_specialised(kernel, entry, &[], params, bindings, out, launch)
    }

    /// Like [`Program::pass`], with the kernel specialised by override `constants`.
    #[allow(clippy::too_many_arguments)]
    pub fn pass_specialised<P: Params>(
        &mut self,
        kernel: &Kernel<P>,
        entry: &'static str,
        constants: &[(&'static str, f64)],
        params: &P,
        bindings: Vec<(u32, Resource)>,
        out: Out,
        launch: Launch,
    ) -> Result<()> {
        for (_, r) in &bindings {
            let (c, bytes) = match r {
                Resource::Const(c) => (c, self.consts[c.0].bytes),
                Resource::ConstSlice { id, bytes, .. } => (id, *bytes),
                _ => continue,
            };
            if bytes > self.profile.max_binding {
                return Err(Error::Invalid(format!(
                    "{}::{entry} binds {bytes} bytes of constant '{}' but the device binds at most {} bytes per storage buffer",
                    kernel.path, self.consts[c.0].name, self.profile.max_binding
                )));
            }
        }
        let mut all = vec![(0, Resource::Params(bytemuck::bytes_of(params).to_vec()))];
        all.extend(bindings);
        let grid = self.grid(launch)?;
        self.passes.push(Pass {
            kernel: kernel.path,
            entry,
            constants: constants.to_vec(),
            bindings: all,
            grid,
            out,
        });
        Ok(())
    }

    /// The workgroup grid of a launch, wrapping 1-D launches into 2-D past the per-dimension
    /// limit.
    fn grid(&self, launch: Launch) -> Result<[u32; 3]> {
        let max = self.profile.max_workgroups as u64;
        let g = match launch {
            Launch::Grid(g) => g,
            Launch::Flat { count, size } => {
                let groups = count.div_ceil(size as u64).max(1);
                let x = groups.min(max);
                let y = groups.div_ceil(x);
                if y > max {
                    return Err(Error::Invalid(format!(
                        "a pass of {count} invocations exceeds the device's dispatch limits"
                    )));
                }
                [x as u32, y as u32, 1]
            }
        };
        if g.iter().any(|&d| d as u64 > max) {
            return Err(Error::Invalid(format!(
                "workgroup grid {g:?} exceeds the device limit {max}"
            )));
        }
        Ok(g)
    }

    /// Starts the step that [`Program::end_repeat`] closes. Repeated steps follow one another
    /// (phases of one run), never nest.
    pub fn begin_repeat(&mut self) -> Result<()> {
        if self.repeat_start.is_some() {
            return Err(Error::Invalid("repeated steps do not nest".into()));
        }
        self.repeat_start = Some(self.passes.len());
        Ok(())
    }

    /// Closes the step: it runs `times` times, `record` copied aside every `every` steps.
    pub fn end_repeat(&mut self, times: usize, every: usize, record: &[TensorId]) -> Result<()> {
        self.end_repeat_from(times, every, every, record)
    }

    /// Like [`Program::end_repeat`], the first copy after step `first` (1-based): `first = 1`
    /// records what the step computed at the state every step `0, every, 2·every, …` started
    /// from (an objective curve from the initial point).
    pub fn end_repeat_from(
        &mut self,
        times: usize,
        first: usize,
        every: usize,
        record: &[TensorId],
    ) -> Result<()> {
        if first == 0 {
            return Err(Error::Invalid("steps count from 1".into()));
        }
        let start = self
            .repeat_start
            .take()
            .ok_or_else(|| Error::Invalid("end_repeat without begin_repeat".into()))?;
        if times == 0 || start == self.passes.len() {
            return Err(Error::Invalid(
                "a repeated step needs at least one pass and one run".into(),
            ));
        }
        for &t in record {
            self.keep(t);
        }
        self.repeats.push(Repeat {
            passes: start..self.passes.len(),
            times,
            every,
            first,
            record: record.to_vec(),
        });
        Ok(())
    }

    /// The first repeated step, if any.
    pub fn repeat(&self) -> Option<&Repeat> {
        self.repeats.first()
    }

    /// Every repeated step, in order.
    pub fn repeats(&self) -> &[Repeat] {
        &self.repeats
    }

    /// Number of recorded passes (a repeated step counted once).
    pub fn pass_count(&self) -> usize {
        self.passes.len()
    }

    /// The recorded passes.
    pub fn passes(&self) -> &[Pass] {
        &self.passes
    }

    /// Each tensor's lifetime: from the first pass that touches it to the last; kept tensors for
    /// the whole program; tensors whose value crosses from one run of the repeated step to the
    /// next (read there before written, or recorded) for the whole step.
    pub fn lifetimes(&self) -> Vec<Lifetime> {
        let mut lt: Vec<Lifetime> = self
            .tensors
            .iter()
            .map(|t| Lifetime {
                bytes: t.bytes,
                first: usize::MAX,
                last: 0,
            })
            .collect();
        for (i, p) in self.passes.iter().enumerate() {
            for t in p.tensors() {
                let l = &mut lt[t.0];
                l.first = l.first.min(i);
                l.last = l.last.max(i);
            }
        }
        for r in &self.repeats {
            for t in self.carried(r) {
                let l = &mut lt[t.0];
                l.first = l.first.min(r.passes.start);
                l.last = l.last.max(r.passes.end - 1);
            }
        }
        for (l, t) in lt.iter_mut().zip(&self.tensors) {
            if t.keep {
                l.first = 0;
                l.last = usize::MAX;
            }
            if l.first == usize::MAX {
                l.first = 0;
            }
        }
        lt
    }

    /// Tensors of the repeated step whose first access in a step reads the value the previous
    /// step (or the passes before the step) left.
    fn carried(&self, r: &Repeat) -> Vec<TensorId> {
        let mut seen: HashMap<TensorId, bool> = HashMap::new();
        for p in &self.passes[r.passes.clone()] {
            let written = match p.out {
                Out::Write(t) => Some(t),
                Out::Update(_) => None,
            };
            for t in p.tensors() {
                seen.entry(t).or_insert(Some(t) != written);
            }
        }
        let mut out: Vec<TensorId> = seen
            .into_iter()
            .filter(|&(_, reads_first)| reads_first)
            .map(|(t, _)| t)
            .collect();
        out.extend(r.record.iter().copied());
        out
    }

    /// Buffers planned from the lifetimes: which tensors share one.
    pub fn memory(&self) -> Assignment {
        assign(&self.lifetimes())
    }
}

impl Pass {
    /// The tensors it binds (its output included).
    pub fn tensors(&self) -> impl Iterator<Item = TensorId> + '_ {
        self.bindings
            .iter()
            .filter_map(|(_, r)| match r {
                Resource::Tensor(t) => Some(*t),
                _ => None,
            })
            .chain(std::iter::once(self.out.tensor()))
    }
}
