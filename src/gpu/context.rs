//! The device: adapter choice (GLIMPSE_BACKEND), limits, memory, error scopes and health.

use std::sync::Arc;

use super::health::Health;
use super::kernels::KernelCache;
use super::memory::{Memory, Reservation};
use crate::error::{Error, Result};
use crate::plan::{DeviceProfile, KernelChoice, KernelFlavor, SUBGROUP_LANES};
use crate::tune::cache::TuneCache;
use crate::tune::KernelSource;

/// A GPU device with its queue, limits and compiled-kernel cache. Cheap to clone.
#[derive(Clone)]
pub struct Gpu {
    pub(crate) device: wgpu::Device,
    pub(crate) queue: wgpu::Queue,
    info: wgpu::AdapterInfo,
    limits: wgpu::Limits,
    choice: KernelChoice,
    kernel_source: Arc<KernelSource>,
    /// `GLIMPSE_WINOGRAD`: whether Winograd may run at all.
    winograd: bool,
    pub(crate) kernels: Arc<KernelCache>,
    memory: Arc<Memory>,
    pub(crate) health: Arc<Health>,
}

/// How to open a device beyond the backend choice: caps for testing and for sharing a GPU.
#[derive(Clone, Debug, Default)]
pub struct GpuOptions {
    /// Caps `max_storage_buffer_binding_size` (to test batch splitting).
    pub max_binding: Option<u64>,
    /// Caps the device memory plans may use, in bytes (as `GLIMPSE_MEMORY_LIMIT` does; the
    /// smaller of the two and the device's own heap wins).
    pub memory_limit: Option<u64>,
    /// Where the measured kernel choices (`glimpse tune`) come from.
    pub tune_cache: TuneCache,
}

/// Parses `GLIMPSE_BACKEND` (vulkan, metal, dx12, gl); unset means every native backend.
pub fn backends_from_env() -> Result<wgpu::Backends> {
    match std::env::var("GLIMPSE_BACKEND") {
        Err(_) => Ok(wgpu::Backends::PRIMARY | wgpu::Backends::GL),
        Ok(s) => match s.to_ascii_lowercase().as_str() {
            "vulkan" => Ok(wgpu::Backends::VULKAN),
            "metal" => Ok(wgpu::Backends::METAL),
            "dx12" => Ok(wgpu::Backends::DX12),
            "gl" | "gles" | "opengl" => Ok(wgpu::Backends::GL),
            "" => Ok(wgpu::Backends::PRIMARY | wgpu::Backends::GL),
            other => Err(Error::Invalid(format!(
                "GLIMPSE_BACKEND={other} is not a backend; use vulkan, metal, dx12 or gl"
            ))),
        },
    }
}

/// Parses `GLIMPSE_WINOGRAD` (1/on/true or 0/off/false); unset means on.
pub fn winograd_from_env() -> Result<bool> {
    match std::env::var("GLIMPSE_WINOGRAD") {
        Err(_) => Ok(true),
        Ok(s) => match s.trim().to_ascii_lowercase().as_str() {
            "" | "1" | "on" | "true" => Ok(true),
            "0" | "off" | "false" => Ok(false),
            other => Err(Error::Invalid(format!(
                "GLIMPSE_WINOGRAD={other} is neither on nor off; use 1 or 0"
            ))),
        },
    }
}

impl Gpu {
    /// Opens the best adapter of the backends `GLIMPSE_BACKEND` allows, with its full limits.
    pub fn new() -> Result<Self> {
        Self::with_limits(None)
    }

    /// Like [`Gpu::new`], optionally capping `max_storage_buffer_binding_size` (to test batch splitting).
    pub fn with_limits(max_binding: Option<u64>) -> Result<Self> {
        Self::with_options(&GpuOptions {
            max_binding,
            ..GpuOptions::default()
        })
    }

