//! Node attributes: typed readers, 2-D window pairs and padding.

use crate::error::{Error, Result};
use crate::onnx::proto::{AttributeProto, AttributeType, NodeProto};

/// Largest kernel size, stride, dilation, pad or group count accepted from a file; far
/// beyond real models, it keeps window arithmetic from overflowing on hostile values.
pub(crate) const MAX_WINDOW: i64 = 1 << 24;

pub(crate) fn attr<'a>(n: &'a NodeProto, key: &str) -> Option<&'a AttributeProto> {
    n.attribute.iter().find(|a| a.name == key)
}

/// Fails unless the attribute's declared type is `want` (or undeclared, as in IR version 1).
fn check_type(a: &AttributeProto, name: &str, want: AttributeType) -> Result<()> {
    if a.r#type == want as i32 || a.r#type == AttributeType::Undefined as i32 {
        Ok(())
    } else {
        let got = AttributeType::try_from(a.r#type).unwrap_or(AttributeType::Undefined);
        Err(Error::Onnx(format!(
            "node '{name}': attribute '{}' should be {want:?}, is {got:?}",
            a.name
        )))
    }
}

pub(crate) fn attr_i(n: &NodeProto, name: &str, key: &str, default: i64) -> Result<i64> {
    match attr(n, key) {
        None => Ok(default),
        Some(a) => check_type(a, name, AttributeType::Int).map(|_| a.i),
    }
}

pub(crate) fn attr_f(n: &NodeProto, name: &str, key: &str, default: f32) -> Result<f32> {
    match attr(n, key) {
        None => Ok(default),
        Some(a) => check_type(a, name, AttributeType::Float).map(|_| a.f),
    }
}

pub(crate) fn attr_ints(n: &NodeProto, name: &str, key: &str) -> Result<Option<Vec<i64>>> {
    match attr(n, key) {
        None => Ok(None),
        Some(a) => check_type(a, name, AttributeType::Ints).map(|_| Some(a.ints.clone())),
    }
}

pub(crate) fn attr_s(n: &NodeProto, name: &str, key: &str) -> Result<Option<String>> {
    match attr(n, key) {
        None => Ok(None),
        Some(a) => {
            check_type(a, name, AttributeType::String)?;
            String::from_utf8(a.s.clone())
                .map(Some)
                .map_err(|_| Error::Onnx(format!("node '{name}': attribute '{key}' is not UTF-8")))
        }
    }
}

/// Two positive values from an INTS attribute.
pub(crate) fn to_pair(name: &str, key: &str, v: &[i64]) -> Result<[usize; 2]> {
    let ok = |x: i64| (1..=MAX_WINDOW).contains(&x);
    match v {
        [a, b] if ok(*a) && ok(*b) => Ok([*a as usize, *b as usize]),
        _ => Err(Error::Onnx(format!(
            "node '{name}': {key} must be two numbers from 1 to {MAX_WINDOW} (2-D), got {v:?}"
        ))),
    }
}

pub(crate) fn pair(
    n: &NodeProto,
    name: &str,
    key: &str,
    default: [usize; 2],
) -> Result<[usize; 2]> {
    match attr_ints(n, name, key)? {
        None => Ok(default),
        Some(v) => to_pair(name, key, &v),
    }
}

/// `[top, left, bottom, right]` from `pads` / `auto_pad` for a window over `size`.
pub(crate) fn pads(
    n: &NodeProto,
    name: &str,
    size: [usize; 2],
    kernel: [usize; 2],
    stride: [usize; 2],
    dilation: [usize; 2],
) -> Result<[usize; 4]> {
    let auto = attr_s(n, name, "auto_pad")?.unwrap_or_default();
    match auto.as_str() {
        "" | "NOTSET" => match attr_ints(n, name, "pads")? {
            None => Ok([0; 4]),
            // ONNX orders [x1_begin, x2_begin, x1_end, x2_end], i.e. [top, left, bottom, right].
            Some(p) if p.len() == 4 && p.iter().all(|v| (0..=MAX_WINDOW).contains(v)) => {
                Ok([p[0] as usize, p[1] as usize, p[2] as usize, p[3] as usize])
            }
            Some(p) => Err(Error::Onnx(format!(
                "node '{name}' ({}): pads must be four numbers from 0 to {MAX_WINDOW} (2-D), got {p:?}",
                n.op_type
            ))),
        },
        "VALID" => Ok([0; 4]),
        "SAME_UPPER" | "SAME_LOWER" => {
            let mut begin = [0; 2];
            let mut end = [0; 2];
            for a in 0..2 {
                let out = size[a].div_ceil(stride[a]);
                let span = (kernel[a] - 1) * dilation[a] + 1;
                let total = ((out - 1) * stride[a] + span).saturating_sub(size[a]);
                let (small, big) = (total / 2, total - total / 2);
                (begin[a], end[a]) = if auto == "SAME_UPPER" {
                    (small, big)
                } else {
                    (big, small)
                };
            }
            Ok([begin[0], begin[1], end[0], end[1]])
        }
        other => Err(Error::Onnx(format!(
            "node '{name}' ({}): unknown auto_pad '{other}'",
            n.op_type
        ))),
    }
}
