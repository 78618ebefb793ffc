//! NumPy `.npy` files: read format versions 1.0, 2.0 and 3.0, write 1.0.
//!
//! Reading accepts C-order arrays of little-endian `f2`, `f4`, `f8`, `i4`, `i8` and `u1`
//! (plus `i1`). Every malformed file is an [`Error::Npy`] naming it; the header's shape is
//! checked against the bytes present before anything is allocated.

use std::fs;
use std::path::Path;

use crate::error::{Error, Result};
use crate::model::{checked_numel, Tensor};

mod header;

use header::parse_header;

/// The six bytes every `.npy` file starts with.
const MAGIC: &[u8; 6] = b"\x93NUMPY";
/// NumPy aligns the start of the data to this many bytes.
const ALIGN: usize = 64;
/// Headers longer than this are refused (NumPy itself refuses headers over 10 000 bytes
/// unless told otherwise).
const MAX_HEADER: usize = 1 << 20;

/// Element types glimpse reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Dtype {
    F2,
    F4,
    F8,
    I1,
    I4,
    I8,
    U1,
}

impl Dtype {
    fn size(self) -> usize {
        match self {
            Dtype::I1 | Dtype::U1 => 1,
            Dtype::F2 => 2,
            Dtype::F4 | Dtype::I4 => 4,
            Dtype::F8 | Dtype::I8 => 8,
        }
    }

    fn is_float(self) -> bool {
        matches!(self, Dtype::F2 | Dtype::F4 | Dtype::F8)
    }

    /// Parses a NumPy type string such as `<f4` or `|u1`.
    fn parse(descr: &str) -> std::result::Result<Self, String> {
        const SUPPORTED: &str = "<f2, <f4, <f8, <i4, <i8, |u1, |i1";
        let mut chars = descr.chars();
        let order = chars.next().unwrap_or(' ');
        let kind = chars.as_str();
        let dtype = match kind {
            "f2" => Dtype::F2,
            "f4" => Dtype::F4,
            "f8" => Dtype::F8,
            "i1" => Dtype::I1,
            "i4" => Dtype::I4,
            "i8" => Dtype::I8,
            "u1" => Dtype::U1,
            _ => {
                return Err(format!(
                    "unsupported dtype '{descr}' (supported: {SUPPORTED})"
                ))
            }
        };
        match order {
            '<' | '=' => Ok(dtype),
            '|' | '>' if dtype.size() == 1 => Ok(dtype),
            '>' => Err(format!(
                "big-endian dtype '{descr}' is not supported; save it little-endian, e.g. \
                 np.save(path, a.astype(a.dtype.newbyteorder('<')))"
            )),
            _ => Err(format!(
                "unsupported dtype '{descr}' (supported: {SUPPORTED})"
            )),
        }
    }
}

/// A parsed `.npy` file: element type, shape and the raw little-endian data.
struct Raw<'a> {
    dtype: Dtype,
    shape: Vec<usize>,
    data: &'a [u8],
}

/// Reads a `.npy` file as f32, converting f16, f64 and integer types.
pub fn read_f32(path: impl AsRef<Path>) -> Result<Tensor<f32>> {
    let path = path.as_ref();
    let bytes = fs::read(path).map_err(|e| Error::io(path, e))?;
    f32_from_bytes(&bytes, path)
}

/// Reads a `.npy` file of integers (labels) as i64. Float files are accepted when every
/// value is a finite whole number.
pub fn read_i64(path: impl AsRef<Path>) -> Result<Tensor<i64>> {
    let path = path.as_ref();
    let bytes = fs::read(path).map_err(|e| Error::io(path, e))?;
    i64_from_bytes(&bytes, path)
}

/// Writes a tensor as a little-endian f32 `.npy` file (format version 1.0).
pub fn write_f32(path: impl AsRef<Path>, tensor: &Tensor<f32>) -> Result<()> {
    let path = path.as_ref();
    let bytes = f32_to_bytes(tensor)?;
    fs::write(path, bytes).map_err(|e| Error::io(path, e))
}

/// Parses the bytes of a `.npy` file as f32; `origin` names the file in errors.
pub fn f32_from_bytes(bytes: &[u8], origin: &Path) -> Result<Tensor<f32>> {
    raw_to_f32(parse(bytes, origin)?)
}

/// The values of a parsed array as f32.
fn raw_to_f32(raw: Raw) -> Result<Tensor<f32>> {
    let size = raw.dtype.size();
    let chunks = raw.data.chunks_exact(size);
    let data: Vec<f32> = match raw.dtype {
        Dtype::F2 => chunks
            .map(|c| f16_to_f32(u16::from_le_bytes([c[0], c[1]])))
            .collect(),
        Dtype::F4 => chunks
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect(),
        Dtype::F8 => chunks.map(|c| f64::from_le_bytes(arr8(c)) as f32).collect(),
        Dtype::I1 => chunks.map(|c| c[0] as i8 as f32).collect(),
        Dtype::U1 => chunks.map(|c| c[0] as f32).collect(),
        Dtype::I4 => chunks
            .map(|c| i32::from_le_bytes([c[0], c[1], c[2], c[3]]) as f32)
            .collect(),
        Dtype::I8 => chunks.map(|c| i64::from_le_bytes(arr8(c)) as f32).collect(),
    };
    Tensor::new(raw.shape, data)
}