    /// Like [`Gpu::new`], with the caps of `options`.
    pub fn with_options(options: &GpuOptions) -> Result<Self> {
        let max_binding = options.max_binding;
        let backends = backends_from_env()?;
        let instance = wgpu::Instance::new(wgpu::InstanceDescriptor {
            backends,
            flags: wgpu::InstanceFlags::empty(),
            ..wgpu::InstanceDescriptor::new_without_display_handle()
        });
        let adapter = pollster::block_on(instance.request_adapter(&wgpu::RequestAdapterOptions {
            power_preference: wgpu::PowerPreference::HighPerformance,
            force_fallback_adapter: false,
            compatible_surface: None,
            apply_limit_buckets: false,
        }))
        .map_err(|_| Error::NoAdapter {
            backends: format!("{backends:?}"),
        })?;
        let info = adapter.get_info();
        let memory = Arc::new(Memory::new(&adapter, options.memory_limit)?);
        let mut limits = adapter.limits();
        if let Some(cap) = max_binding {
            limits.max_storage_buffer_binding_size =
                limits.max_storage_buffer_binding_size.min(cap);
        }
        let features = adapter.features() & wgpu::Features::SUBGROUP;
        let (device, queue) = pollster::block_on(adapter.request_device(&wgpu::DeviceDescriptor {
            label: Some("glimpse"),
            required_features: features,
            required_limits: limits.clone(),
            experimental_features: wgpu::ExperimentalFeatures::disabled(),
            memory_hints: wgpu::MemoryHints::Performance,
            trace: wgpu::Trace::Off,
        }))
        .map_err(|e| Error::Device(e.to_string()))?;
        let health = Health::install(&device);
        let mut gpu = Gpu {
            device,
            queue,
            info,
            limits,
            choice: KernelChoice::uniform(KernelFlavor::Tiled, false),
            kernel_source: Arc::new(KernelSource::Given),
            winograd: winograd_from_env()?,
            kernels: Arc::new(KernelCache::default()),
            memory,
            health,
        };
        let (choice, source) = crate::tune::initial_choice(&gpu, &options.tune_cache)?;
        gpu.choice = choice;
        gpu.kernel_source = Arc::new(source);
        Ok(gpu)
    }

    /// The flavor this adapter runs fastest: shared-memory tiles on real GPUs; on CPU adapters
    /// subgroup broadcasts where subgroups are wide enough, else register blocking.
    pub fn preferred_flavor(&self) -> KernelFlavor {
        if self.info.device_type != wgpu::DeviceType::Cpu {
            KernelFlavor::Tiled
        } else if self.supports(KernelFlavor::Subgroup) {
            KernelFlavor::Subgroup
        } else {
            KernelFlavor::Registers
        }
    }

    /// Whether this device can run `flavor` (`subgroup` needs subgroups of at least 8 lanes).
    pub fn supports(&self, flavor: KernelFlavor) -> bool {
        match flavor {
            KernelFlavor::Tiled | KernelFlavor::Registers => true,
            KernelFlavor::Subgroup => {
                self.device.features().contains(wgpu::Features::SUBGROUP)
                    && self.info.subgroup_min_size >= SUBGROUP_LANES
            }
        }
    }

    /// Every flavor this device can run.
    pub fn supported_flavors(&self) -> Vec<KernelFlavor> {
        KernelFlavor::ALL
            .into_iter()
            .filter(|&f| self.supports(f))
            .collect()
    }

    /// The same device running every kernel family in `flavor` (to test and time them all on
    /// one adapter), Winograd as before; check [`Gpu::supports`] first, or pipelines of an
    /// unsupported flavor fail.
    pub fn with_flavor(&self, flavor: KernelFlavor) -> Gpu {
        self.with_kernels(KernelChoice::uniform(flavor, self.winograd))
    }

    /// The same device with Winograd convolutions on or off in both convolution families
    /// (where they run the subgroup flavor).
    pub fn with_winograd(&self, winograd: bool) -> Gpu {
        Gpu {
            winograd,
            ..self.with_kernels(self.choice.with_winograd(winograd))
        }
    }

    /// The same device running `kernels`; check [`Gpu::supports`] for each flavor first.
    pub fn with_kernels(&self, kernels: KernelChoice) -> Gpu {
        Gpu {
            choice: kernels,
            kernel_source: Arc::new(KernelSource::Given),
            ..self.clone()
        }
    }

    /// The variant each kernel family runs.
    pub fn kernels(&self) -> KernelChoice {
        self.choice
    }

    /// Where [`Gpu::kernels`] came from: measured, named, or by adapter type.
    pub fn kernel_source(&self) -> &KernelSource {
        &self.kernel_source
    }

    /// Whether Winograd may run (`GLIMPSE_WINOGRAD`, [`Gpu::with_winograd`]).
    pub fn winograd_allowed(&self) -> bool {
        self.winograd
    }

    /// Adapter name, backend, driver.
    pub fn info(&self) -> &wgpu::AdapterInfo {
        &self.info
    }

    /// The limits the device was created with.
    pub fn limits(&self) -> &wgpu::Limits {
        &self.limits
    }

    /// Largest storage-buffer binding, in bytes.
    pub fn max_binding(&self) -> u64 {
        self.limits.max_storage_buffer_binding_size
    }

    /// What recording a program for this device needs to know: its kernels and limits.
    pub fn profile(&self) -> DeviceProfile {
        DeviceProfile {
            kernels: self.choice,
            max_binding: self.limits.max_storage_buffer_binding_size,
            max_buffer: self.limits.max_buffer_size,
            offset_alignment: self.limits.min_storage_buffer_offset_alignment as u64,
            max_workgroups: self.limits.max_compute_workgroups_per_dimension,
        }
    }

