//! `Conv` → [`Conv2d`] (with the zeros of a `Pad` before it added to its pads).

use crate::error::{Error, Result};
use crate::layers::Conv2d;
use crate::model::Op;
use crate::onnx::import::attributes::{attr_i, attr_ints, pads, pair, MAX_WINDOW};
use crate::onnx::import::{unsupported, Importer};
use crate::onnx::proto::NodeProto;
use crate::onnx::OnnxOp;

pub(crate) fn conv<'m>(imp: &mut Importer<'m, '_>, n: &'m NodeProto, name: &str) -> Result<()> {
    let (x, padded) = imp.conv_input(n, name)?;
    let weight = imp.const_f32(n, name, 1)?;
    if weight.shape.contains(&0) {
        return Err(Error::Shape(format!(
            "node '{name}' (Conv): the weight has an empty shape {:?}",
            weight.shape
        )));
    }
    if weight.shape.len() != 4 {
        return Err(unsupported(
            n,
            name,
            format!(
                "only 2-D convolutions are supported; the weight has shape {:?}",
                weight.shape
            ),
        ));
    }
    let input = imp.shape(x).to_vec();
    if input.len() != 3 {
        return Err(Error::Shape(format!(
            "node '{name}' (Conv) needs a [N, C, H, W] input, got per-item shape {input:?}"
        )));
    }
    let kernel = [weight.shape[2], weight.shape[3]];
    if let Some(ks) = attr_ints(n, name, "kernel_shape")? {
        if ks.len() != 2 || ks[0] as usize != kernel[0] || ks[1] as usize != kernel[1] {
            return Err(Error::Onnx(format!(
                "node '{name}' (Conv): kernel_shape {ks:?} disagrees with the weight {:?}",
                weight.shape
            )));
        }
    }
    let bias = match imp.opt_const_f32(n, name, 2)? {
        None => None,
        Some(b) if b.shape == [weight.shape[0]] => Some(b.data),
        Some(b) => {
            return Err(Error::Shape(format!(
                "node '{name}' (Conv): bias of shape {:?} for {} output channels",
                b.shape, weight.shape[0]
            )))
        }
    };
    let stride = pair(n, name, "strides", [1, 1])?;
    let dilation = pair(n, name, "dilations", [1, 1])?;
    let groups = attr_i(n, name, "group", 1)?;
    if !(1..=MAX_WINDOW).contains(&groups) {
        return Err(Error::Onnx(format!(
            "node '{name}' (Conv): group must be from 1 to {MAX_WINDOW}, got {groups}"
        )));
    }
    let size = [
        input[1] + padded[0] + padded[2],
        input[2] + padded[1] + padded[3],
    ];
    let own = pads(n, name, size, kernel, stride, dilation)?;
    let pads: [usize; 4] = std::array::from_fn(|i| own[i] + padded[i]);
    let op = Op::Conv2d(Conv2d {
        weight,
        bias,
        stride,
        pads,
        dilation,
        groups: groups as usize,
    });
    imp.push(n, name, op, vec![x])
}

/// The ONNX operators imported as [`Conv2d`].
pub(crate) const ONNX: &[OnnxOp] = &[OnnxOp {
    op_type: "Conv",
    layer: "Conv2d",
    notes: "stride, pads (asymmetric), auto_pad, dilation, groups (depthwise)",
    import: conv,
}];
