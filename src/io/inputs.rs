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

/// One input item before it is decoded: an image file, a `.npy` file holding one item, or
/// item `index` of a `.npy` batch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InputItem {
    /// Display name: the file name, or `file.npy[i]` for an item of a batch.
    pub name: String,
    /// The file.
    pub path: PathBuf,
    /// The item of a `.npy` batch, or `None` for a file that is one item.
    pub index: Option<usize>,
}

/// Lists every input named by `paths`, in order, without decoding any: images by name, `.npy`
/// files by their header (one item of shape `expected`, or a batch `[N, ...expected]` listed as
/// N items); folders contribute their images and `.npy` files, sorted by name, not recursively.
///
/// Errors: a missing path, an unknown extension, a `.npy` of another shape, an empty folder.
pub fn list_inputs(paths: &[PathBuf], expected: &[usize]) -> Result<Vec<InputItem>> {
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
                list_file(&file, expected, &mut out)?;
            }
        } else {
            list_file(path, expected, &mut out)?;
        }
    }
    Ok(out)
}

fn list_file(path: &Path, expected: &[usize], out: &mut Vec<InputItem>) -> Result<()> {
    match extension(path).as_deref() {
        Some("npy") => {
            let r = npy::NpyReader::open(path)?;
            let name = file_name(path);
            if r.shape() == expected {
                out.push(InputItem {
                    name,
                    path: path.to_path_buf(),
                    index: None,
                });
                return Ok(());
            }
            if r.shape().len() == expected.len() + 1 && r.shape()[1..] == *expected {
                if r.shape()[0] == 0 {
                    return Err(Error::Shape(format!(
                        "{}: the batch of shape {:?} holds no items",
                        path.display(),
                        r.shape()
                    )));
                }
                out.extend((0..r.shape()[0]).map(|i| InputItem {
                    name: format!("{name}[{i}]"),
                    path: path.to_path_buf(),
                    index: Some(i),
                }));
                return Ok(());
            }
            Err(npy_shape_error(path, r.shape(), expected))
        }
        Some("png" | "jpg" | "jpeg") => {
            out.push(InputItem {
                name: file_name(path),
                path: path.to_path_buf(),
                index: None,
            });
            Ok(())
        }
        other => Err(unknown_type(path, other)),
    }
}

/// Decodes `items` into one batch `[items.len(), ...expected]`; consecutive items of one `.npy`
/// batch are read in one seek. Errors name the file (NaN or infinity included).
pub fn load_items(
    items: &[InputItem],
    expected: &[usize],
    opts: &ImageOptions,
) -> Result<Tensor<f32>> {
    let item: usize = expected.iter().product();
    let mut data = Vec::with_capacity(items.len() * item);
    let mut k = 0;
    while k < items.len() {
        let it = &items[k];
        let t = match it.index {
            Some(start) => {
                let mut count = 1;
                while k + count < items.len()
                    && items[k + count].path == it.path
                    && items[k + count].index == Some(start + count)
                {
                    count += 1;
                }
                k += count;
                npy::NpyReader::open(&it.path)?.read_rows(start, count)?
            }
            None => {
                k += 1;
                match extension(&it.path).as_deref() {
                    Some("npy") => npy::read_f32(&it.path)?,
                    _ => load_item_image(&it.path, expected, opts)?,
                }
            }
        };
        t.check_finite(&it.path.display().to_string())?;
        data.extend_from_slice(&t.data);
    }
    let shape = std::iter::once(items.len())
        .chain(expected.iter().cloned())
        .collect();
    Tensor::new(shape, data)
}

/// Loads every input named by `paths`, in order, as items of shape `expected` (per item,
/// e.g. `[C, H, W]`): [`list_inputs`], then each item decoded.
pub fn load_inputs(
    paths: &[PathBuf],
    expected: &[usize],
    opts: &ImageOptions,
) -> Result<Vec<NamedInput>> {
    let item: usize = expected.iter().product();
    let items = list_inputs(paths, expected)?;
    let mut out = Vec::with_capacity(items.len());
    for chunk in items.chunks(64) {
        let t = load_items(chunk, expected, opts)?;
        for (it, values) in chunk.iter().zip(t.data.chunks(item.max(1))) {
            out.push((
                it.name.clone(),
                Tensor {
                    shape: expected.to_vec(),
                    data: values.to_vec(),
                },
            ));
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

fn unknown_type(path: &Path, ext: Option<&str>) -> Error {
    Error::Invalid(format!(
        "{}: unknown input type {}; expected an image (.png, .jpg, .jpeg), a .npy array, or a folder of them",
        path.display(),
        match ext {
            Some(e) => format!("'.{e}'"),
            None => "(no extension)".to_string(),
        }
    ))
}

fn npy_shape_error(path: &Path, shape: &[usize], expected: &[usize]) -> Error {
    Error::Shape(format!(
        "{}: array of shape {shape:?} is neither one input of shape {expected:?} nor a batch [N, {}]",
        path.display(),
        expected
            .iter()
            .map(|d| d.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    ))
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
