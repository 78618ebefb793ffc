//! Reading and writing `.expert` files (the format is documented in the module above).

use std::fs;
use std::path::Path;

use serde_json::{json, Value};

use super::{Covariance, Expert, Grbm, Mixture, SigmaMode};
use crate::error::{Error, Result};

/// The file's first eight bytes.
pub const MAGIC: &[u8; 8] = b"GLEXPERT";
/// The `format` field.
pub const FORMAT: &str = "glimpse-expert";
/// The version written and the only one read.
pub const VERSION: u64 = 1;

/// An array as written: its name, shape and values.
type Listed<'a> = (&'static str, Vec<usize>, &'a [f32]);

impl Expert {
    /// The file's bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let (mut header, arrays): (Value, Vec<Listed>) = match self {
            Expert::Gaussian(m) | Expert::Mixture(m) => {
                let (k, d) = (m.components(), m.dim);
                let pshape = match m.covariance {
                    Covariance::Full => vec![k, d, d],
                    Covariance::Diagonal => vec![k, d],
                };
                let kind = if matches!(self, Expert::Gaussian(_)) {
                    "gaussian"
                } else {
                    "gmm"
                };
                (
                    json!({"kind": kind, "covariance": m.covariance.name(), "components": k}),
                    vec![
                        ("log_weights", vec![k], &m.log_weights[..]),
                        ("means", vec![k, d], &m.means[..]),
                        ("precisions", pshape, &m.precisions[..]),
                        ("log_det_precisions", vec![k], &m.log_det_precisions[..]),
                    ],
                )
            }
            Expert::Grbm(g) => {
                let (d, h) = (g.dim, g.hidden);
                (
                    json!({"kind": "grbm", "hidden": h, "sigma": g.sigma_mode.name(),
                           "log_partition": g.log_partition}),
                    vec![
                        ("weights", vec![d, h], &g.weights[..]),
                        ("visible_bias", vec![d], &g.visible_bias[..]),
                        ("hidden_bias", vec![h], &g.hidden_bias[..]),
                        ("sigma", vec![d], &g.sigma[..]),
                    ],
                )
            }
        };
        header["format"] = FORMAT.into();
        header["version"] = VERSION.into();
        header["dim"] = self.dim().into();
        header["arrays"] = arrays
            .iter()
            .map(|(name, shape, _)| json!({"name": name, "shape": shape}))
            .collect();
        let text = header.to_string();
        let values: usize = arrays.iter().map(|a| a.2.len()).sum();
        let mut out = Vec::with_capacity(12 + text.len() + 4 * values);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&(text.len() as u32).to_le_bytes());
        out.extend_from_slice(text.as_bytes());
        for (_, _, data) in &arrays {
            for v in data.iter() {
                out.extend_from_slice(&v.to_le_bytes());
            }
        }
        out
    }

    /// Writes the expert to `path` (through a temporary file beside it, renamed into place).
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        let tmp = path.with_extension("expert.partial");
        fs::write(&tmp, self.to_bytes()).map_err(|e| Error::io(&tmp, e))?;
        fs::rename(&tmp, path).map_err(|e| Error::io(path, e))
    }

    /// Reads an expert written by [`Expert::save`].
    pub fn load(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let bytes = fs::read(path).map_err(|e| Error::io(path, e))?;
        Self::from_bytes(&bytes).map_err(|m| {
            Error::Invalid(format!(
                "{} is not a valid .expert file: {m}",
                path.display()
            ))
        })
    }

    /// Parses a file's bytes; the error says what is wrong.
    pub fn from_bytes(bytes: &[u8]) -> std::result::Result<Self, String> {
        if bytes.len() < 12 || &bytes[..8] != MAGIC {
            return Err("it does not start with the magic bytes \"GLEXPERT\"".into());
        }
        let n = u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize;
        let text = bytes.get(12..12 + n).ok_or_else(|| {
            format!("truncated: the header claims {n} bytes but the file ends first")
        })?;
        let h: Value = serde_json::from_slice(text).map_err(|e| format!("bad JSON header: {e}"))?;
        let str_field = |k: &str| {
            h.get(k)
                .and_then(Value::as_str)
                .ok_or_else(|| format!("the header has no string field '{k}'"))
        };
        let int_field = |k: &str| {
            h.get(k)
                .and_then(Value::as_u64)
                .map(|v| v as usize)
                .ok_or_else(|| format!("the header has no integer field '{k}'"))
        };
        if str_field("format")? != FORMAT {
            return Err(format!("format is not '{FORMAT}'"));
        }
        let version = int_field("version")? as u64;
        if version != VERSION {
            return Err(format!(
                "version {version} is not supported (only {VERSION})"
            ));
        }
        let dim = int_field("dim")?;
        if dim == 0 {
            return Err("dim is 0".into());
        }
        let mut arrays = Arrays::parse(&h, &bytes[12 + n..])?;
        let kind = str_field("kind")?;
        match kind {
            "gaussian" | "gmm" => {
                let k = int_field("components")?;
                let covariance = match str_field("covariance")? {
                    "full" => Covariance::Full,
                    "diagonal" => Covariance::Diagonal,
                    other => return Err(format!("unknown covariance '{other}' (full, diagonal)")),
                };
                if k == 0 || (kind == "gaussian" && k != 1) {
                    return Err(format!("a {kind} cannot have {k} components"));
                }
                let pshape = match covariance {
                    Covariance::Full => vec![k, dim, dim],
                    Covariance::Diagonal => vec![k, dim],
                };
                let m = Mixture {
                    dim,
                    covariance,
                    log_weights: arrays.take("log_weights", &[k])?,
                    means: arrays.take("means", &[k, dim])?,
                    precisions: arrays.take("precisions", &pshape)?,
                    log_det_precisions: arrays.take("log_det_precisions", &[k])?,
                };
                arrays.done()?;
                Ok(if kind == "gaussian" {
                    Expert::Gaussian(m)
                } else {
                    Expert::Mixture(m)
                })
            }
            "grbm" => {
                let hidden = int_field("hidden")?;
                let sigma_mode = match str_field("sigma")? {
                    "fixed" => SigmaMode::Fixed,
                    "learned" => SigmaMode::Learned,
                    other => return Err(format!("unknown sigma '{other}' (fixed, learned)")),
                };
                let log_partition = h
                    .get("log_partition")
                    .and_then(Value::as_f64)
                    .ok_or("the header has no number 'log_partition'")?;
                let g = Grbm {
                    dim,
                    hidden,
                    sigma_mode,
                    weights: arrays.take("weights", &[dim, hidden])?,
                    visible_bias: arrays.take("visible_bias", &[dim])?,
                    hidden_bias: arrays.take("hidden_bias", &[hidden])?,
                    sigma: arrays.take("sigma", &[dim])?,
                    log_partition,
                };
                arrays.done()?;
                if g.sigma.iter().any(|&s| s <= 0.0) {
                    return Err("sigma has a value ≤ 0".into());
                }
                Ok(Expert::Grbm(g))
            }
            other => Err(format!("unknown kind '{other}' (gaussian, gmm, grbm)")),
        }
    }
}

