//! The measured kernel choices on disk: one JSON file, one entry per device, keyed by adapter,
//! backend, driver, CPU and glimpse version, so that a new driver, another CPU under lavapipe or
//! a new release measures again instead of trusting another machine's numbers.

use std::path::{Path, PathBuf};

use serde_json::{json, Map, Value};

use crate::error::{Error, Result};
use crate::plan::{KernelChoice, KernelFamily, KernelVariant};

/// Where the kernel cache lives: a directory, or off.
pub const CACHE_DIR_ENV: &str = "GLIMPSE_CACHE_DIR";

/// `off` ignores the cache (every device gets the choice by adapter type; the tests pin it so
/// that golden figures do not depend on which machine measured what); unset or `auto` uses it.
pub const TUNE_ENV: &str = "GLIMPSE_TUNE";

/// The cache file's name inside the cache directory.
const FILE: &str = "kernels.json";

/// Format of the file; another one is measured again.
const VERSION: u64 = 1;

/// Which cache of measured kernel choices a device opens with.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum TuneCache {
    /// [`default_dir`], unless `GLIMPSE_TUNE=off`.
    #[default]
    Default,
    /// None: the choice goes by adapter type (tests pin it so, whatever a machine measured).
    Off,
    /// The cache in this directory, whatever `GLIMPSE_TUNE` says.
    At(PathBuf),
}

/// Whether `GLIMPSE_TUNE` allows the cache (anything but `off`, `0`, `false`, `no`).
pub fn tuning_enabled() -> bool {
    match std::env::var(TUNE_ENV) {
        Ok(v) => !matches!(
            v.trim().to_ascii_lowercase().as_str(),
            "off" | "0" | "false" | "no"
        ),
        Err(_) => true,
    }
}

/// The cache directory: `GLIMPSE_CACHE_DIR`, else `$XDG_CACHE_HOME/glimpse`, else
/// `$HOME/.cache/glimpse`; `None` when none of them is set.
pub fn default_dir() -> Option<PathBuf> {
    let var = |k: &str| {
        std::env::var_os(k)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    var(CACHE_DIR_ENV)
        .or_else(|| var("XDG_CACHE_HOME").map(|d| d.join("glimpse")))
        .or_else(|| var("HOME").map(|d| d.join(".cache").join("glimpse")))
}

/// A measured choice as stored: what was chosen, when, on what, and every candidate's time.
#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    /// The variant per family.
    pub choice: KernelChoice,
    /// Seconds since the Unix epoch when it was measured.
    pub measured_unix: u64,
    /// What it was measured on (the probe network or a model, and the batch).
    pub workload: String,
    /// Every candidate timed: family, variant, median seconds.
    pub timings: Vec<(KernelFamily, KernelVariant, f64)>,
}

/// The key of a device: adapter, backend, driver, CPU, glimpse version.
pub fn device_key(info: &wgpu::AdapterInfo) -> String {
    format!(
        "{} | {:?} | {} {} | {} | glimpse {}",
        info.name,
        info.backend,
        info.driver,
        info.driver_info,
        crate::gpu::host_cpu(),
        env!("CARGO_PKG_VERSION")
    )
}

/// The entry of `key` in the cache in `dir`: `Ok(None)` when there is none (no file, another
/// format version, another device), an error when the file cannot be read or parsed.
pub fn lookup(dir: &Path, key: &str) -> Result<Option<Entry>> {
    let path = dir.join(FILE);
    let devices = match read(&path)? {
        Some(d) => d,
        None => return Ok(None),
    };
    devices
        .get(key)
        .map(|v| parse_entry(v).map_err(|why| invalid(&path, &why)))
        .transpose()
}

/// Stores `entry` for `key` in the cache in `dir`, keeping the other devices' entries (an
/// unreadable file is replaced); written to a temporary file and renamed, so that a reader never
/// sees half a file. Two processes storing at once may lose one's entry (there is no lock): that
/// device is measured again on its next use.
pub fn store(dir: &Path, key: &str, entry: &Entry) -> Result<PathBuf> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let path = dir.join(FILE);
    let mut devices = read(&path).ok().flatten().unwrap_or_default();
    devices.insert(key.to_string(), entry_json(entry));
    let text = serde_json::to_string_pretty(&json!({ "version": VERSION, "devices": devices }))
        .map_err(|e| Error::Invalid(format!("kernel cache: {e}")))?;
    // Unique per process and call: two writers never share a temporary file.
    static CALLS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let call = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let tmp = dir.join(format!("{FILE}.{}.{call}.tmp", std::process::id()));
    std::fs::write(&tmp, text + "\n").map_err(|e| Error::io(&tmp, e))?;
    std::fs::rename(&tmp, &path).map_err(|e| Error::io(&path, e))?;
    Ok(path)
}

/// The devices of the file at `path`; `None` when it does not exist or has another version.
fn read(path: &Path) -> Result<Option<Map<String, Value>>> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::io(path, e)),
    };
    let v: Value = serde_json::from_str(&text).map_err(|e| invalid(path, &e.to_string()))?;
    if v.get("version").and_then(Value::as_u64) != Some(VERSION) {
        return Ok(None);
    }
    match v.get("devices") {
        Some(Value::Object(m)) => Ok(Some(m.clone())),
        _ => Err(invalid(path, "no \"devices\" object")),
    }
}

