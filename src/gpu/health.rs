//! What the device reports outside error scopes: its loss (driver reset, GPU removed,
//! `destroy`) through the device-lost callback, and errors no scope caught through the
//! uncaptured-error handler, whose wgpu default panics. Both are recorded here and turned
//! into error values by the next scope, wait or readback, so a lost device ends a run with
//! [`Error::DeviceLost`] instead of a panic or a hang.
//!
//! Also the one place the testing-only fault hook is read: `GLIMPSE_FAULT=device-lost@K` or
//! `oom@K` fires at the K-th run (counting from 0) of any executable in the process.
//! `device-lost` destroys the device just before that run submits (a real device loss, seen
//! through the same paths as a driver's); `oom` makes that run's allocation of its readback
//! buffer report out-of-memory, as a device with too little memory would. An explanation or
//! a prediction of one batch is one run, so in a batch run K is the batch's index.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use crate::error::{Error, Result};

/// The environment variable of the fault hook.
pub const FAULT_ENV: &str = "GLIMPSE_FAULT";

/// A device's health, shared by every clone of its `Gpu`.
#[derive(Default)]
pub(crate) struct Health {
    /// Why the device was lost, once it is.
    lost: Mutex<Option<String>>,
    /// The first error no scope caught since the last check.
    uncaptured: Mutex<Option<wgpu::Error>>,
    /// The fault hook asked for the next scope to report out-of-memory.
    oom_pending: AtomicBool,
}

impl Health {
    /// Installs the device-lost callback and the uncaptured-error handler on `device`.
    pub fn install(device: &wgpu::Device) -> Arc<Health> {
        let health = Arc::new(Health::default());
        let on_lost = Arc::clone(&health);
        device.set_device_lost_callback(move |reason, message| {
            let why = match (reason, message.trim()) {
                (wgpu::DeviceLostReason::Destroyed, "") => "the device was destroyed".to_string(),
                (wgpu::DeviceLostReason::Destroyed, m) => format!("the device was destroyed: {m}"),
                (_, "") => "the driver gave no reason".to_string(),
                (_, m) => m.to_string(),
            };
            log::debug!("GPU device lost: {why}");
            lock(&on_lost.lost).get_or_insert(why);
        });
        let on_error = Arc::clone(&health);
        device.on_uncaptured_error(Arc::new(move |e: wgpu::Error| {
            log::debug!("GPU error outside an error scope: {e}");
            lock(&on_error.uncaptured).get_or_insert(e);
        }));
        health
    }

    /// Whether the device was lost.
    pub fn is_lost(&self) -> bool {
        lock(&self.lost).is_some()
    }

    /// Fails if the device was lost (for good) or an error escaped the scopes (reported once).
    pub fn check(&self, during: &str) -> Result<()> {
        if let Some(reason) = lock(&self.lost).clone() {
            return Err(Error::DeviceLost {
                during: during.to_string(),
                reason,
            });
        }
        match lock(&self.uncaptured).take() {
            Some(e) => Err(self.error(during, e)),
            None => Ok(()),
        }
    }

    /// The error value of a wgpu error: device loss first (what follows a loss is noise),
    /// then out-of-memory, then the rest.
    pub fn error(&self, during: &str, e: wgpu::Error) -> Error {
        if let Some(reason) = lock(&self.lost).clone() {
            return Error::DeviceLost {
                during: during.to_string(),
                reason,
            };
        }
        match e {
            wgpu::Error::OutOfMemory { .. } => Error::OutOfMemory {
                during: during.to_string(),
                message: e.to_string(),
            },
            _ => Error::Gpu {
                during: during.to_string(),
                message: e.to_string(),
            },
        }
    }

    /// Arms the injected out-of-memory error for the next scope.
    pub fn inject_oom(&self) {
        self.oom_pending.store(true, Ordering::SeqCst);
    }

    /// The out-of-memory error the fault hook asked for, once.
    pub fn take_injected_oom(&self, during: &str) -> Result<()> {
        if self.oom_pending.swap(false, Ordering::SeqCst) {
            return Err(Error::OutOfMemory {
                during: during.to_string(),
                message: format!("out of memory (injected by {FAULT_ENV})"),
            });
        }
        Ok(())
    }
}

/// A fault the hook injects.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Fault {
    DeviceLost,
    OutOfMemory,
}

/// Parses `device-lost@K` or `oom@K`.
fn parse_fault(text: &str) -> Result<(Fault, u64)> {
    let bad = || {
        Error::Invalid(format!(
            "{FAULT_ENV}={text}: write device-lost@K or oom@K (K: which run, counting from 0)"
        ))
    };
    let (kind, at) = text.trim().split_once('@').ok_or_else(bad)?;
    let fault = match kind {
        "device-lost" => Fault::DeviceLost,
        "oom" => Fault::OutOfMemory,
        _ => return Err(bad()),
    };
    Ok((fault, at.parse().map_err(|_| bad())?))
}

/// Counts one run of an executable and returns the fault planned for it, if any. `GLIMPSE_FAULT`
/// is read once per process; a malformed value is an error at every run.
pub(crate) fn next_run() -> Result<Option<Fault>> {
    static PLANNED: OnceLock<Result<Option<(Fault, u64)>, String>> = OnceLock::new();
    static RUNS: AtomicU64 = AtomicU64::new(0);
    let planned = PLANNED.get_or_init(|| match std::env::var(FAULT_ENV) {
        Ok(s) if !s.trim().is_empty() => parse_fault(&s).map(Some).map_err(|e| e.to_string()),
        _ => Ok(None),
    });
    let run = RUNS.fetch_add(1, Ordering::SeqCst);
    match planned {
        Err(message) => Err(Error::Invalid(message.clone())),
        Ok(Some((fault, at))) if *at == run => {
            log::warn!("{FAULT_ENV}: injecting {fault:?} at run {run}");
            Ok(Some(*fault))
        }
        Ok(_) => Ok(None),
    }
}

/// Locks a mutex, recovering from poisoning (the values are plain records).
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faults_parse() {
        assert_eq!(
            parse_fault("device-lost@3").unwrap(),
            (Fault::DeviceLost, 3)
        );
        assert_eq!(parse_fault(" oom@0 ").unwrap(), (Fault::OutOfMemory, 0));
        for bad in ["", "oom", "oom@", "oom@x", "lost@1", "device-lost@-1"] {
            let e = parse_fault(bad).unwrap_err().to_string();
            assert!(e.contains("device-lost@K"), "{bad:?}: {e}");
        }
    }
}
