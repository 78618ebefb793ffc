//! `glimpse merge`: the shard folders of one batch run joined into one run folder, byte for byte
//! what a single process would have written, once the shards are checked to be that run's
//! complete, non-overlapping parts with every input done exactly once.

mod files;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use clap::Args;
use glimpse::error::{Error, Result};
use serde_json::Value;

use crate::run::atomic;
use crate::run::folder::{diff as differences, lookup, ERRORS, ITEMS, MANIFEST, STOPPED, SUMMARY};
use crate::run::Shard;

/// Arguments of `glimpse merge`.
#[derive(Args, Debug)]
pub struct MergeArgs {
    /// The merged run folder (files already there must equal the shards' or the merge stops).
    #[arg(long)]
    pub out: PathBuf,
    /// The shard run folders (OUT/shard-I-of-N), or a folder holding them.
    #[arg(required = true, value_name = "SHARD_DIR")]
    pub shards: Vec<PathBuf>,
}

/// Manifest keys that may differ between the shards of one run.
const PER_SHARD: [&str; 3] = ["shard", "items", "model.path"];

/// Shown problems at most; a broken merge often has one cause behind many lines.
const SHOWN: usize = 10;

/// One shard's run folder as read back.
struct ShardRun {
    dir: PathBuf,
    shard: Shard,
    manifest: Value,
    items: Vec<String>,
    /// (input, line as written), in file order.
    summary: Vec<(String, String)>,
    errors: Vec<(String, String)>,
}

/// Runs `glimpse merge`. Everything is checked before DIR is touched; failed inputs are merged
/// into DIR/errors.jsonl and then make the result an error.
pub fn run(args: &MergeArgs) -> Result<()> {
    let dirs = expand(&args.shards)?;
    let mut runs = dirs
        .iter()
        .map(|d| ShardRun::read(d))
        .collect::<Result<Vec<_>>>()?;
    let manifest = check_shards(&mut runs)?;
    let order = interleave(&runs)?;
    let (summary, errors) = check_done(&runs, &order)?;
    files::check_out(&args.out, &runs, &manifest)?;
    let files = files::plan(&runs, &args.out)?;
    let (linked, copied) = files::put(&files, &args.out)?;
    let names: Vec<&str> = order.iter().map(|(n, _)| n.as_str()).collect();
    let lines = |v: &[&String]| v.iter().map(|l| format!("{l}\n")).collect::<String>();
    atomic::write_bytes(
        &args.out.join(ITEMS),
        format!("{}\n", names.join("\n")).as_bytes(),
    )?;
    atomic::write_bytes(&args.out.join(ERRORS), lines(&errors).as_bytes())?;
    atomic::write_bytes(&args.out.join(SUMMARY), lines(&summary).as_bytes())?;
    // The manifest last: a folder with a merged manifest holds a whole merge.
    let text = serde_json::to_string_pretty(&manifest).expect("JSON values serialise");
    atomic::write_bytes(&args.out.join(MANIFEST), format!("{text}\n").as_bytes())?;
    say!(
        "merged {} shards into {}: {} of {} inputs done, {} output files ({linked} linked, {copied} copied)",
        runs.len(),
        args.out.display(),
        summary.len(),
        order.len(),
        files.len(),
    );
    if !errors.is_empty() {
        return Err(Error::Invalid(format!(
            "{} of {} inputs failed in their shards: see {}",
            errors.len(),
            order.len(),
            args.out.join(ERRORS).display()
        )));
    }
    Ok(())
}

/// The shard folders the arguments name: a run folder itself, or a folder of `shard-*` folders.
fn expand(args: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut dirs = Vec::new();
    for arg in args {
        if arg.join(MANIFEST).is_file() {
            dirs.push(arg.clone());
            continue;
        }
        let entries = std::fs::read_dir(arg).map_err(|e| Error::io(arg, e))?;
        let mut inner: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_dir() && name_of(p).starts_with("shard-"))
            .collect();
        if inner.is_empty() {
            return Err(Error::Invalid(format!(
                "{}: neither a run folder (no {MANIFEST}) nor a folder of shard-I-of-N folders",
                arg.display()
            )));
        }
        inner.sort();
        dirs.extend(inner);
    }
    Ok(dirs)
}

