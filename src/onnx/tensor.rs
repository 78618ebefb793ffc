//! `TensorProto` → host values: f32 weights, and i64 vectors for shapes and axes.
//!
//! Every size read from the file is checked against the bytes actually present before
//! anything is allocated, so a hostile `dims` or external-data `length` cannot make the
//! importer allocate memory the file does not back.

use std::borrow::Cow;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Component, Path, PathBuf};

use super::proto::{DataLocation, DataType, TensorProto};
use crate::error::{Error, Result};
use crate::model::{checked_numel, Tensor};

/// Most values one constant tensor may hold (2^31).
pub const MAX_TENSOR_VALUES: usize = 1 << 31;

/// A float tensor: `FLOAT` or `DOUBLE` (converted to f32).
pub fn to_f32(t: &TensorProto, base_dir: Option<&Path>) -> Result<Tensor<f32>> {
    let shape = dims(t)?;
    let n = numel(t, &shape)?;
    let data = match data_type(t) {
        DataType::Float => match payload(t, n, 4, base_dir)? {
            Payload::Bytes(b) => b
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect(),
            Payload::Typed => typed(t, &t.float_data, n, "float_data")?.to_vec(),
        },
        DataType::Double => match payload(t, n, 8, base_dir)? {
            Payload::Bytes(b) => b
                .chunks_exact(8)
                .map(|c| f64::from_le_bytes(c.try_into().expect("chunk of 8")) as f32)
                .collect(),
            Payload::Typed => typed(t, &t.double_data, n, "double_data")?
                .iter()
                .map(|&v| v as f32)
                .collect(),
        },
        other => {
            return Err(Error::Onnx(format!(
                "tensor '{}' has element type {other:?}; a float tensor (FLOAT or DOUBLE) is needed here",
                t.name
            )))
        }
    };
    Tensor::new(shape, data)
}

/// An integer tensor (`INT64` or `INT32`) as its shape and i64 values, for shapes and axes.
pub fn to_i64(t: &TensorProto, base_dir: Option<&Path>) -> Result<(Vec<usize>, Vec<i64>)> {
    let shape = dims(t)?;
    let n = numel(t, &shape)?;
    let data = match data_type(t) {
        DataType::Int64 => match payload(t, n, 8, base_dir)? {
            Payload::Bytes(b) => b
                .chunks_exact(8)
                .map(|c| i64::from_le_bytes(c.try_into().expect("chunk of 8")))
                .collect(),
            Payload::Typed => typed(t, &t.int64_data, n, "int64_data")?.to_vec(),
        },
        DataType::Int32 => match payload(t, n, 4, base_dir)? {
            Payload::Bytes(b) => b
                .chunks_exact(4)
                .map(|c| i32::from_le_bytes([c[0], c[1], c[2], c[3]]) as i64)
                .collect(),
            Payload::Typed => typed(t, &t.int32_data, n, "int32_data")?
                .iter()
                .map(|&v| v as i64)
                .collect(),
        },
        other => {
            return Err(Error::Onnx(format!(
                "tensor '{}' has element type {other:?}; an integer tensor (INT64 or INT32) is needed here",
                t.name
            )))
        }
    };
    Ok((shape, data))
}

fn data_type(t: &TensorProto) -> DataType {
    DataType::try_from(t.data_type).unwrap_or(DataType::Undefined)
}

/// The tensor's dimensions, each non-negative.
fn dims(t: &TensorProto) -> Result<Vec<usize>> {
    t.dims
        .iter()
        .map(|&d| {
            usize::try_from(d).map_err(|_| {
                Error::Onnx(format!(
                    "tensor '{}' has a negative dimension in {:?}",
                    t.name, t.dims
                ))
            })
        })
        .collect()
}

/// Number of values, refusing overflow and anything above [`MAX_TENSOR_VALUES`].
fn numel(t: &TensorProto, shape: &[usize]) -> Result<usize> {
    match checked_numel(shape) {
        Ok(n) if n <= MAX_TENSOR_VALUES => Ok(n),
        _ => Err(Error::Onnx(format!(
            "tensor '{}' has absurd dimensions {:?} (more than {MAX_TENSOR_VALUES} values)",
            t.name, t.dims
        ))),
    }
}

/// Where a tensor's values are: little-endian bytes (raw or external), or the typed field.
enum Payload<'a> {
    Bytes(Cow<'a, [u8]>),
    Typed,
}

