//! `ConvTranspose` → [`ConvTranspose2d`]: strides, pads, dilations, group, kernel_shape,
//! output_padding, and output_shape or auto_pad (`SAME_UPPER`, `SAME_LOWER`, `VALID`), whose
//! pads are derived as the ONNX specification says.

use crate::error::{Error, Result};
use crate::layers::ConvTranspose2d;
use crate::model::Op;
use crate::onnx::import::attributes::{attr_i, attr_ints, attr_s, pair, MAX_WINDOW};
use crate::onnx::import::{unsupported, Importer};
use crate::onnx::proto::NodeProto;
use crate::onnx::OnnxOp;

/// Two values from 0 to [`MAX_WINDOW`] of an INTS attribute (`[0, 0]` when absent).
fn nonnegative_pair(n: &NodeProto, name: &str, key: &str) -> Result<[usize; 2]> {
    match attr_ints(n, name, key)? {
        None => Ok([0, 0]),
        Some(v) if v.len() == 2 && v.iter().all(|x| (0..=MAX_WINDOW).contains(x)) => {
            Ok([v[0] as usize, v[1] as usize])
        }
        Some(v) => Err(Error::Onnx(format!(
            "node '{name}' (ConvTranspose): {key} must be two numbers from 0 to {MAX_WINDOW} (2-D), got {v:?}"
        ))),
    }
}

/// Geometry of one axis, for deriving pads.
struct Axis {
    size: usize,
    kernel: usize,
    stride: usize,
    dilation: usize,
    output_padding: usize,
}

impl Axis {
    /// Values of the axis before any cropping: `s·(H − 1) + op + d·(K − 1) + 1`.
    fn full(&self) -> i64 {
        (self.stride * self.size.saturating_sub(1)
            + self.output_padding
            + self.dilation * (self.kernel - 1)
            + 1) as i64
    }
}

/// `[top, left, bottom, right]` from `output_shape`, `auto_pad` or `pads` (in that order of
/// precedence, as onnxruntime reads them).
fn transposed_pads(n: &NodeProto, name: &str, axes: [Axis; 2]) -> Result<[usize; 4]> {
    let auto = attr_s(n, name, "auto_pad")?.unwrap_or_default();
    let (target, from): (Option<[i64; 2]>, String) = match attr_ints(n, name, "output_shape")? {
        // The spatial sizes, optionally after N and C.
        Some(s) if s.len() == 2 || s.len() == 4 => (
            Some([s[s.len() - 2], s[s.len() - 1]]),
            format!("output_shape {s:?}"),
        ),
        Some(s) => {
            return Err(Error::Onnx(format!(
            "node '{name}' (ConvTranspose): output_shape must give the 2 spatial sizes, got {s:?}"
        )))
        }
        None => match auto.as_str() {
            "SAME_UPPER" | "SAME_LOWER" => (
                Some(std::array::from_fn(|a| {
                    (axes[a].size * axes[a].stride) as i64
                })),
                format!("auto_pad {auto} (input size × stride)"),
            ),
            _ => (None, String::new()),
        },
    };
    if let Some(target) = target {
        // total = full − output_shape; SAME_UPPER puts the smaller half first, anything else
        // (SAME_LOWER, NOTSET with an output_shape) the larger.
        let mut pads = [0; 4];
        for a in 0..2 {
            let total = axes[a].full() - target[a];
            if target[a] < 1 || total < 0 {
                return Err(Error::Onnx(format!(
                    "node '{name}' (ConvTranspose): {from} asks for {} values along spatial axis {a}, which needs {total} padding of the {} the layer computes; only cropping (padding ≥ 0) is supported",
                    target[a],
                    axes[a].full()
                )));
            }
            let (small, big) = ((total / 2) as usize, (total - total / 2) as usize);
            (pads[a], pads[a + 2]) = if auto == "SAME_UPPER" {
                (small, big)
            } else {
                (big, small)
            };
        }
        return Ok(pads);
    }
    match auto.as_str() {
        "" | "NOTSET" => match attr_ints(n, name, "pads")? {
            None => Ok([0; 4]),
            Some(p) if p.len() == 4 && p.iter().all(|v| (0..=MAX_WINDOW).contains(v)) => {
                Ok([p[0] as usize, p[1] as usize, p[2] as usize, p[3] as usize])
            }
            Some(p) => Err(Error::Onnx(format!(
                "node '{name}' (ConvTranspose): pads must be four numbers from 0 to {MAX_WINDOW} (2-D), got {p:?}"
            ))),
        },
        "VALID" => Ok([0; 4]),
        other => Err(Error::Onnx(format!(
            "node '{name}' (ConvTranspose): unknown auto_pad '{other}' (NOTSET, SAME_UPPER, SAME_LOWER or VALID)"
        ))),
    }
}