/// Parses the bytes of a `.npy` file as i64; `origin` names the file in errors.
pub fn i64_from_bytes(bytes: &[u8], origin: &Path) -> Result<Tensor<i64>> {
    let raw = parse(bytes, origin)?;
    let data: Vec<i64> = if raw.dtype.is_float() {
        // Anything at or above 2^63 in magnitude does not fit i64 (2^63 is exact in f64).
        const TWO_POW_63: f64 = -(i64::MIN as f64);
        let floats = f32_or_f64_values(&raw);
        let mut out = Vec::with_capacity(floats.len());
        for (i, v) in floats.into_iter().enumerate() {
            if !v.is_finite() || v.fract() != 0.0 || v.abs() >= TWO_POW_63 {
                return Err(npy_err(
                    origin,
                    format!("expected integer labels but value {i} is {v}"),
                ));
            }
            out.push(v as i64);
        }
        out
    } else {
        let chunks = raw.data.chunks_exact(raw.dtype.size());
        match raw.dtype {
            Dtype::I1 => chunks.map(|c| c[0] as i8 as i64).collect(),
            Dtype::U1 => chunks.map(|c| c[0] as i64).collect(),
            Dtype::I4 => chunks
                .map(|c| i32::from_le_bytes([c[0], c[1], c[2], c[3]]) as i64)
                .collect(),
            _ => chunks.map(|c| i64::from_le_bytes(arr8(c))).collect(),
        }
    };
    Tensor::new(raw.shape, data)
}

/// Serialises a tensor as a little-endian f32 `.npy` file (format version 1.0).
pub fn f32_to_bytes(tensor: &Tensor<f32>) -> Result<Vec<u8>> {
    let n = checked_numel(&tensor.shape)?;
    if n != tensor.data.len() {
        return Err(Error::Shape(format!(
            "shape {:?} holds {n} values but the tensor has {}",
            tensor.shape,
            tensor.data.len()
        )));
    }
    let shape = match tensor.shape.as_slice() {
        [] => "()".to_string(),
        [d] => format!("({d},)"),
        dims => {
            let parts: Vec<String> = dims.iter().map(|d| d.to_string()).collect();
            format!("({})", parts.join(", "))
        }
    };
    let mut header = format!("{{'descr': '<f4', 'fortran_order': False, 'shape': {shape}, }}");
    let prefix = MAGIC.len() + 4;
    let pad = (ALIGN - (prefix + header.len() + 1) % ALIGN) % ALIGN;
    header.extend(std::iter::repeat_n(' ', pad));
    header.push('\n');
    let header_len = u16::try_from(header.len()).map_err(|_| {
        Error::Shape(format!(
            "shape with {} dimensions is too long for a .npy header",
            tensor.shape.len()
        ))
    })?;

    let mut out = Vec::with_capacity(prefix + header.len() + 4 * n);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&[1, 0]);
    out.extend_from_slice(&header_len.to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    for v in &tensor.data {
        out.extend_from_slice(&v.to_le_bytes());
    }
    Ok(out)
}

fn npy_err(origin: &Path, message: impl Into<String>) -> Error {
    Error::Npy {
        path: origin.to_path_buf(),
        message: message.into(),
    }
}

fn arr8(c: &[u8]) -> [u8; 8] {
    [c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]
}

/// Float values of a float-typed array in f64 (f16 and f32 widen exactly).
fn f32_or_f64_values(raw: &Raw) -> Vec<f64> {
    let chunks = raw.data.chunks_exact(raw.dtype.size());
    match raw.dtype {
        Dtype::F2 => chunks
            .map(|c| f16_to_f32(u16::from_le_bytes([c[0], c[1]])) as f64)
            .collect(),
        Dtype::F4 => chunks
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]) as f64)
            .collect(),
        _ => chunks.map(|c| f64::from_le_bytes(arr8(c))).collect(),
    }
}

/// IEEE half precision to single precision (exact).
fn f16_to_f32(h: u16) -> f32 {
    let sign = if h & 0x8000 != 0 { -1.0f32 } else { 1.0 };
    let exp = (h >> 10) & 0x1f;
    let mant = (h & 0x3ff) as f32;
    match exp {
        0 => sign * mant * (2.0f32).powi(-24),
        31 if mant == 0.0 => sign * f32::INFINITY,
        31 => f32::NAN,
        e => sign * (1.0 + mant / 1024.0) * (2.0f32).powi(e as i32 - 15),
    }
}

/// Splits a `.npy` file into dtype, shape and data, validating everything.
fn parse<'a>(bytes: &'a [u8], origin: &Path) -> Result<Raw<'a>> {
    let head = parse_head(bytes, bytes.len() as u64, origin)?;
    Ok(Raw {
        dtype: head.dtype,
        shape: head.shape,
        data: &bytes[head.data_start..],
    })
}

