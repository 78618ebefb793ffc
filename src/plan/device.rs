//! What recording a program needs to know of a device: its kernel flavor and the limits that
//! decide buffer sizes, chunking and launch grids. Plain data, so programs are recorded and
//! unit-tested with no GPU.

use crate::error::{Error, Result};

/// Which matmul-shaped kernel variant suits the adapter (convolution forward and adjoint, the
/// LRP z-passes that share them, dense layers and the benchmarks' matmul ceiling).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum KernelFlavor {
    /// Shared-memory tiles with barriers: what real GPUs want.
    Tiled,
    /// Register blocking, no shared memory, storage buffers only: CPU rasterisers without
    /// subgroups of at least 8 lanes (WARP).
    Registers,
    /// Register blocking where each lane of an 8-lane subgroup loads one row of one operand and
    /// `subgroupBroadcast` shares it: CPU rasterisers with subgroups (lavapipe), where every
    /// per-lane storage-buffer load is a bounds-checked scalar loop.
    Subgroup,
}

impl KernelFlavor {
    /// Every flavor, in the order of [`KernelFlavor::name`]s a user may give.
    pub const ALL: [KernelFlavor; 3] = [
        KernelFlavor::Tiled,
        KernelFlavor::Registers,
        KernelFlavor::Subgroup,
    ];

    /// The name `GLIMPSE_KERNELS` and the command line use.
    pub fn name(self) -> &'static str {
        match self {
            KernelFlavor::Tiled => "tiled",
            KernelFlavor::Registers => "registers",
            KernelFlavor::Subgroup => "subgroup",
        }
    }

    /// The flavor of a name (case-insensitive).
    pub fn parse(name: &str) -> Result<Self> {
        Self::ALL
            .into_iter()
            .find(|f| f.name().eq_ignore_ascii_case(name.trim()))
            .ok_or_else(|| {
                Error::Invalid(format!(
                    "'{name}' is not a kernel flavor; use one of {}",
                    Self::ALL.map(|f| f.name()).join(", ")
                ))
            })
    }
}

/// The smallest subgroup the `subgroup` kernels work with: they broadcast from lanes 0–7 of
/// 8-invocation workgroups.
pub const SUBGROUP_LANES: u32 = 8;

/// A device as recording sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeviceProfile {
    /// The kernel variants passes are recorded for.
    pub flavor: KernelFlavor,
    /// `max_storage_buffer_binding_size`: no binding of a pass may exceed it.
    pub max_binding: u64,
    /// `max_buffer_size`: no buffer may exceed it.
    pub max_buffer: u64,
    /// `min_storage_buffer_offset_alignment`: chunks of a buffer start at multiples of it.
    pub offset_alignment: u64,
    /// `max_compute_workgroups_per_dimension`.
    pub max_workgroups: u32,
    /// Whether 3×3 stride-1 convolutions run as Winograd F(2×2, 3×3) where the flavor has the
    /// kernels (`subgroup`); `GLIMPSE_WINOGRAD=0` turns it off.
    pub winograd: bool,
}

impl DeviceProfile {
    /// A profile with wgpu's default limits (128 MiB bindings, 256 MiB buffers) in `flavor`:
    /// for recording and testing programs without a device.
    pub fn with_default_limits(flavor: KernelFlavor) -> Self {
        let l = wgpu::Limits::default();
        DeviceProfile {
            flavor,
            max_binding: l.max_storage_buffer_binding_size,
            max_buffer: l.max_buffer_size,
            offset_alignment: l.min_storage_buffer_offset_alignment as u64,
            max_workgroups: l.max_compute_workgroups_per_dimension,
            winograd: true,
        }
    }

    /// The largest tensor a pass can bind whole: the smaller of the binding and buffer limits.
    pub fn max_tensor_bytes(&self) -> u64 {
        self.max_binding.min(self.max_buffer)
    }
}
