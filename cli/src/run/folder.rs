//! A run's output folder: `manifest.json` (what was asked for), `summary.jsonl` (one line per
//! finished input, appended after that input's files exist), `errors.jsonl` (one line per input
//! that could not be used), `items.txt` (every input this run owes, one name a line) and
//! `stopped.json` (why the last run stopped early, when a batch failed on the GPU).

use std::collections::HashSet;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use glimpse::error::{Error, Result};
use serde_json::Value;

use super::atomic;

pub const MANIFEST: &str = "manifest.json";
pub const SUMMARY: &str = "summary.jsonl";
pub const ERRORS: &str = "errors.jsonl";
pub const ITEMS: &str = "items.txt";
pub const STOPPED: &str = "stopped.json";

/// How to treat a folder that already holds a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Start {
    /// Refuse it: nothing a user asked for is overwritten unasked.
    Fresh,
    /// Continue it: its manifest must match.
    Resume,
    /// Replace its summary, errors and manifest.
    Overwrite,
}

/// An open run folder.
pub struct RunFolder {
    pub dir: PathBuf,
    summary: File,
    errors: File,
    done: HashSet<String>,
    failed: usize,
}

impl RunFolder {
    /// Opens `dir` for a run described by `manifest`, owing `items` (display names in order).
    pub fn open(dir: &Path, manifest: &Value, items: &[String], start: Start) -> Result<RunFolder> {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        let manifest_path = dir.join(MANIFEST);
        let held = manifest_path.exists() || dir.join(SUMMARY).exists();
        let mut done = HashSet::new();
        match start {
            Start::Fresh if held => {
                return Err(Error::Invalid(format!(
                    "{} holds a run already ({MANIFEST}, {SUMMARY}); pass --resume to continue it or --overwrite to start over",
                    dir.display()
                )))
            }
            Start::Resume => {
                let text = std::fs::read_to_string(&manifest_path).map_err(|e| {
                    Error::Invalid(format!(
                        "--resume: {} has no run to continue ({}: {e})",
                        dir.display(),
                        manifest_path.display()
                    ))
                })?;
                let old: Value = serde_json::from_str(&text).map_err(|e| {
                    Error::Invalid(format!("{}: not a manifest: {e}", manifest_path.display()))
                })?;
                check_same(&old, manifest, &manifest_path)?;
                done = finished(&dir.join(SUMMARY))?;
            }
            Start::Fresh | Start::Overwrite => {
                for name in [SUMMARY, ERRORS] {
                    remove_if_there(&dir.join(name))?;
                }
                let text = serde_json::to_string_pretty(manifest).expect("JSON values serialise");
                atomic::write_bytes(&manifest_path, format!("{text}\n").as_bytes())?;
            }
        }
        // Inputs that failed before are tried again, so their old lines go; so does the record
        // of an earlier stop, which this run either repeats or finishes past.
        remove_if_there(&dir.join(ERRORS))?;
        remove_if_there(&dir.join(STOPPED))?;
        let mut list = items.join("\n");
        list.push('\n');
        atomic::write_bytes(&dir.join(ITEMS), list.as_bytes())?;
        Ok(RunFolder {
            dir: dir.to_path_buf(),
            summary: append(&dir.join(SUMMARY))?,
            errors: append(&dir.join(ERRORS))?,
            done,
            failed: 0,
        })
    }

    /// Whether `name` finished in an earlier run (its summary line exists).
    pub fn is_done(&self, name: &str) -> bool {
        self.done.contains(name)
    }

    /// Inputs finished in earlier runs.
    pub fn done_count(&self) -> usize {
        self.done.len()
    }

    /// Inputs recorded as failed in this run.
    pub fn failed(&self) -> usize {
        self.failed
    }

    /// Records a finished input: one line, written in one call (a kill leaves at most a
    /// partial last line, which [`RunFolder::open`] drops on resume).
    pub fn finish(&mut self, line: &Value) -> Result<()> {
        let path = self.dir.join(SUMMARY);
        self.summary
            .write_all(format!("{line}\n").as_bytes())
            .map_err(|e| Error::io(&path, e))
    }

    /// Records an input that could not be used, with the reason.
    pub fn fail(&mut self, name: &str, error: &Error) -> Result<()> {
        self.failed += 1;
        let line = serde_json::json!({"input": name, "error": error.to_string()});
        let path = self.dir.join(ERRORS);
        self.errors
            .write_all(format!("{line}\n").as_bytes())
            .map_err(|e| Error::io(&path, e))
    }

