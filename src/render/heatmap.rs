//! Relevance maps to pictures: channel sum, Zennit's `imgify` normalisation, a colour map,
//! overlays on the input, the relevance-masked input, and PNG output.

use std::path::Path;

use image::{ImageError, ImageFormat, Rgb, RgbImage};

use crate::error::{Error, Result};
use crate::model::Tensor;
use crate::render::cmap::Cmap;

/// How relevance values are mapped onto [0, 1] before colouring.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Norm {
    /// `x ↦ (x + m) / 2m` with `m = max|x|`, so 0 lands in the middle of the colour map
    /// (Zennit's `imgify(..., symmetric=True)`). An all-zero map is 0.5 everywhere.
    Symmetric,
    /// `x ↦ (x − min) / (max − min)` (Zennit's `imgify(..., symmetric=False)`). A constant
    /// map is 0 everywhere.
    MinMax,
}

/// How [`heatmap`] renders relevance.
#[derive(Clone, Debug, PartialEq)]
pub struct HeatmapOptions {
    /// The colour map (default `bwr`, as Zennit's `imgify`).
    pub cmap: Cmap,
    /// The normalisation (default [`Norm::Symmetric`]).
    pub norm: Norm,
    /// Take the absolute value of the channel-summed map first.
    pub abs: bool,
    /// The palette level, as Zennit's `level` (default 1.0; above 1 saturates sooner).
    pub level: f64,
}

impl Default for HeatmapOptions {
    fn default() -> Self {
        HeatmapOptions {
            cmap: Cmap::from_name("bwr").expect("bwr is built in"),
            norm: Norm::Symmetric,
            abs: false,
            level: 1.0,
        }
    }
}

/// The `(height, width)` of a `[H, W]` or `[C, H, W]` tensor whose data fits its shape.
fn spatial(t: &Tensor<f32>, what: &str) -> Result<(usize, usize)> {
    let (h, w) = match *t.shape.as_slice() {
        [h, w] | [_, h, w] => (h, w),
        _ => {
            return Err(Error::Shape(format!(
                "{what} must be [C, H, W] or [H, W], got {:?}",
                t.shape
            )))
        }
    };
    check_len(t, what)?;
    Ok((h, w))
}

/// Fails when a tensor's data does not fill its shape (its fields are public).
fn check_len(t: &Tensor<f32>, what: &str) -> Result<()> {
    let n = crate::model::checked_numel(&t.shape)?;
    if n != t.data.len() {
        return Err(Error::Shape(format!(
            "{what} has shape {:?} ({n} values) but holds {} values",
            t.shape,
            t.data.len()
        )));
    }
    Ok(())
}

/// An image-shaped tensor with its channels first: `[H, W, C]` of 1 or 3 channels (a
/// channels-last model's input, TensorFlow's) transposed to `[C, H, W]`; anything else as is.
pub fn channels_first(t: &Tensor<f32>) -> Tensor<f32> {
    let &[h, w, c] = t.shape.as_slice() else {
        return t.clone();
    };
    if !matches!(c, 1 | 3) || matches!(h, 1 | 3) {
        return t.clone();
    }
    let mut data = vec![0.0; t.data.len()];
    for (i, &v) in t.data.iter().enumerate() {
        let (pixel, k) = (i / c, i % c);
        data[k * h * w + pixel] = v;
    }
    Tensor {
        shape: vec![c, h, w],
        data,
    }
}

/// Sums relevance `[C, H, W]` over channels into `[H, W]`; `[H, W]` is returned as is.
/// Fails on NaN or infinity.
pub fn channel_sum(relevance: &Tensor<f32>) -> Result<Tensor<f32>> {
    let (h, w) = spatial(relevance, "relevance")?;
    relevance.check_finite("relevance")?;
    if relevance.shape.len() == 2 {
        return Ok(relevance.clone());
    }
    let mut out = vec![0.0f32; h * w];
    for plane in relevance.data.chunks_exact((h * w).max(1)) {
        for (o, v) in out.iter_mut().zip(plane) {
            *o += v;
        }
    }
    Tensor::new(vec![h, w], out)
}