    /// Runs `f` inside validation and out-of-memory error scopes; a caught error becomes
    /// [`Error::OutOfMemory`] or [`Error::Gpu`], and a lost device [`Error::DeviceLost`]
    /// (checked before `f` too: nothing is recorded on a device that is gone).
    pub fn scoped<T>(&self, during: &str, f: impl FnOnce() -> T) -> Result<T> {
        self.health.check(during)?;
        let oom = self.device.push_error_scope(wgpu::ErrorFilter::OutOfMemory);
        let validation = self.device.push_error_scope(wgpu::ErrorFilter::Validation);
        let out = f();
        let v = pollster::block_on(validation.pop());
        let o = pollster::block_on(oom.pop());
        self.health.take_injected_oom(during)?;
        match o.or(v) {
            Some(e) => Err(self.health.error(during, e)),
            None => self.health.check(during).map(|()| out),
        }
    }

    /// Blocks until all submitted work is done; a lost device or a failed poll is an error.
    pub fn wait(&self) -> Result<()> {
        let during = "waiting for the queue";
        self.health.check(during)?;
        self.device
            .poll(wgpu::PollType::wait_indefinitely())
            .map_err(|e| Error::Gpu {
                during: during.into(),
                message: e.to_string(),
            })?;
        self.health.check(during)
    }

    /// Fails with [`Error::DeviceLost`] once the device is lost, or with the first GPU error
    /// that escaped every error scope since the last check.
    pub fn check(&self, during: &str) -> Result<()> {
        self.health.check(during)
    }

    /// Whether the device was lost (it stays lost; open a new `Gpu`).
    pub fn is_lost(&self) -> bool {
        self.health.is_lost()
    }

    /// The wgpu device, for interop and for tests that need to lose it (`destroy`).
    pub fn device(&self) -> &wgpu::Device {
        &self.device
    }

    /// The device memory plans may use: the Vulkan device-local heap or a cap, whichever is
    /// smaller; `None` when neither is known (then plans are not checked).
    pub fn memory_budget(&self) -> Option<u64> {
        self.memory.budget.bytes
    }

    /// The largest device-local heap, where the backend reports it (Vulkan).
    pub fn memory_heap(&self) -> Option<u64> {
        self.memory.heap
    }

    /// Bytes glimpse's executables hold on this device now (tensor buffers, their own
    /// constants and uniforms, readback buffers; the device models' weights are theirs).
    pub fn allocated_bytes(&self) -> u64 {
        self.memory.in_use()
    }

    /// What wgpu's allocator holds on the device, as (bytes in live allocations, bytes of the
    /// memory blocks it reserved from the driver): every buffer of every plan and model, wgpu's
    /// own included. `None` where the backend keeps no such report (Metal, GL).
    pub fn driver_memory(&self) -> Option<(u64, u64)> {
        self.device
            .generate_allocator_report()
            .map(|r| (r.total_allocated_bytes, r.total_reserved_bytes))
    }

    /// Counts `bytes` about to be allocated for `what` (plus `later` allocated later, with
    /// `held` bytes held outside the count), or refuses them with [`Error::DeviceMemory`]
    /// before anything is allocated.
    pub(crate) fn reserve(
        &self,
        what: &str,
        bytes: u64,
        later: u64,
        held: u64,
    ) -> Result<Reservation> {
        self.memory.reserve(what, bytes, later, held)
    }

    /// A human-readable summary: adapter, backend, driver, and the limits that matter.
    pub fn describe(&self) -> String {
        let i = &self.info;
        let l = &self.limits;
        format!(
            "adapter: {} ({:?})\ncpu: {}\nbackend: {:?}\ndriver: {} {}\nmemory: {}\nkernels: {}\nkernels chosen: {}\nkernel flavors supported: {}\nwinograd: {}\nsubgroups: {} ({}–{} lanes)\nmax_storage_buffer_binding_size: {} bytes\nmax_buffer_size: {} bytes\nmax_storage_buffers_per_shader_stage: {}\nmax_compute_workgroup_size: {}×{}×{}\nmax_compute_invocations_per_workgroup: {}\nmax_compute_workgroups_per_dimension: {}\nmax_compute_workgroup_storage_size: {} bytes",
            i.name,
            i.device_type,
            super::host_cpu(),
            i.backend,
            i.driver,
            i.driver_info,
            self.memory.describe(),
            self.choice.describe(),
            self.kernel_source,
            self.supported_flavors().iter().map(|f| f.name()).collect::<Vec<_>>().join(", "),
            crate::tune::describe_winograd(self.choice),
            self.device.features().contains(wgpu::Features::SUBGROUP),
            i.subgroup_min_size,
            i.subgroup_max_size,
            l.max_storage_buffer_binding_size,
            l.max_buffer_size,
            l.max_storage_buffers_per_shader_stage,
            l.max_compute_workgroup_size_x,
            l.max_compute_workgroup_size_y,
            l.max_compute_workgroup_size_z,
            l.max_compute_invocations_per_workgroup,
            l.max_compute_workgroups_per_dimension,
            l.max_compute_workgroup_storage_size,
        )
    }
}