impl ShardRun {
    fn read(dir: &Path) -> Result<ShardRun> {
        let bad = |what: String| Error::Invalid(format!("shard folder {}: {what}", dir.display()));
        let text = read(&dir.join(MANIFEST))?
            .ok_or_else(|| bad(format!("no {MANIFEST}: not a run folder")))?;
        let manifest: Value =
            serde_json::from_str(&text).map_err(|e| bad(format!("{MANIFEST} is not JSON: {e}")))?;
        let shard: Option<Shard> = serde_json::from_value(manifest["shard"].clone())
            .map_err(|e| bad(format!("{MANIFEST} has no valid \"shard\": {e}")))?;
        let shard = shard.ok_or_else(|| {
            bad("not a shard (its manifest's shard is null): a whole run, nothing to merge".into())
        })?;
        // An empty shard's items.txt is a lone newline: no name is empty, so blank lines go.
        let items: Vec<String> = read(&dir.join(ITEMS))?
            .ok_or_else(|| bad(format!("no {ITEMS}")))?
            .lines()
            .filter(|l| !l.is_empty())
            .map(String::from)
            .collect();
        if let Some(stopped) = read(&dir.join(STOPPED))? {
            let why: Value = serde_json::from_str(&stopped).unwrap_or(Value::Null);
            return Err(bad(format!(
                "it stopped early ({STOPPED}: {}); finish it with glimpse explain --resume first",
                why["error"].as_str().unwrap_or(stopped.trim())
            )));
        }
        if manifest["items"].as_u64() != Some(items.len() as u64) {
            return Err(bad(format!(
                "{ITEMS} lists {} inputs but {MANIFEST} says {}",
                items.len(),
                manifest["items"]
            )));
        }
        Ok(ShardRun {
            summary: jsonl(&dir.join(SUMMARY))?,
            errors: jsonl(&dir.join(ERRORS))?,
            dir: dir.to_path_buf(),
            shard,
            manifest,
            items,
        })
    }

    fn name(&self) -> String {
        format!(
            "shard {} of {} ({})",
            self.shard.index,
            self.shard.count,
            self.dir.display()
        )
    }
}

