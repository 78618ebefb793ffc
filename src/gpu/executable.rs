//! A program made runnable on a device: buffers allocated from the planned lifetimes, weights
//! bound from the device model's store, pipelines compiled (once per process), bind groups made
//! once. Running it is one submission, a repeated step included; only kept tensors can be
//! written or read back, through a reused staging buffer. What it allocates is counted against
//! the device's memory first, and refused before anything is allocated if it would not fit.

use std::sync::Arc;

use wgpu::util::DeviceExt;

use super::health::{self, Fault};
use super::memory::Reservation;
use super::model::DeviceModel;
use super::Gpu;
use crate::error::{short_bytes, Error, Result};
use crate::plan::{ConstSource, Program, Repeat, Resource, TensorId};

struct ReadyPass {
    label: &'static str,
    entry: &'static str,
    pipeline: Arc<wgpu::ComputePipeline>,
    bind_group: wgpu::BindGroup,
    grid: [u32; 3],
}

/// A runnable program.
pub struct Executable {
    gpu: Gpu,
    names: Vec<String>,
    bytes: Vec<u64>,
    kept: Vec<bool>,
    slot_of: Vec<usize>,
    buffer_bytes: u64,
    const_bytes: u64,
    buffers: Vec<wgpu::Buffer>,
    passes: Vec<ReadyPass>,
    repeats: Vec<Repeat>,
    _consts: Vec<Arc<wgpu::Buffer>>,
    staging: Option<wgpu::Buffer>,
    // The bytes above and the staging buffer's, counted on the device until dropped.
    _reserved: Reservation,
    staging_reserved: Option<Reservation>,
}

impl Executable {
    /// Builds `program` on the device model's device; its weights come from the model's store.
    pub fn new(model: &DeviceModel, program: Program) -> Result<Self> {
        Self::build(model.gpu(), Some(model), program)
    }

    /// Builds a program that uses no model weights (kernel tests, the matmul ceiling).
    pub fn standalone(gpu: &Gpu, program: Program) -> Result<Self> {
        Self::build(gpu, None, program)
    }