/// Maps every value onto [0, 1] with `norm`, in f32 with Zennit's order of operations so that
/// palette indices agree with `imgify`.
pub fn normalize(map: &Tensor<f32>, norm: Norm) -> Result<Tensor<f32>> {
    map.check_finite("relevance")?;
    let (lo, hi) = match norm {
        Norm::Symmetric => {
            let m = map.data.iter().fold(0.0f32, |m, v| m.max(v.abs()));
            (-m, m)
        }
        Norm::MinMax => map
            .data
            .iter()
            .fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), &v| {
                (lo.min(v), hi.max(v))
            }),
    };
    let data = if hi > lo {
        map.data
            .iter()
            .map(|&v| ((v - lo) / (hi - lo)).clamp(0.0, 1.0))
            .collect()
    } else {
        let constant = if norm == Norm::Symmetric { 0.5 } else { 0.0 };
        vec![constant; map.data.len()]
    };
    Tensor::new(map.shape.clone(), data)
}

/// Colours a `[H, W]` map of values in [0, 1] with the palette of `cmap` at `level`: value
/// `v` takes palette entry `⌊clamp(255 v, 0, 255)⌋`, as `imgify` does.
pub fn colorize(unit: &Tensor<f32>, cmap: &Cmap, level: f64) -> Result<RgbImage> {
    let [h, w] = *unit.shape.as_slice() else {
        return Err(Error::Shape(format!(
            "a map to colour must be [H, W], got {:?}",
            unit.shape
        )));
    };
    unit.check_finite("map")?;
    let (w32, h32) = image_dims(h, w)?;
    let palette = cmap.palette(level);
    let pixels = unit
        .data
        .iter()
        .flat_map(|&v| palette[(v * 255.0).clamp(0.0, 255.0) as usize])
        .collect();
    RgbImage::from_raw(w32, h32, pixels)
        .ok_or_else(|| Error::Shape(format!("{h}x{w} image does not match its data")))
}

/// Renders relevance `[C, H, W]` (or `[H, W]`) as a heatmap: channel sum, optional absolute
/// value, normalisation, colour map.
pub fn heatmap(relevance: &Tensor<f32>, opts: &HeatmapOptions) -> Result<RgbImage> {
    if !(opts.level.is_finite()) {
        return Err(Error::Invalid(format!(
            "heatmap level {} must be finite",
            opts.level
        )));
    }
    let mut map = channel_sum(relevance)?;
    if opts.abs {
        map.data.iter_mut().for_each(|v| *v = v.abs());
    }
    colorize(&normalize(&map, opts.norm)?, &opts.cmap, opts.level)
}

/// The input `[C, H, W]` (C = 1 or 3) as a picture: rescaled by its min and max onto [0, 1]
/// (a constant input becomes mid grey), grey replicated to RGB, BGR reordered when `bgr`.
pub fn input_image(input: &Tensor<f32>, bgr: bool) -> Result<RgbImage> {
    let unit = input_unit(input, bgr)?;
    let (c, h, w) = (3, input.shape[1], input.shape[2]);
    let (w32, h32) = image_dims(h, w)?;
    let hw = h * w;
    let pixels = (0..hw)
        .flat_map(|i| (0..c).map(move |k| (k, i)))
        .map(|(k, i)| to_u8(unit[k * hw + i]))
        .collect();
    RgbImage::from_raw(w32, h32, pixels)
        .ok_or_else(|| Error::Shape(format!("{h}x{w} image does not match its data")))
}

/// Alpha-blends `heat` over `base`: `alpha · heat + (1 − alpha) · base` per channel.
pub fn overlay(heat: &RgbImage, base: &RgbImage, alpha: f32) -> Result<RgbImage> {
    if !(0.0..=1.0).contains(&alpha) {
        return Err(Error::Invalid(format!(
            "overlay alpha {alpha} must lie in [0, 1]"
        )));
    }
    if heat.dimensions() != base.dimensions() {
        return Err(Error::Shape(format!(
            "heatmap is {}x{} but the input is {}x{} (width x height); upsample the map first",
            heat.width(),
            heat.height(),
            base.width(),
            base.height()
        )));
    }
    Ok(RgbImage::from_fn(heat.width(), heat.height(), |x, y| {
        let (a, b) = (heat.get_pixel(x, y).0, base.get_pixel(x, y).0);
        Rgb(std::array::from_fn(|k| {
            to_u8((alpha * a[k] as f32 + (1.0 - alpha) * b[k] as f32) / 255.0)
        }))
    }))
}

