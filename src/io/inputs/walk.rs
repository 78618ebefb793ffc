//! Which files a command-line path names, and the name each is known by: a file by its file
//! name, the files below a folder by their path relative to it, a list file's entries by their
//! path relative to the list's folder. Names are also output paths, so they must stay inside
//! the output folder and be unique.

use std::collections::HashMap;
use std::fs;
use std::path::{Component, Path, PathBuf};

use super::{extension, unknown_type, InputItem, INPUT_EXTENSIONS};
use crate::error::{Error, Result};

/// The extension of list files: one input path per line.
pub const LIST_EXTENSION: &str = "txt";

/// The input files `path` names, each with its display name.
pub(super) fn files(path: &Path) -> Result<Vec<(PathBuf, String)>> {
    let meta = fs::metadata(path).map_err(|e| Error::io(path, e))?;
    if meta.is_dir() {
        let mut found = Vec::new();
        walk(path, "", &mut found)?;
        if found.is_empty() {
            return Err(Error::Invalid(format!(
                "folder {} holds no input files (.{}), at any depth",
                path.display(),
                INPUT_EXTENSIONS.join(", .")
            )));
        }
        // Byte order of the relative paths: the same on every machine, so shards agree.
        found.sort_by(|a, b| a.1.cmp(&b.1));
        return Ok(found);
    }
    if extension(path).as_deref() == Some(LIST_EXTENSION) {
        return list_file(path);
    }
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .ok_or_else(|| Error::Invalid(format!("{}: not a file name", path.display())))?;
    Ok(vec![(path.to_path_buf(), name)])
}

/// Appends the input files below `dir` (relative name prefix `prefix`), skipping hidden
/// entries (editor and notebook copies live there) and not following links to folders.
fn walk(dir: &Path, prefix: &str, found: &mut Vec<(PathBuf, String)>) -> Result<()> {
    for entry in fs::read_dir(dir).map_err(|e| Error::io(dir, e))? {
        let entry = entry.map_err(|e| Error::io(dir, e))?;
        let file_name = entry.file_name().to_string_lossy().into_owned();
        if file_name.starts_with('.') {
            continue;
        }
        let path = entry.path();
        let name = format!("{prefix}{file_name}");
        let kind = entry.file_type().map_err(|e| Error::io(&path, e))?;
        if kind.is_dir() {
            walk(&path, &format!("{name}/"), found)?;
        } else if is_input(&path) && path.is_file() {
            found.push((path, name));
        }
    }
    Ok(())
}

fn is_input(path: &Path) -> bool {
    extension(path).is_some_and(|e| INPUT_EXTENSIONS.contains(&e.as_str()))
}

/// The entries of a list file, resolved against its folder and named by their relative path.
fn list_file(list: &Path) -> Result<Vec<(PathBuf, String)>> {
    let text = fs::read_to_string(list).map_err(|e| Error::io(list, e))?;
    let base = list.parent().unwrap_or(Path::new(""));
    let mut out = Vec::new();
    for (k, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let at = || format!("{} line {}", list.display(), k + 1);
        let name = relative_name(Path::new(line)).ok_or_else(|| {
            Error::Invalid(format!(
                "{}: '{line}' must be a path inside the list's folder (relative, no '..'), since it is also the output name",
                at()
            ))
        })?;
        let path = base.join(line);
        if !is_input(&path) {
            return Err(Error::Invalid(format!(
                "{}: {}",
                at(),
                unknown_type(&path, extension(&path).as_deref())
            )));
        }
        out.push((path, name));
    }
    if out.is_empty() {
        return Err(Error::Invalid(format!(
            "list file {} names no inputs",
            list.display()
        )));
    }
    Ok(out)
}

/// `path` as a `/`-separated relative name, or `None` when it is absolute or climbs out.
fn relative_name(path: &Path) -> Option<String> {
    let mut parts = Vec::new();
    for c in path.components() {
        match c {
            Component::Normal(s) => parts.push(s.to_string_lossy().into_owned()),
            Component::CurDir => {}
            _ => return None,
        }
    }
    (!parts.is_empty()).then(|| parts.join("/"))
}

/// Fails when two items would write the same output files, naming both.
pub(super) fn check_unique_stems(items: &[InputItem]) -> Result<()> {
    let mut seen: HashMap<String, &InputItem> = HashMap::with_capacity(items.len());
    for it in items {
        if let Some(first) = seen.insert(it.output_stem(), it) {
            return Err(Error::Invalid(format!(
                "inputs {} and {} would both write outputs named '{}'; pass the folder above them instead, so that their names are their relative paths",
                describe(first),
                describe(it),
                it.output_stem()
            )));
        }
    }
    Ok(())
}

fn describe(it: &InputItem) -> String {
    match it.index {
        Some(i) => format!("{}[{i}]", it.path.display()),
        None => it.path.display().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_names_stay_inside() {
        assert_eq!(
            relative_name(Path::new("a/./b.png")).as_deref(),
            Some("a/b.png")
        );
        assert_eq!(relative_name(Path::new("../b.png")), None);
        assert_eq!(relative_name(Path::new("/tmp/b.png")), None);
        assert_eq!(relative_name(Path::new(".")), None);
    }
}