fn invalid(path: &Path, why: &str) -> Error {
    Error::Invalid(format!(
        "kernel cache {} is unreadable ({why}); run `glimpse tune` to rewrite it",
        path.display()
    ))
}

fn entry_json(e: &Entry) -> Value {
    let mut m = Map::new();
    for f in KernelFamily::ALL {
        m.insert(f.name().into(), Value::from(e.choice.get(f).name()));
    }
    m.insert("measured_unix".into(), Value::from(e.measured_unix));
    m.insert("workload".into(), Value::from(e.workload.clone()));
    let timings = e
        .timings
        .iter()
        .map(|(f, v, s)| json!({ "family": f.name(), "variant": v.name(), "seconds": s }))
        .collect::<Vec<_>>();
    m.insert("timings".into(), Value::from(timings));
    Value::Object(m)
}

fn parse_entry(v: &Value) -> std::result::Result<Entry, String> {
    let text = |k: &str| {
        v.get(k)
            .and_then(Value::as_str)
            .ok_or_else(|| format!("an entry lacks \"{k}\""))
    };
    let variant = |k: KernelFamily| {
        KernelVariant::parse(text(k.name())?).map_err(|e| format!("\"{}\": {e}", k.name()))
    };
    let choice = KernelChoice {
        conv_forward: variant(KernelFamily::ConvForward)?,
        conv_adjoint: variant(KernelFamily::ConvAdjoint)?,
        dense: variant(KernelFamily::Dense)?,
    };
    if choice.dense.winograd {
        return Err("\"dense\" has no Winograd kernels".into());
    }
    let family = |name: &str| {
        KernelFamily::ALL
            .into_iter()
            .find(|f| f.name() == name)
            .ok_or_else(|| format!("'{name}' is not a kernel family"))
    };
    let timings = match v.get("timings") {
        Some(Value::Array(a)) => a
            .iter()
            .map(|t| {
                let field = |k: &str| t.get(k).and_then(Value::as_str).unwrap_or_default();
                let seconds = t.get("seconds").and_then(Value::as_f64);
                Ok((
                    family(field("family"))?,
                    KernelVariant::parse(field("variant")).map_err(|e| e.to_string())?,
                    seconds.ok_or("a timing lacks \"seconds\"")?,
                ))
            })
            .collect::<std::result::Result<Vec<_>, String>>()?,
        _ => Vec::new(),
    };
    Ok(Entry {
        choice,
        measured_unix: v.get("measured_unix").and_then(Value::as_u64).unwrap_or(0),
        workload: text("workload").unwrap_or("?").to_string(),
        timings,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::KernelFlavor;

    fn entry() -> Entry {
        let choice = KernelChoice::uniform(KernelFlavor::Tiled, false).with(
            KernelFamily::ConvAdjoint,
            KernelVariant::of(KernelFlavor::Subgroup, true),
        );
        Entry {
            choice,
            measured_unix: 1_800_000_000,
            workload: "probe, batch 4".into(),
            timings: vec![(
                KernelFamily::Dense,
                KernelVariant::of(KernelFlavor::Tiled, false),
                0.5,
            )],
        }
    }

    fn scratch(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("glimpse-cache-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        d
    }

    #[test]
    fn an_entry_round_trips_and_other_devices_are_kept() {
        let dir = scratch("round-trip");
        assert_eq!(lookup(&dir, "a").unwrap(), None, "no file yet");
        store(&dir, "a", &entry()).unwrap();
        let mut other = entry();
        other.choice = KernelChoice::uniform(KernelFlavor::Registers, false);
        store(&dir, "b", &other).unwrap();
        assert_eq!(lookup(&dir, "a").unwrap(), Some(entry()));
        assert_eq!(lookup(&dir, "b").unwrap(), Some(other));
        assert_eq!(lookup(&dir, "c").unwrap(), None, "another device");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_corrupt_file_is_an_error_naming_it_and_store_replaces_it() {
        let dir = scratch("corrupt");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(FILE), "{ not json").unwrap();
        let e = lookup(&dir, "a").unwrap_err().to_string();
        assert!(
            e.contains("kernels.json") && e.contains("glimpse tune"),
            "{e}"
        );
        store(&dir, "a", &entry()).unwrap();
        assert_eq!(lookup(&dir, "a").unwrap(), Some(entry()));
        let bad = r#"{"version":1,"devices":{"a":{"conv-forward":"tiled+winograd","conv-adjoint":"tiled","dense":"tiled","workload":"x"}}}"#;
        std::fs::write(dir.join(FILE), bad).unwrap();
        let e = lookup(&dir, "a").unwrap_err().to_string();
        assert!(e.contains("subgroup flavor only"), "{e}");
        std::fs::write(dir.join(FILE), r#"{"version":99}"#).unwrap();
        assert_eq!(
            lookup(&dir, "a").unwrap(),
            None,
            "another format is measured again"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