/// The "relevance mask × input" view: the channel-summed relevance (absolute when `abs`)
/// divided by its maximum and clamped to [0, 1] (negative relevance hides the pixel),
/// multiplied into the input rescaled as in [`input_image`].
pub fn mask_input(
    relevance: &Tensor<f32>,
    input: &Tensor<f32>,
    abs: bool,
    bgr: bool,
) -> Result<RgbImage> {
    let mut mask = channel_sum(relevance)?;
    if abs {
        mask.data.iter_mut().for_each(|v| *v = v.abs());
    }
    let unit = input_unit(input, bgr)?;
    let (h, w) = (input.shape[1], input.shape[2]);
    if mask.shape != [h, w] {
        return Err(Error::Shape(format!(
            "relevance is {:?} (after the channel sum) but the input is {h}x{w}; upsample it first",
            mask.shape
        )));
    }
    let max = mask.data.iter().fold(0.0f32, |m, &v| m.max(v));
    let hw = h * w;
    let (w32, h32) = image_dims(h, w)?;
    let pixels = (0..hw)
        .flat_map(|i| (0..3).map(move |k| (k, i)))
        .map(|(k, i)| {
            let m = if max > 0.0 {
                (mask.data[i] / max).clamp(0.0, 1.0)
            } else {
                0.0
            };
            to_u8(m * unit[k * hw + i])
        })
        .collect();
    RgbImage::from_raw(w32, h32, pixels)
        .ok_or_else(|| Error::Shape(format!("{h}x{w} image does not match its data")))
}

/// Writes a PNG file; I/O failures are [`Error::Io`] and encoding failures [`Error::Image`],
/// both naming `path`.
pub fn save_png(path: impl AsRef<Path>, image: &RgbImage) -> Result<()> {
    let path = path.as_ref();
    image
        .save_with_format(path, ImageFormat::Png)
        .map_err(|e| match e {
            ImageError::IoError(source) => Error::io(path, source),
            other => Error::Image {
                path: path.to_path_buf(),
                message: other.to_string(),
            },
        })
}

/// The input as 3 planes of values in [0, 1] (RGB order), from `[1 or 3, H, W]`.
fn input_unit(input: &Tensor<f32>, bgr: bool) -> Result<Vec<f32>> {
    let [c, h, w] = *input.shape.as_slice() else {
        return Err(Error::Shape(format!(
            "input must be [C, H, W], got {:?}",
            input.shape
        )));
    };
    if c != 1 && c != 3 {
        return Err(Error::Shape(format!(
            "input must have 1 or 3 channels to be shown as an image, got {c}"
        )));
    }
    check_len(input, "input")?;
    input.check_finite("input")?;
    let (lo, hi) = input
        .data
        .iter()
        .fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), &v| {
            (lo.min(v), hi.max(v))
        });
    let scale = |v: f32| if hi > lo { (v - lo) / (hi - lo) } else { 0.5 };
    let hw = h * w;
    let order = match (c, bgr) {
        (1, _) => [0, 0, 0],
        (_, false) => [0, 1, 2],
        (_, true) => [2, 1, 0],
    };
    Ok(order
        .iter()
        .flat_map(|&k| input.data[k * hw..(k + 1) * hw].iter().map(|&v| scale(v)))
        .collect())
}

/// `[0, 1]` to 0..=255, rounded.
fn to_u8(v: f32) -> u8 {
    (v * 255.0).round().clamp(0.0, 255.0) as u8
}

/// Image dimensions `(width, height)` as u32.
fn image_dims(h: usize, w: usize) -> Result<(u32, u32)> {
    match (u32::try_from(w), u32::try_from(h)) {
        (Ok(w), Ok(h)) => Ok((w, h)),
        _ => Err(Error::Shape(format!("{h}x{w} is too large for an image"))),
    }
}

#[cfg(test)]
mod tests;
