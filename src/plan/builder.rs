//! The plan builder: virtual tensors and passes are recorded first, then buffers are planned
//! from lifetimes and allocated once, and every bind group is made once.

use std::sync::Arc;

use wgpu::util::DeviceExt;

use super::memory::{assign, Lifetime};
use crate::error::{Error, Result};
use crate::gpu::Gpu;

/// A tensor of the plan, before it has a buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TensorId(pub(crate) usize);

/// A constant buffer (weights), uploaded when the plan is built.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConstId(usize);

/// What a binding of a pass refers to.
#[derive(Clone, Debug)]
pub enum Resource {
    /// A planned tensor.
    Tensor(TensorId),
    /// A constant buffer, bound whole.
    Const(ConstId),
    /// `bytes` of a constant buffer from byte `offset` (a multiple of the device's
    /// `min_storage_buffer_offset_alignment`): weights larger than one binding, bound in chunks.
    ConstSlice {
        /// The constant.
        id: ConstId,
        /// First byte bound.
        offset: u64,
        /// Bytes bound.
        bytes: u64,
    },
    /// Small parameters as a uniform (`u32` words; floats as bits).
    Uniform(Vec<u32>),
}

/// How many invocations a pass launches.
#[derive(Clone, Copy, Debug)]
pub enum Launch {
    /// `count` invocations of a 1-D kernel with workgroups of `size`.
    Flat { count: u64, size: u32 },
    /// An explicit workgroup grid (tiled kernels).
    Grid([u32; 3]),
}

struct PassSpec {
    kernel: &'static str,
    entry: &'static str,
    constants: Vec<(&'static str, f64)>,
    bindings: Vec<(u32, Resource)>,
    launch: Launch,
    /// Tensors the pass writes (the rest it reads).
    writes: Vec<TensorId>,
}

struct TensorSpec {
    name: String,
    bytes: u64,
    keep: bool,
}

/// Records tensors and passes, then builds a [`Plan`].
pub struct PlanBuilder {
    gpu: Gpu,
    tensors: Vec<TensorSpec>,
    consts: Vec<wgpu::Buffer>,
    const_names: Vec<String>,
    passes: Vec<PassSpec>,
}

impl PlanBuilder {
    /// An empty plan on `gpu`.
    pub fn new(gpu: &Gpu) -> Self {
        PlanBuilder {
            gpu: gpu.clone(),
            tensors: Vec::new(),
            consts: Vec::new(),
            const_names: Vec::new(),
            passes: Vec::new(),
        }
    }

    /// The device.
    pub fn gpu(&self) -> &Gpu {
        &self.gpu
    }

    /// A new f32 tensor of `numel` values; fails when it could not be bound.
    pub fn tensor(&mut self, name: &str, numel: usize) -> Result<TensorId> {
        let bytes = (numel.max(1) as u64) * 4;
        if bytes > self.gpu.max_binding() {
            return Err(Error::TooLarge {
                tensor: name.into(),
                bytes,
                limit: self.gpu.max_binding(),
            });
        }
        self.tensors.push(TensorSpec {
            name: name.into(),
            bytes,
            keep: false,
        });
        Ok(TensorId(self.tensors.len() - 1))
    }

    /// Keeps a tensor's value for the whole plan (inputs, read-back outputs, values the
    /// backward pass needs): its buffer is never reused.
    pub fn keep(&mut self, t: TensorId) {
        self.tensors[t.0].keep = true;
    }

    /// Uploads constant values once (weights, biases, per-channel parameters). A constant may
    /// exceed one binding (up to `max_buffer_size`) when its passes bind it in
    /// [`Resource::ConstSlice`]s.
    pub fn constant(&mut self, name: &str, data: &[f32]) -> Result<ConstId> {
        let bytes = (data.len().max(1) * 4) as u64;
        let limit = self.gpu.limits().max_buffer_size;
        if bytes > limit {
            return Err(Error::TooLarge {
                tensor: name.into(),
                bytes,
                limit,
            });
        }
        let padded;
        let contents: &[f32] = if data.is_empty() {
            padded = [0.0f32];
            &padded
        } else {
            data
        };
        let buffer = self.gpu.scoped(&format!("uploading {name}"), || {
            self.gpu
                .device
                .create_buffer_init(&wgpu::util::BufferInitDescriptor {
                    label: Some(name),
                    contents: bytemuck::cast_slice(contents),
                    usage: wgpu::BufferUsages::STORAGE,
                })
        })?;
        self.consts.push(buffer);
        self.const_names.push(name.into());
        Ok(ConstId(self.consts.len() - 1))
    }