    /// Records why the run stopped before its end (a batch failed on the GPU: a lost device,
    /// out of memory) in `stopped.json`, beside the inputs finished before it; `--resume`
    /// continues from the failed batch.
    pub fn stop(&self, error: &Error) -> Result<()> {
        let mut line = serde_json::json!({"error": error.to_string()});
        if let Error::Batch {
            index,
            count,
            first,
            last,
            source,
        } = error
        {
            line["batch"] = (*index).into();
            line["inputs"] = (*count).into();
            line["first"] = first.as_str().into();
            line["last"] = last.as_str().into();
            line["cause"] = source.to_string().into();
        }
        let text = serde_json::to_string_pretty(&line).expect("JSON values serialise");
        atomic::write_bytes(&self.dir.join(STOPPED), format!("{text}\n").as_bytes())
    }

    /// Ends a pipeline pass over the folder: the summary sorted into the order of `items`, and
    /// a pass that failed recorded in `stopped.json` and its error returned.
    pub fn conclude(
        folder: std::sync::Mutex<RunFolder>,
        items: &[String],
        finished: Result<()>,
    ) -> Result<RunFolder> {
        let mut folder = folder.into_inner().expect("the pass is over");
        folder.sort_summary(items)?;
        if let Err(e) = finished {
            folder.stop(&e)?;
            return Err(e);
        }
        Ok(folder)
    }

    /// Rewrites the summary in the order of `items` (writer threads finish out of order), so that
    /// a run, resumed or not, ends with the same file.
    pub fn sort_summary(&mut self, items: &[String]) -> Result<()> {
        let path = self.dir.join(SUMMARY);
        let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
        let position: std::collections::HashMap<&str, usize> = items
            .iter()
            .enumerate()
            .map(|(k, n)| (n.as_str(), k))
            .collect();
        let mut lines: Vec<(usize, &str)> = Vec::new();
        for line in text.lines() {
            let name = input_of(line, &path)?;
            lines.push((
                position.get(name.as_str()).copied().unwrap_or(usize::MAX),
                line,
            ));
        }
        lines.sort_by_key(|&(k, _)| k);
        let sorted: String = lines.iter().map(|(_, l)| format!("{l}\n")).collect();
        atomic::write_bytes(&path, sorted.as_bytes())?;
        self.summary = append(&path)?;
        Ok(())
    }
}

fn append(path: &Path) -> Result<File> {
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| Error::io(path, e))
}

fn remove_if_there(path: &Path) -> Result<()> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(Error::io(path, e)),
        _ => Ok(()),
    }
}

/// The inputs a summary records as finished; a partial last line (a kill mid-write) is cut off.
fn finished(path: &Path) -> Result<HashSet<String>> {
    let mut text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(HashSet::new()),
        Err(e) => return Err(Error::io(path, e)),
    };
    if !text.is_empty() && !text.ends_with('\n') {
        let keep = text.rfind('\n').map_or(0, |k| k + 1);
        text.truncate(keep);
        atomic::write_bytes(path, text.as_bytes())?;
    }
    text.lines().map(|l| input_of(l, path)).collect()
}

fn input_of(line: &str, path: &Path) -> Result<String> {
    let v: Value = serde_json::from_str(line).map_err(|e| {
        Error::Invalid(format!(
            "{}: a line is not JSON ({e}): {line}",
            path.display()
        ))
    })?;
    v["input"].as_str().map(String::from).ok_or_else(|| {
        Error::Invalid(format!(
            "{}: a line has no \"input\": {line}",
            path.display()
        ))
    })
}

/// Fails unless the manifest of the run being resumed asks for the same as this one, naming
/// the first setting that differs (the model is compared by its hash, not its path).
fn check_same(old: &Value, new: &Value, path: &Path) -> Result<()> {
    let mut differences = Vec::new();
    diff("", old, new, &mut differences);
    differences.retain(|d| d != "model.path");
    match differences.first() {
        None => Ok(()),
        Some(key) => Err(Error::Invalid(format!(
            "--resume: this command differs from the run in {} at '{key}' (was {}, now {}); rerun with the same options, or pass --overwrite to start over",
            path.display(),
            lookup(old, key),
            lookup(new, key)
        ))),
    }
}

pub(crate) fn diff(prefix: &str, a: &Value, b: &Value, out: &mut Vec<String>) {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let keys: std::collections::BTreeSet<&String> = x.keys().chain(y.keys()).collect();
            for k in keys {
                let key = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                diff(
                    &key,
                    x.get(k).unwrap_or(&Value::Null),
                    y.get(k).unwrap_or(&Value::Null),
                    out,
                );
            }
        }
        _ if a != b => out.push(prefix.to_string()),
        _ => {}
    }
}

pub(crate) fn lookup(v: &Value, key: &str) -> String {
    key.split('.')
        .fold(v, |v, k| v.get(k).unwrap_or(&Value::Null))
        .to_string()
}