/// Finds the bytes of a tensor of `n` values of `size` bytes each, checking their length.
fn payload<'a>(
    t: &'a TensorProto,
    n: usize,
    size: usize,
    base_dir: Option<&Path>,
) -> Result<Payload<'a>> {
    // n ≤ 2^31 and size ≤ 8, so this cannot overflow.
    let need = n * size;
    if t.data_location == DataLocation::External as i32 {
        return Ok(Payload::Bytes(Cow::Owned(read_external(
            t, need, base_dir,
        )?)));
    }
    if t.data_location != DataLocation::Default as i32 {
        return Err(Error::Onnx(format!(
            "tensor '{}' has an unknown data_location {}",
            t.name, t.data_location
        )));
    }
    if t.raw_data.is_empty() {
        return Ok(Payload::Typed);
    }
    if t.raw_data.len() != need {
        return Err(Error::Onnx(format!(
            "tensor '{}': raw_data holds {} bytes but shape {:?} of {:?} needs {need}",
            t.name,
            t.raw_data.len(),
            t.dims,
            data_type(t)
        )));
    }
    Ok(Payload::Bytes(Cow::Borrowed(&t.raw_data)))
}

/// The typed field, after checking it holds exactly `n` values.
fn typed<'a, T>(t: &TensorProto, field: &'a [T], n: usize, what: &str) -> Result<&'a [T]> {
    if field.len() != n {
        return Err(Error::Onnx(format!(
            "tensor '{}': {what} holds {} values but shape {:?} needs {n}",
            t.name,
            field.len(),
            t.dims
        )));
    }
    Ok(field)
}

/// Reads `need` bytes of external data, after checking the path and the file's size.
fn read_external(t: &TensorProto, need: usize, base_dir: Option<&Path>) -> Result<Vec<u8>> {
    let mut location = None;
    let mut offset = 0u64;
    let mut length = None;
    for e in &t.external_data {
        let num = |v: &str| {
            v.parse::<u64>().map_err(|_| {
                Error::Onnx(format!(
                    "tensor '{}': external data {} '{v}' is not a non-negative integer",
                    t.name, e.key
                ))
            })
        };
        match e.key.as_str() {
            "location" => location = Some(e.value.as_str()),
            "offset" => offset = num(&e.value)?,
            "length" => length = Some(num(&e.value)?),
            _ => {}
        }
    }
    let location = location.ok_or_else(|| {
        Error::Onnx(format!(
            "tensor '{}' has external data without a location",
            t.name
        ))
    })?;
    let base = base_dir.ok_or_else(|| {
        Error::Onnx(format!(
            "tensor '{}' keeps its data in external file '{location}', but the model was not loaded from a file (no base directory)",
            t.name
        ))
    })?;
    let path = external_path(base, location).map_err(|why| {
        Error::Onnx(format!(
            "tensor '{}': external data location '{location}' {why}",
            t.name
        ))
    })?;
    if let Some(len) = length {
        if len != need as u64 {
            return Err(Error::Onnx(format!(
                "tensor '{}': external data length {len} does not match shape {:?}, which needs {need} bytes",
                t.name, t.dims
            )));
        }
    }
    let mut file = File::open(&path).map_err(|e| Error::io(&path, e))?;
    // The file must stay inside the model's directory after resolving links, too.
    let real = path.canonicalize().map_err(|e| Error::io(&path, e))?;
    let real_base = base.canonicalize().map_err(|e| Error::io(base, e))?;
    if !real.starts_with(&real_base) {
        return Err(Error::Onnx(format!(
            "tensor '{}': external data file '{}' resolves outside the model's directory '{}'",
            t.name,
            real.display(),
            real_base.display()
        )));
    }
    let file_len = file.metadata().map_err(|e| Error::io(&path, e))?.len();
    let end = offset.checked_add(need as u64);
    if end.is_none_or(|end| end > file_len) {
        return Err(Error::Onnx(format!(
            "tensor '{}': external data needs {need} bytes at offset {offset} of '{}', which holds only {file_len}",
            t.name,
            path.display()
        )));
    }
    file.seek(SeekFrom::Start(offset))
        .map_err(|e| Error::io(&path, e))?;
    let mut buf = vec![0u8; need];
    file.read_exact(&mut buf).map_err(|e| Error::io(&path, e))?;
    Ok(buf)
}