    fn build(gpu: &Gpu, model: Option<&DeviceModel>, program: Program) -> Result<Self> {
        if program.profile() != &gpu.profile() {
            return Err(Error::Invalid(
                "the program was recorded for another device profile (flavor or limits)".into(),
            ));
        }
        let assignment = program.memory();
        // The model's weights come first: they are the store's, shared by every program on the
        // model and kept for a retry with a smaller batch, so they count as held already.
        let weights = program
            .consts
            .iter()
            .map(|c| match (&c.source, model) {
                (ConstSource::Weight(key), Some(m)) => m.weight(key).map(Some),
                (ConstSource::Weight(_), None) => Err(Error::Invalid(format!(
                    "constant '{}' is a model weight but the program has no device model",
                    c.name
                ))),
                (ConstSource::Data(_), _) => Ok(None),
            })
            .collect::<Result<Vec<_>>>()?;
        let reserved = reserve(gpu, model, &program, &assignment.slot_bytes)?;
        let buffers = gpu.scoped("allocating program buffers", || {
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
        let mut consts = Vec::with_capacity(program.consts.len());
        let mut const_bytes = 0;
        for (c, weight) in program.consts.iter().zip(weights) {
            consts.push(match (&c.source, weight) {
                (_, Some(w)) => w,
                (ConstSource::Data(data), None) => {
                    const_bytes += c.bytes;
                    Arc::new(upload(gpu, &c.name, data)?)
                }
                (ConstSource::Weight(_), None) => unreachable!("weights were fetched above"),
            });
        }
        let mut passes = Vec::with_capacity(program.passes.len());
        for spec in &program.passes {
            let pipeline = gpu.pipeline(spec.kernel, spec.entry, &spec.constants)?;
            let uniforms: Vec<Option<wgpu::Buffer>> = spec
                .bindings
                .iter()
                .map(|(_, r)| match r {
                    Resource::Params(bytes) => {
                        let mut b = bytes.clone();
                        b.resize(bytes.len().div_ceil(16).max(1) * 16, 0);
                        Some(
                            gpu.device
                                .create_buffer_init(&wgpu::util::BufferInitDescriptor {
                                    label: Some(spec.kernel),
                                    contents: &b,
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
                    let (buffer, offset, size) = match r {
                        Resource::Tensor(t) => (
                            &buffers[assignment.slot_of[t.0]],
                            0,
                            wgpu::BufferSize::new(program.tensors[t.0].bytes),
                        ),
                        Resource::Const(c) => (consts[c.0].as_ref(), 0, None),
                        Resource::ConstSlice { id, offset, bytes } => (
                            consts[id.0].as_ref(),
                            *offset,
                            wgpu::BufferSize::new(*bytes),
                        ),
                        Resource::Params(_) => (u.as_ref().expect("uniform made above"), 0, None),
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
                grid: spec.grid,
            });
        }
        Ok(Executable {
            gpu: gpu.clone(),
            names: program.tensors.iter().map(|t| t.name.clone()).collect(),
            bytes: program.tensors.iter().map(|t| t.bytes).collect(),
            kept: program.tensors.iter().map(|t| t.keep).collect(),
            slot_of: assignment.slot_of.clone(),
            buffer_bytes: assignment.total_bytes(),
            const_bytes,
            buffers,
            passes,
            repeats: program.repeats.clone(),
            _consts: consts,
            staging: None,
            _reserved: reserved,
            staging_reserved: None,
        })
    }

    fn check_kept(&self, t: TensorId, what: &str) -> Result<()> {
        if self.kept[t.0] {
            Ok(())
        } else {
            Err(Error::Invalid(format!(
                "tensor '{}' was not kept when the program was recorded, so it cannot be {what}: its buffer holds other tensors too",
                self.names[t.0]
            )))
        }
    }

    /// Writes host values into a kept tensor (before [`Executable::run`]).
    pub fn write(&self, t: TensorId, data: &[f32]) -> Result<()> {
        self.check_kept(t, "written")?;
        self.gpu.check("writing the inputs")?;
        let bytes = (data.len() * 4) as u64;
        if bytes > self.bytes[t.0] {
            return Err(Error::Shape(format!(
                "{} values do not fit tensor '{}' ({} bytes)",
                data.len(),
                self.names[t.0],
                self.bytes[t.0]
            )));
        }
        self.gpu.queue.write_buffer(
            &self.buffers[self.slot_of[t.0]],
            0,
            bytemuck::cast_slice(data),
        );
        Ok(())
    }

    /// Sets how many times repeated step `index` runs from the next run on (a sweep's last
    /// submission runs fewer steps than the others; buffers do not depend on the count, but
    /// the steps' copies aside do, so a step that records keeps its count).
    pub fn set_times(&mut self, index: usize, times: usize) -> Result<()> {
        match self.repeats.get_mut(index) {
            Some(r) if times > 0 && (r.every == 0 || r.record.is_empty()) => {
                r.times = times;
                Ok(())
            }
            Some(_) => Err(Error::Invalid(format!(
                "repeated step {index} records its tensors or was asked to run 0 times"
            ))),
            None => Err(Error::Invalid(format!(
                "the program has no repeated step {index}"
            ))),
        }
    }

    /// Runs every pass in one submission, then reads back `reads` (each its first `len` values).
    pub fn run(&mut self, reads: &[(TensorId, usize)]) -> Result<Vec<Vec<f32>>> {
        Ok(self.run_recorded(reads)?.0)
    }

    /// Like [`Executable::run`]; also returns what the repeated steps recorded, in order: one
    /// entry per record (every `every` steps), holding each recorded tensor's values.
    #[allow(clippy::type_complexity)]
    pub fn run_recorded(
        &mut self,
        reads: &[(TensorId, usize)],
    ) -> Result<(Vec<Vec<f32>>, Vec<Vec<Vec<f32>>>)> {
        for &(t, n) in reads {
            self.check_kept(t, "read back")?;
            if (n * 4) as u64 > self.bytes[t.0] {
                return Err(Error::Shape(format!(
                    "reading {n} values of tensor '{}' ({} bytes)",
                    self.names[t.0], self.bytes[t.0]
                )));
            }
        }
        // Per repeated step, the tensors it copies aside and their sizes.
        let recorded: Vec<Vec<(TensorId, u64)>> = self
            .repeats
            .iter()
            .map(|r| r.record.iter().map(|&t| (t, self.bytes[t.0])).collect())
            .collect();
        let record_bytes: u64 = self
            .repeats
            .iter()
            .zip(&recorded)
            .map(|(r, rec)| r.records() as u64 * rec.iter().map(|&(_, b)| b).sum::<u64>())
            .sum();
        let read_bytes: u64 = reads.iter().map(|&(_, n)| (n * 4) as u64).sum();
        let total = read_bytes + record_bytes;
        match health::next_run()? {
            Some(Fault::DeviceLost) => self.gpu.device.destroy(),
            Some(Fault::OutOfMemory) => {
                // Reallocated below, so the injected error hits an allocation as a real one would.
                self.staging = None;
                self.staging_reserved = None;
                self.gpu.health.inject_oom();
            }
            None => {}
        }
        self.gpu.check("running the program")?;
        if self.staging.as_ref().is_none_or(|s| s.size() < total) {
            let size = total.max(4);
            self.staging = None;
            self.staging_reserved = None;
            let reserved = self
                .gpu
                .reserve("the program's readback buffer", size, 0, 0)?;
            let gpu = &self.gpu;
            self.staging = Some(gpu.scoped("allocating the readback buffer", || {
                gpu.device.create_buffer(&wgpu::BufferDescriptor {
                    label: Some("staging"),
                    size,
                    usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
                    mapped_at_creation: false,
                })
            })?);
            self.staging_reserved = Some(reserved);
        }
        let staging = self.staging.as_ref().expect("made above");
        let gpu = &self.gpu;
        gpu.scoped("running the program", || {
            let mut enc = gpu
                .device
                .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                    label: Some("program"),
                });
            let mut at = read_bytes;
            let dispatch = |enc: &mut wgpu::CommandEncoder, passes: &[ReadyPass]| {
                let mut cp = enc.begin_compute_pass(&wgpu::ComputePassDescriptor {
                    label: Some("program"),
                    timestamp_writes: None,
                });
                for p in passes {
                    cp.set_pipeline(&p.pipeline);
                    cp.set_bind_group(0, &p.bind_group, &[]);
                    cp.dispatch_workgroups(p.grid[0], p.grid[1], p.grid[2]);
                }
            };
            let mut done = 0;
            for (r, rec) in self.repeats.iter().zip(&recorded) {
                dispatch(&mut enc, &self.passes[done..r.passes.start]);
                for step in 1..=r.times {
                    dispatch(&mut enc, &self.passes[r.passes.clone()]);
                    if r.records_after(step) && !rec.is_empty() {
                        for &(t, bytes) in rec {
                            enc.copy_buffer_to_buffer(
                                &self.buffers[self.slot_of[t.0]],
                                0,
                                staging,
                                at,
                                bytes,
                            );
                            at += bytes;
                        }
                    }
                }
                done = r.passes.end;
            }
            dispatch(&mut enc, &self.passes[done..]);
            let mut offset = 0;
            for &(t, n) in reads {
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
            return Ok((vec![Vec::new(); reads.len()], Vec::new()));
        }
        let values = match read_staging(gpu, staging, total) {
            Ok(v) => v,
            Err(e) => {
                // A map may still be pending on it: the next run makes a fresh one.
                self.staging = None;
                self.staging_reserved = None;
                return Err(e);
            }
        };
        let mut out = Vec::with_capacity(reads.len());
        let mut at = 0;
        for &(_, n) in reads {
            out.push(values[at..at + n].to_vec());
            at += n;
        }
        let mut history = Vec::new();
        for (r, rec) in self.repeats.iter().zip(&recorded) {
            for _ in 0..r.records() {
                let mut one = Vec::with_capacity(rec.len());
                for &(_, bytes) in rec {
                    let n = (bytes / 4) as usize;
                    one.push(values[at..at + n].to_vec());
                    at += n;
                }
                history.push(one);
            }
        }
        Ok((out, history))
    }

    /// Runs every pass in a submission of its own and waits for it: wall time per pass, with
    /// its label and entry point (run the program once first so its inputs are written).
    pub fn profile(&self) -> Result<Vec<(String, std::time::Duration)>> {
        let gpu = &self.gpu;
        let mut out = Vec::with_capacity(self.passes.len());
        for p in &self.passes {
            let start = std::time::Instant::now();
            gpu.scoped("profiling the program", || {
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

    /// Number of GPU passes (a repeated step counted once).
    pub fn pass_count(&self) -> usize {
        self.passes.len()
    }

    /// Kernel paths of the passes in order.
    pub fn pass_labels(&self) -> Vec<&'static str> {
        self.passes.iter().map(|p| p.label).collect()
    }

    /// Bytes of the planned tensor buffers.
    pub fn buffer_bytes(&self) -> u64 {
        self.buffer_bytes
    }

    /// Number of tensor buffers after lifetime sharing.
    pub fn buffer_count(&self) -> usize {
        self.buffers.len()
    }

    /// Bytes of the constants this program uploaded itself (model weights are the store's).
    pub fn own_constant_bytes(&self) -> u64 {
        self.const_bytes
    }
}

/// Counts what building `program` allocates (its tensor slots, own constants and uniforms)
/// against the device's memory before anything is allocated, checking room for its largest
/// readback (every kept tensor and every record) and the model's weights as well.
fn reserve(
    gpu: &Gpu,
    model: Option<&DeviceModel>,
    program: &Program,
    slot_bytes: &[u64],
) -> Result<Reservation> {
    let slots: u64 = slot_bytes.iter().map(|&b| b.max(4)).sum();
    let consts: u64 = program
        .consts
        .iter()
        .map(|c| match &c.source {
            ConstSource::Data(d) => (d.len() as u64 * 4).max(4),
            ConstSource::Weight(_) => 0,
        })
        .sum();
    let uniforms: u64 = program
        .passes
        .iter()
        .flat_map(|p| &p.bindings)
        .map(|(_, r)| match r {
            Resource::Params(b) => (b.len() as u64).div_ceil(16).max(1) * 16,
            _ => 0,
        })
        .sum();
    let kept: u64 = program
        .tensors
        .iter()
        .filter(|t| t.keep)
        .map(|t| t.bytes)
        .sum();
    let records: u64 = program
        .repeats
        .iter()
        .map(|r| {
            r.records() as u64
                * r.record
                    .iter()
                    .map(|t| program.tensors[t.0].bytes)
                    .sum::<u64>()
        })
        .sum();
    let weights = model.map_or(0, DeviceModel::weight_bytes);
    let what = format!(
        "a plan of {} passes ({} of tensors in {} buffers, {} of readback)",
        program.passes.len(),
        short_bytes(slots),
        slot_bytes.len(),
        short_bytes(kept + records)
    );
    gpu.reserve(&what, slots + consts + uniforms, kept + records, weights)
}

/// Uploads values as a storage buffer (one zero for an empty constant).
pub(crate) fn upload(gpu: &Gpu, name: &str, data: &[f32]) -> Result<wgpu::Buffer> {
    let one = [0.0f32];
    let contents: &[f32] = if data.is_empty() { &one } else { data };
    gpu.scoped(&format!("uploading {name}"), || {
        gpu.device
            .create_buffer_init(&wgpu::util::BufferInitDescriptor {
                label: Some(name),
                contents: bytemuck::cast_slice(contents),
                usage: wgpu::BufferUsages::STORAGE,
            })
    })
}

fn read_staging(gpu: &Gpu, staging: &wgpu::Buffer, total: u64) -> Result<Vec<f32>> {
    let slice = staging.slice(..total);
    let (tx, rx) = std::sync::mpsc::channel();
    slice.map_async(wgpu::MapMode::Read, move |r| {
        let _ = tx.send(r);
    });
    gpu.wait()?;
    let during = "reading back";
    let fail = |message: String| match gpu.check(during) {
        Err(e) => e,
        Ok(()) => Error::Gpu {
            during: during.into(),
            message,
        },
    };
    // The queue is idle, but when threads share the device another thread's poll may be the one
    // running our callback, a moment later; wait for it a bounded time, never for one that will
    // not come (a lost device ends the wait at once).
    use std::sync::mpsc::RecvTimeoutError;
    use std::time::{Duration, Instant};
    let deadline = Instant::now() + Duration::from_secs(60);
    let mapped = loop {
        match rx.recv_timeout(Duration::from_millis(20)) {
            Ok(r) => break Ok(r),
            Err(RecvTimeoutError::Disconnected) => {
                break Err("the readback buffer's map request was dropped unanswered")
            }
            Err(RecvTimeoutError::Timeout) if Instant::now() >= deadline => {
                break Err("the readback buffer was not mapped 60 s after the queue finished")
            }
            Err(RecvTimeoutError::Timeout) => {
                gpu.check(during)?;
                let _ = gpu.device.poll(wgpu::PollType::Poll);
            }
        }
    };
    mapped
        .map_err(|why| fail(why.into()))?
        .map_err(|e| fail(e.to_string()))?;
    let values: Vec<f32> = {
        let view = slice.get_mapped_range().map_err(|e| fail(e.to_string()))?;
        bytemuck::cast_slice(&view).to_vec()
    };
    staging.unmap();
    Ok(values)
}