/// The header of a `.npy` file: element type, shape, where the data starts.
struct Head {
    dtype: Dtype,
    shape: Vec<usize>,
    data_start: usize,
}

/// Parses the prefix and header from the file's first bytes (`bytes`, at least the whole header
/// when the file has one) and checks that the file's `total` length holds exactly the data.
fn parse_head(bytes: &[u8], total: u64, origin: &Path) -> Result<Head> {
    let err = |m: String| npy_err(origin, m);
    if bytes.len() < 10 || &bytes[..6] != MAGIC {
        return Err(err("not a .npy file (missing the \\x93NUMPY magic)".into()));
    }
    let (major, minor) = (bytes[6], bytes[7]);
    let (header_len, start) = match (major, minor) {
        (1, 0) => (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10),
        (2, 0) | (3, 0) => {
            if bytes.len() < 12 {
                return Err(err("truncated header length".into()));
            }
            let len = u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]);
            (len as usize, 12)
        }
        _ => {
            return Err(err(format!(
                "unsupported format version {major}.{minor} (supported: 1.0, 2.0, 3.0)"
            )))
        }
    };
    if header_len > MAX_HEADER {
        return Err(err(format!(
            "header length {header_len} is absurd (limit {MAX_HEADER})"
        )));
    }
    let end = start + header_len;
    if bytes.len() < end {
        return Err(err(format!(
            "truncated: header claims {header_len} bytes but the file has {} after the prefix",
            total.saturating_sub(start as u64)
        )));
    }
    let header = std::str::from_utf8(&bytes[start..end])
        .map_err(|e| err(format!("header is not valid UTF-8: {e}")))?;
    let (descr, fortran, shape) = parse_header(header).map_err(err)?;
    if fortran {
        return Err(err(
            "Fortran-order arrays are not supported; save a C-order copy with \
             np.save(path, np.ascontiguousarray(a))"
                .into(),
        ));
    }
    let dtype = Dtype::parse(&descr).map_err(err)?;
    let numel = checked_numel(&shape).map_err(|_| err(format!("shape {shape:?} overflows")))?;
    let need = numel
        .checked_mul(dtype.size())
        .ok_or_else(|| err(format!("shape {shape:?} overflows")))? as u64;
    let present = total.saturating_sub(end as u64);
    if present < need {
        return Err(err(format!(
            "truncated: shape {shape:?} of {descr} needs {need} bytes of data but only {present} are present"
        )));
    }
    if present > need {
        return Err(err(format!(
            "{} trailing bytes after the {need} bytes of data that shape {shape:?} of {descr} needs",
            present - need
        )));
    }
    Ok(Head {
        dtype,
        shape,
        data_start: end,
    })
}

/// A `.npy` file opened for reading parts of it: its header is read and checked, its data
/// read on demand (a batch of many items is never held whole).
pub struct NpyReader {
    path: std::path::PathBuf,
    dtype: Dtype,
    shape: Vec<usize>,
    data_start: u64,
}

impl NpyReader {
    /// Opens `path`, reading only its header.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        use std::io::Read;
        let path = path.as_ref();
        let file = fs::File::open(path).map_err(|e| Error::io(path, e))?;
        let total = file.metadata().map_err(|e| Error::io(path, e))?.len();
        let mut first = Vec::new();
        file.take((12 + MAX_HEADER) as u64)
            .read_to_end(&mut first)
            .map_err(|e| Error::io(path, e))?;
        let head = parse_head(&first, total, path)?;
        Ok(NpyReader {
            path: path.to_path_buf(),
            dtype: head.dtype,
            shape: head.shape,
            data_start: head.data_start as u64,
        })
    }

    /// The array's shape.
    pub fn shape(&self) -> &[usize] {
        &self.shape
    }

    /// Rows `start..start + count` along the first dimension, as f32 `[count, ...rest]`.
    pub fn read_rows(&self, start: usize, count: usize) -> Result<Tensor<f32>> {
        use std::io::{Read, Seek, SeekFrom};
        let rows = self.shape.first().copied().unwrap_or(1);
        if start + count > rows {
            return Err(npy_err(
                &self.path,
                format!("rows {start}..{} of an array of {rows}", start + count),
            ));
        }
        let row: usize = self.shape.iter().skip(1).product();
        let size = self.dtype.size();
        let mut file = fs::File::open(&self.path).map_err(|e| Error::io(&self.path, e))?;
        file.seek(SeekFrom::Start(
            self.data_start + (start * row * size) as u64,
        ))
        .map_err(|e| Error::io(&self.path, e))?;
        let mut bytes = vec![0u8; count * row * size];
        file.read_exact(&mut bytes)
            .map_err(|e| Error::io(&self.path, e))?;
        let mut shape = self.shape.clone();
        if shape.is_empty() {
            shape.push(1);
        }
        shape[0] = count;
        let raw = Raw {
            dtype: self.dtype,
            shape,
            data: &bytes,
        };
        raw_to_f32(raw)
    }
}

#[cfg(test)]
mod tests;
