//! Model inputs from the command line: images, `.npy` arrays and folders of either, each
//! turned into named `[C, H, W]` items of the shape the model expects.

use std::fs;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::io::image::{load_image, ImageOptions};
use crate::io::npy;
use crate::model::Tensor;

/// File extensions [`load_inputs`] reads (compared case-insensitively).
pub const INPUT_EXTENSIONS: [&str; 4] = ["png", "jpg", "jpeg", "npy"];

/// One input item: a display name (`cat.png`, `batch.npy[3]`) and its tensor.
pub type NamedInput = (String, Tensor<f32>);

/// Loads every input named by `paths`, in order, as items of shape `expected` (per item,
/// e.g. `[C, H, W]`).
///
/// - An image (`.png`, `.jpg`, `.jpeg`) becomes one item named by its file name. Without
///   `opts.size` it is resized to the expected height and width; a 1-channel model gets
///   its luminance. Images need `expected = [1 or 3, H, W]`.
/// - A `.npy` file holds one item of shape `expected` or a batch `[N, ...expected]`, whose
///   items are named `file.npy[i]`.
/// - A folder contributes its images and `.npy` files, sorted by name, not recursively;
///   other files and subfolders are skipped.
///
/// Errors: a missing path ([`Error::Io`]), an unknown extension ([`Error::Invalid`]), an item
/// of another shape ([`Error::Shape`], naming the file and both shapes), NaN or infinity
/// ([`Error::NonFinite`], naming the file).
pub fn load_inputs(
    paths: &[PathBuf],
    expected: &[usize],
    opts: &ImageOptions,
) -> Result<Vec<NamedInput>> {
    let mut out = Vec::new();
    for path in paths {
        let meta = fs::metadata(path).map_err(|e| Error::io(path, e))?;
        if meta.is_dir() {
            let files = folder_inputs(path)?;
            if files.is_empty() {
                return Err(Error::Invalid(format!(
                    "folder {} holds no input files (.{})",
                    path.display(),
                    INPUT_EXTENSIONS.join(", .")
                )));
            }
            for file in files {
                out.extend(load_file(&file, expected, opts)?);
            }
        } else {
            out.extend(load_file(path, expected, opts)?);
        }
    }
    Ok(out)
}

/// The input files directly inside `dir`, sorted by file name.
fn folder_inputs(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for entry in fs::read_dir(dir).map_err(|e| Error::io(dir, e))? {
        let entry = entry.map_err(|e| Error::io(dir, e))?;
        let path = entry.path();
        if path.is_file()
            && extension(&path).is_some_and(|e| INPUT_EXTENSIONS.contains(&e.as_str()))
        {
            files.push(path);
        }
    }
    files.sort_by(|a, b| a.file_name().cmp(&b.file_name()));
    Ok(files)
}

/// The lower-case extension of `path`, if any.
fn extension(path: &Path) -> Option<String> {
    path.extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string())
}

/// Loads one file as one or more items.
fn load_file(path: &Path, expected: &[usize], opts: &ImageOptions) -> Result<Vec<NamedInput>> {
    match extension(path).as_deref() {
        Some("npy") => load_npy(path, expected),
        Some("png" | "jpg" | "jpeg") => Ok(vec![(file_name(path), load_item_image(path, expected, opts)?)]),
        other => Err(Error::Invalid(format!(
            "{}: unknown input type {}; expected an image (.png, .jpg, .jpeg), a .npy array, or a folder of them",
            path.display(),
            match other {
                Some(e) => format!("'.{e}'"),
                None => "(no extension)".to_string(),
            }
        ))),
    }
}

/// A `.npy` file of one item or a batch of items.
fn load_npy(path: &Path, expected: &[usize]) -> Result<Vec<NamedInput>> {
    let t = npy::read_f32(path)?;
    t.check_finite(&path.display().to_string())?;
    let name = file_name(path);
    if t.shape == expected {
        return Ok(vec![(name, t)]);
    }
    if t.shape.len() == expected.len() + 1 && t.shape[1..] == *expected {
        let n = t.shape[0];
        if n == 0 {
            return Err(Error::Shape(format!(
                "{}: the batch of shape {:?} holds no items",
                path.display(),
                t.shape
            )));
        }
        let per = t.data.len() / n;
        return Ok(t
            .data
            .chunks_exact(per)
            .enumerate()
            .map(|(i, chunk)| {
                let item = Tensor {
                    shape: expected.to_vec(),
                    data: chunk.to_vec(),
                };
                (format!("{name}[{i}]"), item)
            })
            .collect());
    }
    Err(Error::Shape(format!(
        "{}: array of shape {:?} is neither one input of shape {expected:?} nor a batch [N, {}]",
        path.display(),
        t.shape,
        expected
            .iter()
            .map(|d| d.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    )))
}

/// An image as one item of shape `expected = [C, H, W]`.
fn load_item_image(path: &Path, expected: &[usize], opts: &ImageOptions) -> Result<Tensor<f32>> {
    let &[c, h, w] = expected else {
        return Err(Error::Shape(format!(
            "{}: the model expects inputs of shape {expected:?}, but images give [C, H, W]; pass a .npy file instead",
            path.display()
        )));
    };
    let mut opts = opts.clone();
    match c {
        1 => opts.grayscale = true,
        3 if opts.grayscale => {
            return Err(Error::Shape(format!(
                "{}: the model expects 3 channels but grayscale loading gives 1",
                path.display()
            )))
        }
        3 => {}
        _ => {
            return Err(Error::Shape(format!(
            "{}: the model expects {c} channels but images give 1 or 3; pass a .npy file instead",
            path.display()
        )))
        }
    }
    if opts.size.is_none() {
        let dim = |d: usize| {
            u32::try_from(d).map_err(|_| {
                Error::Shape(format!("input size {expected:?} is too large for an image"))
            })
        };
        opts.size = Some((dim(h)?, dim(w)?));
    }
    let t = load_image(path, &opts)?;
    if t.shape != expected {
        return Err(Error::Shape(format!(
            "{}: image loads as {:?} but the model expects {expected:?}",
            path.display(),
            t.shape
        )));
    }
    Ok(t)
}

#[cfg(test)]
mod tests;
