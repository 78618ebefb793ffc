//! Batch runs over many inputs that lose nothing: outputs written atomically into a run folder
//! with a manifest, resumable after a kill, shardable across machines, corrupt inputs recorded
//! and skipped, decoding and writing on their own threads while the GPU works.

pub mod atomic;
pub mod folder;
pub mod pipeline;
pub mod prefetch;
pub mod shard;

use std::path::{Path, PathBuf};

use clap::Args;
use glimpse::error::{Error, Result};
use glimpse::io::inputs::InputItem;
use serde_json::{json, Value};
use sha2::Digest;

pub use folder::{RunFolder, Start};
pub use shard::Shard;

/// How a batch run starts, splits and reacts to bad inputs.
#[derive(Args, Debug, Clone, Default)]
pub struct RunArgs {
    /// Continue the run in --out: inputs with a summary line are skipped, the rest (a partly
    /// written one included) are done; the manifest must match this command's options.
    #[arg(long, conflicts_with = "overwrite")]
    pub resume: bool,
    /// Start over in an --out that holds a run (its summary, errors and manifest are replaced;
    /// output files are replaced as their inputs are done again).
    #[arg(long)]
    pub overwrite: bool,
    /// Stop at the first input that cannot be read instead of recording it in errors.jsonl.
    #[arg(long)]
    pub fail_fast: bool,
    /// Do shard I of N: the inputs at positions I, I + N, … of the sorted list, written to
    /// OUT/shard-I-of-N (`glimpse merge` joins them). Default: from SLURM_ARRAY_TASK_ID and
    /// SLURM_ARRAY_TASK_COUNT (minus SLURM_ARRAY_TASK_MIN), or Kubernetes' JOB_COMPLETION_INDEX
    /// of --shards.
    #[arg(long, value_name = "I/N")]
    pub shard: Option<String>,
    /// The number of shards, for a shard index taken from JOB_COMPLETION_INDEX.
    #[arg(long, value_name = "N")]
    pub shards: Option<usize>,
    /// Threads decoding and pre-processing inputs while the GPU works.
    #[arg(long, default_value_t = 2)]
    pub decoders: usize,
    /// Threads rendering and writing outputs while the GPU works.
    #[arg(long, default_value_t = 2)]
    pub writers: usize,
}

impl RunArgs {
    /// How the run folder is opened.
    pub fn start(&self) -> Start {
        match (self.resume, self.overwrite) {
            (true, _) => Start::Resume,
            (_, true) => Start::Overwrite,
            _ => Start::Fresh,
        }
    }

    /// The shard this process does (flag or scheduler environment).
    pub fn shard(&self) -> Result<Option<Shard>> {
        let shard = Shard::resolve(self.shard.as_deref(), self.shards, &|k| {
            std::env::var(k).ok()
        })?;
        if self.decoders == 0 || self.writers == 0 {
            return Err(Error::Invalid(
                "--decoders and --writers must be at least 1".into(),
            ));
        }
        Ok(shard)
    }
}

/// This process's share of `items`, and the folder its outputs go to inside `out`.
pub fn take_shard(
    items: Vec<InputItem>,
    shard: Option<Shard>,
    out: &Path,
) -> (Vec<InputItem>, PathBuf) {
    match shard {
        None => (items, out.to_path_buf()),
        Some(s) => (
            items
                .into_iter()
                .enumerate()
                .filter(|(k, _)| s.takes(*k))
                .map(|(_, it)| it)
                .collect(),
            out.join(s.folder()),
        ),
    }
}

/// The manifest of a run: the glimpse version, the command, the model's SHA-256, every option
/// (`options`: the parsed arguments, less what does not change the outputs), the input paths
/// as given, the shard and the number of inputs.
pub fn manifest(
    command: &str,
    model: &Path,
    options: Value,
    inputs: &[PathBuf],
    shard: Option<Shard>,
    items: usize,
) -> Result<Value> {
    Ok(json!({
        "glimpse": env!("CARGO_PKG_VERSION"),
        "command": command,
        "model": {"path": model.display().to_string(), "sha256": sha256(model)?},
        "options": options,
        "inputs": inputs.iter().map(|p| p.display().to_string()).collect::<Vec<_>>(),
        "shard": shard,
        "items": items,
    }))
}

/// The options of `args` as JSON, without the keys `drop` names (top-level or `a.b`).
pub fn options_json(args: &impl serde::Serialize, drop: &[&str]) -> Value {
    let mut v = serde_json::to_value(args).expect("arguments serialise");
    for key in drop {
        let mut at = &mut v;
        let parts: Vec<&str> = key.split('.').collect();
        for p in &parts[..parts.len() - 1] {
            at = &mut at[*p];
        }
        if let Some(o) = at.as_object_mut() {
            o.remove(parts[parts.len() - 1]);
        }
    }
    v
}

fn sha256(path: &Path) -> Result<String> {
    let mut file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut hasher = sha2::Sha256::new();
    std::io::copy(&mut file, &mut hasher).map_err(|e| Error::io(path, e))?;
    Ok(format!("{:x}", hasher.finalize()))
}