    /// Records a pass of `kernel::entry` with its bindings; `writes` lists the tensors it writes.
    pub fn pass(
        &mut self,
        kernel: &'static str,
        entry: &'static str,
        bindings: Vec<(u32, Resource)>,
        writes: &[TensorId],
        launch: Launch,
    ) {
        self.passes.push(PassSpec {
            kernel,
            entry,
            constants: Vec::new(),
            bindings,
            launch,
            writes: writes.to_vec(),
        });
    }

    /// Like [`PlanBuilder::pass`], with the kernel specialised by override `constants`.
    pub fn pass_specialised(
        &mut self,
        kernel: &'static str,
        entry: &'static str,
        constants: &[(&'static str, f64)],
        bindings: Vec<(u32, Resource)>,
        writes: &[TensorId],
        launch: Launch,
    ) {
        self.pass(kernel, entry, bindings, writes, launch);
        if let Some(last) = self.passes.last_mut() {
            last.constants = constants.to_vec();
        }
    }

    /// Number of passes recorded so far.
    pub fn pass_count(&self) -> usize {
        self.passes.len()
    }

    /// Lifetimes of every tensor from the recorded passes.
    fn lifetimes(&self) -> Vec<Lifetime> {
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
            for (_, r) in &p.bindings {
                if let Resource::Tensor(t) = r {
                    let l = &mut lt[t.0];
                    l.first = l.first.min(i);
                    l.last = l.last.max(i);
                }
            }
            for t in &p.writes {
                lt[t.0].first = lt[t.0].first.min(i);
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

    /// Plans and allocates buffers, compiles pipelines, makes bind groups.
    pub fn build(self) -> Result<Plan> {
        let gpu = self.gpu.clone();
        let assignment = assign(&self.lifetimes());
        let buffers = gpu.scoped("allocating plan buffers", || {
            assignment
                .slot_bytes
                .iter()
                .enumerate()
                .map(|(i, &bytes)| {
                    gpu.device.create_buffer(&wgpu::BufferDescriptor {
                        label: Some(&format!("slot{i}")),
                        size: bytes.max(4),
                        usage: wgpu::BufferUsages::STORAGE
                            | wgpu::BufferUsages::COPY_SRC
                            | wgpu::BufferUsages::COPY_DST,
                        mapped_at_creation: false,
                    })
                })
                .collect::<Vec<_>>()
        })?;
        let mut passes = Vec::with_capacity(self.passes.len());
        for spec in &self.passes {
            self.check_bindings(spec)?;
            let pipeline = gpu.pipeline(spec.kernel, spec.entry, &spec.constants)?;
            let uniforms: Vec<Option<wgpu::Buffer>> = spec
                .bindings
                .iter()
                .map(|(_, r)| match r {
                    Resource::Uniform(words) => {
                        let mut w = words.clone();
                        w.resize(words.len().div_ceil(4).max(1) * 4, 0);
                        Some(
                            gpu.device
                                .create_buffer_init(&wgpu::util::BufferInitDescriptor {
                                    label: Some(spec.kernel),
                                    contents: bytemuck::cast_slice(&w),
                                    usage: wgpu::BufferUsages::UNIFORM,
                                }),
                        )
                    }
                    _ => None,
                })
                .collect();
            let entries: Vec<wgpu::BindGroupEntry> = spec
                .bindings
                .iter()
                .zip(&uniforms)
                .map(|((binding, r), u)| {
                    let buffer = match r {
                        Resource::Tensor(t) => &buffers[assignment.slot_of[t.0]],
                        Resource::Const(c) | Resource::ConstSlice { id: c, .. } => {
                            &self.consts[c.0]
                        }
                        Resource::Uniform(_) => u.as_ref().expect("uniform made above"),
                    };
                    let (offset, size) = match r {
                        Resource::Tensor(t) => (0, wgpu::BufferSize::new(self.tensors[t.0].bytes)),
                        Resource::ConstSlice { offset, bytes, .. } => {
                            (*offset, wgpu::BufferSize::new(*bytes))
                        }
                        _ => (0, None),
                    };
                    wgpu::BindGroupEntry {
                        binding: *binding,
                        resource: wgpu::BindingResource::Buffer(wgpu::BufferBinding {
                            buffer,
                            offset,
                            size,
                        }),
                    }
                })
                .collect();
            let bind_group =
                gpu.scoped(&format!("binding {}::{}", spec.kernel, spec.entry), || {
                    gpu.device.create_bind_group(&wgpu::BindGroupDescriptor {
                        label: Some(spec.kernel),
                        layout: &pipeline.get_bind_group_layout(0),
                        entries: &entries,
                    })
                })?;
            passes.push(ReadyPass {
                label: spec.kernel,
                entry: spec.entry,
                pipeline,
                bind_group,
                grid: grid(&gpu, spec.launch)?,
            });
        }
        Ok(Plan {
            gpu,
            tensors: self
                .tensors
                .iter()
                .map(|t| (t.name.clone(), t.bytes))
                .collect(),
            slot_of: assignment.slot_of.clone(),
            buffer_bytes: assignment.total_bytes(),
            buffers,
            passes,
            _consts: self.consts,
            staging: None,
        })
    }
}

impl PlanBuilder {
    /// Fails with a clear error when a pass binds more of a constant than the device allows.
    fn check_bindings(&self, spec: &PassSpec) -> Result<()> {
        let limit = self.gpu.max_binding();
        for (_, r) in &spec.bindings {
            let (c, bytes) = match r {
                Resource::Const(c) => (c, self.consts[c.0].size()),
                Resource::ConstSlice { id, bytes, .. } => (id, *bytes),
                _ => continue,
            };
            if bytes > limit {
                return Err(Error::Invalid(format!(
                    "{}::{} binds {bytes} bytes of constant '{}' but the device binds at most {limit} bytes per storage buffer",
                    spec.kernel, spec.entry, self.const_names[c.0]
                )));
            }
        }
        Ok(())
    }
}

/// The workgroup grid of a launch, wrapping 1-D launches into 2-D past the per-dimension limit.
fn grid(gpu: &Gpu, launch: Launch) -> Result<[u32; 3]> {
    let max = gpu.limits().max_compute_workgroups_per_dimension as u64;
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

struct ReadyPass {
    label: &'static str,
    entry: &'static str,
    pipeline: Arc<wgpu::ComputePipeline>,
    bind_group: wgpu::BindGroup,
    grid: [u32; 3],
}

/// A built plan: buffers allocated, pipelines compiled, bind groups made. Running it is one
/// submission; only requested tensors are read back, through a reused staging buffer.
pub struct Plan {
    gpu: Gpu,
    tensors: Vec<(String, u64)>,
    slot_of: Vec<usize>,
    buffer_bytes: u64,
    buffers: Vec<wgpu::Buffer>,
    passes: Vec<ReadyPass>,
    _consts: Vec<wgpu::Buffer>,
    staging: Option<wgpu::Buffer>,
}

impl Plan {
    /// Writes host values into a tensor (before [`Plan::run`]).
    pub fn write(&self, t: TensorId, data: &[f32]) -> Result<()> {
        let bytes = (data.len() * 4) as u64;
        if bytes > self.tensors[t.0].1 {
            return Err(Error::Shape(format!(
                "{} values do not fit tensor '{}' ({} bytes)",
                data.len(),
                self.tensors[t.0].0,
                self.tensors[t.0].1
            )));
        }
        self.gpu.queue.write_buffer(
            &self.buffers[self.slot_of[t.0]],
            0,
            bytemuck::cast_slice(data),
        );
        Ok(())
    }

    /// Runs every pass in one command buffer, then reads back `outputs` (each its first `len` values).
    pub fn run(&mut self, outputs: &[(TensorId, usize)]) -> Result<Vec<Vec<f32>>> {
        let total: u64 = outputs.iter().map(|&(_, n)| (n * 4) as u64).sum();
        if self.staging.as_ref().is_none_or(|s| s.size() < total) {
            self.staging = Some(self.gpu.device.create_buffer(&wgpu::BufferDescriptor {
                label: Some("staging"),
                size: total.max(4),
                usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
                mapped_at_creation: false,
            }));
        }
        let staging = self.staging.as_ref().expect("made above");
        let gpu = &self.gpu;
        gpu.scoped("running the plan", || {
            let mut enc = gpu
                .device
                .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                    label: Some("plan"),
                });
            {
                let mut cp = enc.begin_compute_pass(&wgpu::ComputePassDescriptor {
                    label: Some("plan"),
                    timestamp_writes: None,
                });
                for p in &self.passes {
                    cp.set_pipeline(&p.pipeline);
                    cp.set_bind_group(0, &p.bind_group, &[]);
                    cp.dispatch_workgroups(p.grid[0], p.grid[1], p.grid[2]);
                }
            }
            let mut offset = 0;
            for &(t, n) in outputs {
                let bytes = (n * 4) as u64;
                enc.copy_buffer_to_buffer(
                    &self.buffers[self.slot_of[t.0]],
                    0,
                    staging,
                    offset,
                    bytes,
                );
                offset += bytes;
            }
            gpu.queue.submit([enc.finish()]);
        })?;
        if total == 0 {
            gpu.wait()?;
            return Ok(Vec::new());
        }
        let slice = staging.slice(..total);
        let (tx, rx) = std::sync::mpsc::channel();
        slice.map_async(wgpu::MapMode::Read, move |r| {
            let _ = tx.send(r);
        });
        gpu.wait()?;
        rx.recv()
            .map_err(|e| Error::Gpu {
                during: "reading back".into(),
                message: e.to_string(),
            })?
            .map_err(|e| Error::Gpu {
                during: "reading back".into(),
                message: e.to_string(),
            })?;
        let values: Vec<f32> = {
            let view = slice.get_mapped_range().map_err(|e| Error::Gpu {
                during: "reading back".into(),
                message: e.to_string(),
            })?;
            bytemuck::cast_slice(&view).to_vec()
        };
        staging.unmap();
        let mut out = Vec::with_capacity(outputs.len());
        let mut at = 0;
        for &(_, n) in outputs {
            out.push(values[at..at + n].to_vec());
            at += n;
        }
        Ok(out)
    }

    /// Runs every pass in a submission of its own and waits for it: wall time per pass, with
    /// its label and entry point (for finding what is slow; run the plan once first so its
    /// inputs are written).
    pub fn profile(&self) -> Result<Vec<(String, std::time::Duration)>> {
        let gpu = &self.gpu;
        let mut out = Vec::with_capacity(self.passes.len());
        for p in &self.passes {
            let start = std::time::Instant::now();
            gpu.scoped("profiling the plan", || {
                let mut enc = gpu
                    .device
                    .create_command_encoder(&wgpu::CommandEncoderDescriptor { label: None });
                {
                    let mut cp = enc.begin_compute_pass(&wgpu::ComputePassDescriptor {
                        label: None,
                        timestamp_writes: None,
                    });
                    cp.set_pipeline(&p.pipeline);
                    cp.set_bind_group(0, &p.bind_group, &[]);
                    cp.dispatch_workgroups(p.grid[0], p.grid[1], p.grid[2]);
                }
                gpu.queue.submit([enc.finish()]);
            })?;
            gpu.wait()?;
            out.push((format!("{}::{}", p.label, p.entry), start.elapsed()));
        }
        Ok(out)
    }

    /// Number of GPU passes.
    pub fn pass_count(&self) -> usize {
        self.passes.len()
    }

    /// Labels of the passes in order (for tests and `--verbose`).
    pub fn pass_labels(&self) -> Vec<&'static str> {
        self.passes.iter().map(|p| p.label).collect()
    }

    /// Bytes of all planned activation buffers.
    pub fn buffer_bytes(&self) -> u64 {
        self.buffer_bytes
    }

    /// Number of activation buffers after lifetime sharing.
    pub fn buffer_count(&self) -> usize {
        self.buffers.len()
    }
}