/// Sorts the shards by index after checking that they are indices 0..N of one N, each once,
/// of one run (manifests equal but for [`PER_SHARD`]); returns the merged run's manifest.
fn check_shards(runs: &mut [ShardRun]) -> Result<Value> {
    let first = &runs[0];
    for r in &runs[1..] {
        let mut keys = Vec::new();
        differences("", &first.manifest, &r.manifest, &mut keys);
        let per_shard = |k: &str| {
            PER_SHARD
                .iter()
                .any(|p| k == *p || k.starts_with(&format!("{p}.")))
        };
        if let Some(key) = keys.iter().find(|k| !per_shard(k)) {
            return Err(Error::Invalid(format!(
                "the shards are not of one run: their manifests differ at {key} ({} has {}, {} has {})",
                first.dir.display(),
                lookup(&first.manifest, key),
                r.dir.display(),
                lookup(&r.manifest, key)
            )));
        }
        if r.shard.count != first.shard.count {
            return Err(Error::Invalid(format!(
                "the shards are not of one split: {} but {}",
                first.name(),
                r.name()
            )));
        }
    }
    runs.sort_by_key(|r| r.shard.index);
    if let Some(w) = runs.windows(2).find(|w| w[0].shard == w[1].shard) {
        return Err(Error::Invalid(format!(
            "shard {} of {} given twice: {} and {}",
            w[0].shard.index,
            w[0].shard.count,
            w[0].dir.display(),
            w[1].dir.display()
        )));
    }
    let count = runs[0].shard.count;
    let missing: Vec<String> = (0..count)
        .filter(|i| !runs.iter().any(|r| r.shard.index == *i))
        .map(|i| i.to_string())
        .collect();
    if !missing.is_empty() {
        return Err(Error::Invalid(format!(
            "missing shard {} of {count} (have {})",
            missing.join(", "),
            runs.iter()
                .map(|r| r.dir.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    let mut manifest = runs[0].manifest.clone();
    manifest["shard"] = Value::Null;
    manifest["items"] = runs.iter().map(|r| r.items.len()).sum::<usize>().into();
    Ok(manifest)
}

/// The whole run's input list (with each input's shard, an index into `runs`): position k of
/// the list is item k / N of shard k % N, so the lists interleave back into the original order.
fn interleave(runs: &[ShardRun]) -> Result<Vec<(String, usize)>> {
    let n = runs.len();
    let total: usize = runs.iter().map(|r| r.items.len()).sum();
    for (i, r) in runs.iter().enumerate() {
        let owed = (total + n - 1 - i) / n;
        if r.items.len() != owed {
            return Err(Error::Invalid(format!(
                "{} lists {} inputs in {ITEMS}, but {total} inputs in {n} shards give it {owed}: the shards listed different inputs",
                r.name(),
                r.items.len()
            )));
        }
    }
    let order: Vec<(String, usize)> = (0..total)
        .map(|k| (runs[k % n].items[k / n].clone(), k % n))
        .collect();
    let mut owner: HashMap<&str, usize> = HashMap::new();
    for (name, i) in &order {
        if let Some(j) = owner.insert(name, *i) {
            return Err(Error::Invalid(format!(
                "input {name} is listed by both {} and {}",
                runs[j].name(),
                runs[*i].name()
            )));
        }
    }
    Ok(order)
}

type Lines<'a> = (Vec<&'a String>, Vec<&'a String>);

/// Checks that every input is done exactly once, by its own shard: in its summary or in its
/// errors. Returns the summary and error lines in the list's order.
fn check_done<'a>(runs: &'a [ShardRun], order: &[(String, usize)]) -> Result<Lines<'a>> {
    let owner: HashMap<&str, usize> = order.iter().map(|(n, i)| (n.as_str(), *i)).collect();
    // input → every (shard, file, line) that records it
    let mut records: HashMap<&str, Vec<(usize, &str, &String)>> = HashMap::new();
    for (i, r) in runs.iter().enumerate() {
        for (file, lines) in [(SUMMARY, &r.summary), (ERRORS, &r.errors)] {
            for (input, line) in lines {
                records.entry(input).or_default().push((i, file, line));
            }
        }
    }
    let mut problems = Vec::new();
    let mut stray: Vec<_> = records.keys().filter(|n| !owner.contains_key(*n)).collect();
    stray.sort();
    for name in stray {
        let (i, file, _) = records[name][0];
        problems.push(format!(
            "input {name} is in {}'s {file} but in no shard's {ITEMS}",
            runs[i].name()
        ));
    }
    let (mut summary, mut errors) = (Vec::new(), Vec::new());
    for (name, own) in order {
        match records.get(name.as_str()).map(Vec::as_slice) {
            None | Some([]) => problems.push(format!(
                "input {name} never done: {} has no line for it in {SUMMARY} or {ERRORS} (finish it with glimpse explain --resume)",
                runs[*own].name()
            )),
            Some([(i, file, line)]) if i == own => {
                if *file == SUMMARY {
                    summary.push(*line);
                } else {
                    errors.push(*line);
                }
            }
            Some([(i, file, _)]) => problems.push(format!(
                "input {name} belongs to {} but is in {}'s {file}",
                runs[*own].name(),
                runs[*i].name()
            )),
            Some(many) => problems.push(format!(
                "input {name} done {} times, in shards {} ({})",
                many.len(),
                many.iter()
                    .map(|(i, _, _)| runs[*i].shard.index.to_string())
                    .collect::<Vec<_>>()
                    .join(" and "),
                many.iter()
                    .map(|(i, file, _)| runs[*i].dir.join(file).display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
        }
    }
    fail_on(problems)?;
    Ok((summary, errors))
}

/// A file's text, or `None` where it does not exist.
fn read(path: &Path) -> Result<Option<String>> {
    match std::fs::read_to_string(path) {
        Ok(t) => Ok(Some(t)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io(path, e)),
    }
}

/// The (input, line) pairs of a summary or errors file (none where it does not exist).
fn jsonl(path: &Path) -> Result<Vec<(String, String)>> {
    let text = read(path)?.unwrap_or_default();
    let mut seen = HashMap::new();
    let mut out = Vec::new();
    for (k, line) in text.lines().enumerate() {
        let bad = |what: &str| {
            Error::Invalid(format!(
                "{} line {}: {what} (a shard killed mid-write? finish it with glimpse explain --resume)",
                path.display(),
                k + 1
            ))
        };
        let v: Value = serde_json::from_str(line).map_err(|_| bad("not JSON"))?;
        let input = v["input"].as_str().ok_or_else(|| bad("no \"input\""))?;
        if let Some(first) = seen.insert(input.to_string(), k + 1) {
            return Err(Error::Invalid(format!(
                "{} names input {input} twice, on lines {first} and {}",
                path.display(),
                k + 1
            )));
        }
        out.push((input.to_string(), line.to_string()));
    }
    Ok(out)
}

fn fail_on(problems: Vec<String>) -> Result<()> {
    if problems.is_empty() {
        return Ok(());
    }
    let mut text = problems[..problems.len().min(SHOWN)].join("\n  ");
    if problems.len() > SHOWN {
        text.push_str(&format!("\n  … and {} more", problems.len() - SHOWN));
    }
    Err(Error::Invalid(format!("cannot merge:\n  {text}")))
}

fn name_of(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}