pub(crate) fn conv_transpose<'m>(
    imp: &mut Importer<'m, '_>,
    n: &'m NodeProto,
    name: &str,
) -> Result<()> {
    let x = imp.act(n, name, 0)?;
    let weight = imp.const_f32(n, name, 1)?;
    if weight.shape.contains(&0) {
        return Err(Error::Shape(format!(
            "node '{name}' (ConvTranspose): the weight has an empty shape {:?}",
            weight.shape
        )));
    }
    if weight.shape.len() != 4 {
        return Err(unsupported(
            n,
            name,
            format!(
                "only 2-D transposed convolutions are supported; the weight has shape {:?}",
                weight.shape
            ),
        ));
    }
    let input = imp.shape(x).to_vec();
    if input.len() != 3 {
        return Err(Error::Shape(format!(
            "node '{name}' (ConvTranspose) needs a [N, C, H, W] input, got per-item shape {input:?}"
        )));
    }
    let kernel = [weight.shape[2], weight.shape[3]];
    if let Some(ks) = attr_ints(n, name, "kernel_shape")? {
        if ks.len() != 2 || ks[0] as usize != kernel[0] || ks[1] as usize != kernel[1] {
            return Err(Error::Onnx(format!(
                "node '{name}' (ConvTranspose): kernel_shape {ks:?} disagrees with the weight {:?}",
                weight.shape
            )));
        }
    }
    let groups = attr_i(n, name, "group", 1)?;
    if !(1..=MAX_WINDOW).contains(&groups) || weight.shape[0] % groups as usize != 0 {
        return Err(Error::Onnx(format!(
            "node '{name}' (ConvTranspose): group must be from 1 to {MAX_WINDOW} and divide the {} input channels, got {groups}",
            weight.shape[0]
        )));
    }
    let groups = groups as usize;
    let cout = weight.shape[1] * groups;
    let bias = match imp.opt_const_f32(n, name, 2)? {
        None => None,
        Some(b) if b.shape == [cout] => Some(b.data),
        Some(b) => {
            return Err(Error::Shape(format!(
                "node '{name}' (ConvTranspose): bias of shape {:?} for {cout} output channels",
                b.shape
            )))
        }
    };
    let stride = pair(n, name, "strides", [1, 1])?;
    let dilation = pair(n, name, "dilations", [1, 1])?;
    let output_padding = nonnegative_pair(n, name, "output_padding")?;
    let axes = std::array::from_fn(|a| Axis {
        size: input[1 + a],
        kernel: kernel[a],
        stride: stride[a],
        dilation: dilation[a],
        output_padding: output_padding[a],
    });
    let pads = transposed_pads(n, name, axes)?;
    let op = Op::ConvTranspose2d(ConvTranspose2d {
        weight,
        bias,
        stride,
        pads,
        dilation,
        output_padding,
        groups,
    });
    imp.push(n, name, op, vec![x])
}

/// The ONNX operators imported as [`ConvTranspose2d`].
pub(crate) const ONNX: &[OnnxOp] = &[OnnxOp {
    op_type: "ConvTranspose",
    layer: "ConvTranspose2d",
    notes: "stride, pads (asymmetric), output_padding, output_shape, auto_pad, dilation, groups",
    import: conv_transpose,
}];
