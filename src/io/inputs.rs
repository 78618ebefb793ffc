//! Model inputs from the command line: images, `.npy` arrays and folders of either, each
//! turned into named `[C, H, W]` items of the shape the model expects.

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
    /// Display name: the file's path relative to the root it was found under (a folder given
    /// on the command line, a list file's folder, or the file's own folder), with `/`
    /// separators and the extension kept, and `[i]` appended for item `i` of a batch.
    pub name: String,
    /// The file.
    pub path: PathBuf,
    /// The item of a `.npy` batch, or `None` for a file that is one item.
    pub index: Option<usize>,
}

impl InputItem {
    /// The stem every output file of this item starts with, relative to an output folder:
    /// the display name, `[i]` written `_i` (`a/x.png`, `digits.npy_3`).
    pub fn output_stem(&self) -> String {
        match self.index {
            Some(i) => format!(
                "{}_{i}",
                self.name
                    .strip_suffix(&format!("[{i}]"))
                    .unwrap_or(&self.name)
            ),
            None => self.name.clone(),
        }
    }
}

/// Lists every input named by `paths`, in order, without decoding any: images by name, `.npy`
/// files by their header (one item of shape `expected`, or a batch `[N, ...expected]` listed as
/// N items); folders contribute the images and `.npy` files anywhere below them (hidden files
/// and folders skipped, symbolic links to folders not followed), sorted by relative path; a
/// `.txt` file is a list of input files, one path per line relative to the list's folder
/// (blank lines and lines starting with `#` skipped).
///
/// Errors: a missing path, an unknown extension, a `.npy` of another shape, a folder without
/// inputs, a list entry that leaves the list's folder, two inputs with one output stem.
pub fn list_inputs(paths: &[PathBuf], expected: &[usize]) -> Result<Vec<InputItem>> {
    let mut out = Vec::new();
    for path in paths {
        for (file, name) in walk::files(path)? {
            list_file(&file, name, expected, &mut out)?;
        }
    }
    walk::check_unique_stems(&out)?;
    Ok(out)
}

fn list_file(
    path: &Path,
    name: String,
    expected: &[usize],
    out: &mut Vec<InputItem>,
) -> Result<()> {
    match extension(path).as_deref() {
        Some("npy") => {
            let r = npy::NpyReader::open(path)?;
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
                name,
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
    for values in decode_each(items, expected, opts) {
        data.extend_from_slice(&values?);
    }
    let shape = std::iter::once(items.len())
        .chain(expected.iter().cloned())
        .collect();
    Tensor::new(shape, data)
}

/// Decodes each of `items` on its own: its values (shape `expected`) or why it cannot be
/// used, so that a batch run can record a corrupt file and go on. Consecutive items of one
/// `.npy` batch are read in one seek (if that read fails, each of them fails with its reason).
pub fn decode_each(
    items: &[InputItem],
    expected: &[usize],
    opts: &ImageOptions,
) -> Vec<Result<Vec<f32>>> {
    let size: usize = expected.iter().product();
    let finite = |it: &InputItem, values: Vec<f32>| -> Result<Vec<f32>> {
        let t = Tensor::new(expected.to_vec(), values)?;
        let what = match it.index {
            Some(i) => format!("{}[{i}]", it.path.display()),
            None => it.path.display().to_string(),
        };
        t.check_finite(&what)?;
        Ok(t.data)
    };
    let mut out = Vec::with_capacity(items.len());
    let mut k = 0;
    while k < items.len() {
        let it = &items[k];
        match it.index {
            Some(start) => {
                let mut count = 1;
                while k + count < items.len()
                    && items[k + count].path == it.path
                    && items[k + count].index == Some(start + count)
                {
                    count += 1;
                }
                match npy::NpyReader::open(&it.path).and_then(|r| r.read_rows(start, count)) {
                    Ok(t) => {
                        for (row, values) in
                            items[k..k + count].iter().zip(t.data.chunks(size.max(1)))
                        {
                            out.push(finite(row, values.to_vec()));
                        }
                    }
                    Err(e) => {
                        let reason = e.to_string();
                        out.push(Err(e));
                        out.extend((1..count).map(|_| Err(Error::Invalid(reason.clone()))));
                    }
                }
                k += count;
            }
            None => {
                k += 1;
                let t = match extension(&it.path).as_deref() {
                    Some("npy") => npy::read_f32(&it.path).and_then(|t| {
                        if t.shape == expected {
                            Ok(t)
                        } else {
                            Err(npy_shape_error(&it.path, &t.shape, expected))
                        }
                    }),
                    _ => load_item_image(&it.path, expected, opts),
                };
                out.push(t.and_then(|t| finite(it, t.data)));
            }
        }
    }
    out
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

/// The lower-case extension of `path`, if any.
pub(crate) fn extension(path: &Path) -> Option<String> {
    path.extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
}

pub(crate) fn unknown_type(path: &Path, ext: Option<&str>) -> Error {
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
mod walk;
