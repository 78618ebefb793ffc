//! What goes into the merged folder: every shard's output files, checked against each other
//! and against what the folder already holds, then hard-linked (or copied) into place.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use glimpse::error::{Error, Result};
use serde_json::Value;

use super::{differences, fail_on, read, ShardRun};
use crate::run::atomic;
use crate::run::folder::{ERRORS, ITEMS, MANIFEST, STOPPED, SUMMARY};

/// Refuses an --out inside a shard folder, or one holding another run's manifest.
pub(super) fn check_out(out: &Path, runs: &[ShardRun], manifest: &Value) -> Result<()> {
    let at = std::fs::canonicalize(out)
        .or_else(|_| std::path::absolute(out))
        .map_err(|e| Error::io(out, e))?;
    for r in runs {
        let dir = std::fs::canonicalize(&r.dir).map_err(|e| Error::io(&r.dir, e))?;
        if at.starts_with(&dir) {
            return Err(Error::Invalid(format!(
                "--out {} is inside {}: merge into a folder of its own",
                out.display(),
                r.name()
            )));
        }
    }
    let path = out.join(MANIFEST);
    if let Some(text) = read(&path)? {
        let old: Value = serde_json::from_str(&text).map_err(|e| {
            Error::Invalid(format!(
                "{} is not a manifest ({e}): merge into an empty folder",
                path.display()
            ))
        })?;
        let mut keys = Vec::new();
        differences("", &old, manifest, &mut keys);
        if let Some(key) = keys.iter().find(|k| *k != "model.path") {
            return Err(Error::Invalid(format!(
                "{} holds another run ({MANIFEST} differs at {key}): merge into an empty folder",
                out.display()
            )));
        }
    }
    Ok(())
}

/// Every output file of every shard (relative path → source), checked against each other and
/// against what `out` already holds: equal bytes are skipped, different bytes are an error.
pub(super) fn plan(runs: &[ShardRun], out: &Path) -> Result<BTreeMap<PathBuf, PathBuf>> {
    let mut files: BTreeMap<PathBuf, (usize, PathBuf)> = BTreeMap::new();
    let mut problems = Vec::new();
    for (i, r) in runs.iter().enumerate() {
        for rel in walk(&r.dir)? {
            let src = r.dir.join(&rel);
            match files.get(&rel) {
                Some((j, other)) if !same_bytes(other, &src)? => problems.push(format!(
                    "{} is written by both {} and {}, with different bytes",
                    rel.display(),
                    runs[*j].name(),
                    r.name()
                )),
                Some(_) => {}
                None => {
                    files.insert(rel, (i, src));
                }
            }
        }
    }
    let mut todo = BTreeMap::new();
    for (rel, (i, src)) in files {
        let dst = out.join(&rel);
        if !dst.exists() {
            todo.insert(rel, src);
        } else if !same_bytes(&dst, &src)? {
            problems.push(format!(
                "{} exists and differs from {}'s {}: not overwritten (remove it, or merge into an empty folder)",
                dst.display(),
                runs[i].name(),
                rel.display()
            ));
        }
    }
    fail_on(problems)?;
    Ok(todo)
}

/// The output files below `dir`, relative to it: all but the run's own files and hidden ones
/// (the `.NAME.part` files a killed run may leave).
fn walk(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut stack = vec![PathBuf::new()];
    while let Some(rel) = stack.pop() {
        let at = dir.join(&rel);
        for entry in std::fs::read_dir(&at).map_err(|e| Error::io(&at, e))? {
            let entry = entry.map_err(|e| Error::io(&at, e))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let kind = entry.file_type().map_err(|e| Error::io(entry.path(), e))?;
            let top_run_file = rel.as_os_str().is_empty()
                && [MANIFEST, SUMMARY, ERRORS, ITEMS, STOPPED].contains(&name.as_str());
            if name.starts_with('.') || top_run_file {
                continue;
            }
            if kind.is_dir() {
                stack.push(rel.join(&name));
            } else if kind.is_file() {
                out.push(rel.join(&name));
            }
        }
    }
    Ok(out)
}

/// Puts every planned file into `out`; returns how many were linked and how many copied.
pub(super) fn put(files: &BTreeMap<PathBuf, PathBuf>, out: &Path) -> Result<(usize, usize)> {
    let mut linked = 0;
    for (rel, src) in files {
        linked += usize::from(link_or_copy(src, &out.join(rel))?);
    }
    Ok((linked, files.len() - linked))
}

/// Puts `src` at `dst` atomically, as a hard link where the file system allows; returns
/// whether it linked.
fn link_or_copy(src: &Path, dst: &Path) -> Result<bool> {
    let mut linked = false;
    atomic::write_with(dst, |tmp| {
        // A stale temporary could be a link to a shard's file, which a copy would write through.
        let _ = std::fs::remove_file(tmp);
        linked = std::fs::hard_link(src, tmp).is_ok();
        if !linked {
            std::fs::copy(src, tmp).map_err(|e| Error::io(tmp, e))?;
        }
        Ok(())
    })?;
    Ok(linked)
}

fn same_bytes(a: &Path, b: &Path) -> Result<bool> {
    let len = |p: &Path| {
        std::fs::metadata(p)
            .map(|m| m.len())
            .map_err(|e| Error::io(p, e))
    };
    if len(a)? != len(b)? {
        return Ok(false);
    }
    let bytes = |p: &Path| std::fs::read(p).map_err(|e| Error::io(p, e));
    Ok(bytes(a)? == bytes(b)?)
}
