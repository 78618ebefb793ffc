//! How much device memory there is and how much glimpse holds: the device-local heap (read
//! through wgpu's Vulkan hal, the one backend that tells), an optional cap (the constructor's
//! or `GLIMPSE_MEMORY_LIMIT`), and one counter per device of the bytes executables allocated,
//! so that a plan is refused before it allocates rather than failing in the driver.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use crate::error::{bytes, Result};
use crate::plan::memory::{parse_bytes, MemoryBudget};

/// The environment variable capping the device memory glimpse plans for.
pub const MEMORY_LIMIT_ENV: &str = "GLIMPSE_MEMORY_LIMIT";

/// The device's memory and glimpse's share of it, shared by every clone of a `Gpu`.
#[derive(Debug)]
pub(crate) struct Memory {
    /// The largest device-local heap, where the backend reports one.
    pub heap: Option<u64>,
    pub budget: MemoryBudget,
    in_use: AtomicU64,
}

impl Memory {
    /// The heap of `adapter` capped by `cap` and `GLIMPSE_MEMORY_LIMIT` (the smallest wins).
    pub fn new(adapter: &wgpu::Adapter, cap: Option<u64>) -> Result<Memory> {
        let heap = device_local_heap(adapter);
        let env = match std::env::var(MEMORY_LIMIT_ENV) {
            Ok(s) if !s.trim().is_empty() => Some(
                parse_bytes(&s)
                    .map_err(|e| crate::Error::Invalid(format!("{MEMORY_LIMIT_ENV}={s}: {e}")))?,
            ),
            _ => None,
        };
        let mut budget = MemoryBudget {
            bytes: heap,
            source: "the Vulkan device-local heap".into(),
        };
        for (limit, source) in [
            (env, MEMORY_LIMIT_ENV.to_string()),
            (cap, "the memory limit the device was opened with".into()),
        ] {
            if let Some(l) = limit.filter(|&l| budget.bytes.is_none_or(|b| l < b)) {
                budget = MemoryBudget {
                    bytes: Some(l),
                    source,
                };
            }
        }
        Ok(Memory {
            heap,
            budget,
            in_use: AtomicU64::new(0),
        })
    }

    /// Bytes glimpse's executables hold on the device now.
    pub fn in_use(&self) -> u64 {
        self.in_use.load(Ordering::SeqCst)
    }

    /// Counts `bytes` about to be allocated for `what`, or refuses them (counting nothing)
    /// when they would pass the budget; `later` more bytes are checked but not counted (a
    /// plan's largest readback, allocated at its first run), and `held` bytes held outside
    /// the counter (the model's weights) are added to what is in use.
    pub fn reserve(
        self: &Arc<Self>,
        what: &str,
        bytes: u64,
        later: u64,
        held: u64,
    ) -> Result<Reservation> {
        // Counted first and taken back on refusal, so that two plans built at once cannot
        // both pass a check the pair of them fails.
        let before = self.in_use.fetch_add(bytes, Ordering::SeqCst);
        if let Err(e) = self.budget.check(what, bytes + later, before + held) {
            self.in_use.fetch_sub(bytes, Ordering::SeqCst);
            return Err(e);
        }
        Ok(Reservation {
            memory: Arc::clone(self),
            bytes,
        })
    }

    /// One line for `Gpu::describe`.
    pub fn describe(&self) -> String {
        let heap = match self.heap {
            Some(h) => format!("device-local heap {}", bytes(h)),
            None => "unknown (the backend does not report it)".into(),
        };
        match self.budget.bytes {
            Some(b) if Some(b) != self.heap => {
                format!(
                    "{heap}; plans capped at {} by {}",
                    bytes(b),
                    self.budget.source
                )
            }
            Some(_) => format!("{heap}; plans that would not fit are refused"),
            None => format!("{heap}; plans are not checked (set {MEMORY_LIMIT_ENV} to cap them)"),
        }
    }
}

/// Bytes counted as held until dropped (with the buffers they stand for).
#[derive(Debug)]
pub(crate) struct Reservation {
    memory: Arc<Memory>,
    bytes: u64,
}

impl Drop for Reservation {
    fn drop(&mut self) {
        self.memory.in_use.fetch_sub(self.bytes, Ordering::SeqCst);
    }
}

/// The largest device-local heap of a Vulkan adapter; `None` on other backends (wgpu reports
/// no memory size, so there is nothing to check against unless a cap is given).
#[cfg(not(target_arch = "wasm32"))]
fn device_local_heap(adapter: &wgpu::Adapter) -> Option<u64> {
    // SAFETY: only reads properties of the physical device; nothing is created or destroyed,
    // and the guard is dropped before this returns.
    unsafe {
        let hal = adapter.as_hal::<wgpu::hal::api::Vulkan>()?;
        let instance = hal.shared_instance().raw_instance();
        let props = instance.get_physical_device_memory_properties(hal.raw_physical_device());
        props
            .memory_heaps_as_slice()
            .iter()
            .filter(|h| h.flags.contains(ash::vk::MemoryHeapFlags::DEVICE_LOCAL))
            .map(|h| h.size)
            .max()
    }
}

#[cfg(target_arch = "wasm32")]
fn device_local_heap(_adapter: &wgpu::Adapter) -> Option<u64> {
    None
}