/// The arrays a header lists, sliced from the payload in order.
struct Arrays {
    list: Vec<(String, Vec<usize>, Vec<f32>)>,
    next: usize,
}

impl Arrays {
    fn parse(h: &Value, payload: &[u8]) -> std::result::Result<Self, String> {
        let specs = h
            .get("arrays")
            .and_then(Value::as_array)
            .ok_or("the header has no list 'arrays'")?;
        let mut list = Vec::new();
        let mut at = 0usize;
        for s in specs {
            let name = s
                .get("name")
                .and_then(Value::as_str)
                .ok_or("an array has no name")?;
            let shape: Vec<usize> = s
                .get("shape")
                .and_then(Value::as_array)
                .and_then(|a| a.iter().map(|v| v.as_u64().map(|u| u as usize)).collect())
                .ok_or_else(|| format!("array '{name}' has no shape of integers"))?;
            let count = shape
                .iter()
                .try_fold(1usize, |a, &b| a.checked_mul(b))
                .ok_or_else(|| format!("array '{name}' is too large"))?;
            let end = count
                .checked_mul(4)
                .and_then(|b| b.checked_add(at))
                .ok_or_else(|| format!("array '{name}' is too large"))?;
            let raw = payload.get(at..end).ok_or_else(|| {
                format!(
                    "truncated: array '{name}' {shape:?} needs bytes {at}..{end} of the data but it has {}",
                    payload.len()
                )
            })?;
            let data: Vec<f32> = raw
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect();
            if let Some(i) = data.iter().position(|v| !v.is_finite()) {
                return Err(format!(
                    "array '{name}' has a non-finite value at index {i}"
                ));
            }
            list.push((name.to_string(), shape, data));
            at = end;
        }
        if at != payload.len() {
            return Err(format!(
                "{} bytes follow the last array (expected {at} bytes of data)",
                payload.len() - at
            ));
        }
        Ok(Arrays { list, next: 0 })
    }

    /// The next array, which must be `name` of `shape`.
    fn take(&mut self, name: &str, shape: &[usize]) -> std::result::Result<Vec<f32>, String> {
        let (got, s, data) = self
            .list
            .get_mut(self.next)
            .ok_or_else(|| format!("array '{name}' is missing"))?;
        if got != name {
            return Err(format!("expected array '{name}' but found '{got}'"));
        }
        if s != shape {
            return Err(format!(
                "array '{name}' has shape {s:?}; the header's sizes need {shape:?}"
            ));
        }
        self.next += 1;
        Ok(std::mem::take(data))
    }

    fn done(&self) -> std::result::Result<(), String> {
        match self.list.get(self.next) {
            Some((name, ..)) => Err(format!("unexpected array '{name}'")),
            None => Ok(()),
        }
    }
}