/// `base/location`, refusing absolute paths and any `..` (the file must stay under `base`).
fn external_path(base: &Path, location: &str) -> std::result::Result<PathBuf, &'static str> {
    let rel = Path::new(location);
    if location.is_empty() {
        return Err("is empty");
    }
    for c in rel.components() {
        match c {
            Component::Normal(_) | Component::CurDir => {}
            Component::ParentDir => return Err("leaves the model's directory ('..')"),
            Component::RootDir | Component::Prefix(_) => {
                return Err("is absolute; it must be relative to the model's directory")
            }
        }
    }
    Ok(base.join(rel))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::onnx::proto::StringStringEntryProto;

    fn float_tensor(dims: &[i64], raw: Vec<u8>) -> TensorProto {
        TensorProto {
            name: "w".into(),
            dims: dims.to_vec(),
            data_type: DataType::Float as i32,
            raw_data: raw,
            ..Default::default()
        }
    }

    fn le(v: &[f32]) -> Vec<u8> {
        v.iter().flat_map(|x| x.to_le_bytes()).collect()
    }

    #[test]
    fn raw_and_typed_floats() {
        let t = float_tensor(&[2, 2], le(&[1.0, -2.0, 3.5, 4.0]));
        let v = to_f32(&t, None).unwrap();
        assert_eq!(v.shape, vec![2, 2]);
        assert_eq!(v.data, vec![1.0, -2.0, 3.5, 4.0]);
        let t = TensorProto {
            float_data: vec![0.5, 1.5],
            ..float_tensor(&[2], vec![])
        };
        assert_eq!(to_f32(&t, None).unwrap().data, vec![0.5, 1.5]);
        let t = TensorProto {
            data_type: DataType::Double as i32,
            double_data: vec![0.25],
            ..float_tensor(&[], vec![])
        };
        let v = to_f32(&t, None).unwrap();
        assert_eq!((v.shape.len(), v.data[0]), (0, 0.25));
    }

    #[test]
    fn integers_from_raw_and_typed() {
        let t = TensorProto {
            data_type: DataType::Int64 as i32,
            dims: vec![2],
            raw_data: [-1i64, 4].iter().flat_map(|v| v.to_le_bytes()).collect(),
            ..Default::default()
        };
        assert_eq!(to_i64(&t, None).unwrap(), (vec![2], vec![-1, 4]));
        let t = TensorProto {
            data_type: DataType::Int32 as i32,
            dims: vec![3],
            int32_data: vec![2, 3, -7],
            ..Default::default()
        };
        assert_eq!(to_i64(&t, None).unwrap().1, vec![2, 3, -7]);
        assert!(to_f32(&t, None).is_err());
    }

    #[test]
    fn wrong_sizes_error() {
        let t = float_tensor(&[3], le(&[1.0, 2.0]));
        let e = to_f32(&t, None).unwrap_err().to_string();
        assert!(
            e.contains("raw_data holds 8 bytes") && e.contains("needs 12"),
            "{e}"
        );
        let t = TensorProto {
            float_data: vec![1.0],
            ..float_tensor(&[2], vec![])
        };
        assert!(to_f32(&t, None).is_err());
        let t = float_tensor(&[1 << 40], le(&[1.0]));
        let e = to_f32(&t, None).unwrap_err().to_string();
        assert!(e.contains("absurd"), "{e}");
        let t = float_tensor(&[1 << 31, 1 << 31, 1 << 31], vec![]);
        assert!(to_f32(&t, None).is_err());
        let t = float_tensor(&[-2], vec![]);
        assert!(to_f32(&t, None)
            .unwrap_err()
            .to_string()
            .contains("negative"));
    }

    fn external(location: &str, offset: Option<u64>, length: Option<u64>) -> TensorProto {
        let mut entries = vec![StringStringEntryProto {
            key: "location".into(),
            value: location.into(),
        }];
        if let Some(o) = offset {
            entries.push(StringStringEntryProto {
                key: "offset".into(),
                value: o.to_string(),
            });
        }
        if let Some(l) = length {
            entries.push(StringStringEntryProto {
                key: "length".into(),
                value: l.to_string(),
            });
        }
        TensorProto {
            data_location: DataLocation::External as i32,
            external_data: entries,
            ..float_tensor(&[2], vec![])
        }
    }

    #[test]
    fn external_data() {
        let dir = std::env::temp_dir().join(format!("glimpse_onnx_ext_{}", std::process::id()));
        std::fs::create_dir_all(dir.join("sub")).unwrap();
        let mut bytes = vec![0u8; 4];
        bytes.extend(le(&[7.0, 8.0]));
        std::fs::write(dir.join("sub/w.bin"), &bytes).unwrap();

        let t = external("sub/w.bin", Some(4), Some(8));
        assert_eq!(to_f32(&t, Some(&dir)).unwrap().data, vec![7.0, 8.0]);
        // Wrong length, past the end, missing file, escaping paths, no base directory.
        assert!(to_f32(&external("sub/w.bin", Some(4), Some(12)), Some(&dir)).is_err());
        let e = to_f32(&external("sub/w.bin", Some(8), None), Some(&dir))
            .unwrap_err()
            .to_string();
        assert!(e.contains("holds only 12"), "{e}");
        let e = to_f32(&external("missing.bin", None, None), Some(&dir)).unwrap_err();
        assert!(
            matches!(&e, Error::Io { path, .. } if path.ends_with("missing.bin")),
            "{e}"
        );
        let e = to_f32(&external("../w.bin", None, None), Some(&dir))
            .unwrap_err()
            .to_string();
        assert!(e.contains("'..'"), "{e}");
        let e = to_f32(&external("/etc/passwd", None, None), Some(&dir))
            .unwrap_err()
            .to_string();
        assert!(e.contains("absolute"), "{e}");
        assert!(to_f32(&external("sub/w.bin", Some(4), None), None).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
