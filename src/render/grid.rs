//! Prototypes as pictures: an input tensor shown on a fixed value range (not stretched per
//! image, so prototypes compare), and many pictures tiled into one grid.

use image::{Rgb, RgbImage};

use crate::error::{Error, Result};
use crate::model::Tensor;

/// `[1 or 3, H, W]` values in `range` → an RGB picture (outside values clipped; `bgr` channels
/// swapped back to RGB).
pub fn range_image(input: &Tensor<f32>, range: (f32, f32), bgr: bool) -> Result<RgbImage> {
    let [c, h, w] = *input.shape.as_slice() else {
        return Err(Error::Shape(format!(
            "a picture needs [C, H, W], got {:?}",
            input.shape
        )));
    };
    if (c != 1 && c != 3) || input.data.len() != c * h * w {
        return Err(Error::Shape(format!(
            "a picture needs 1 or 3 channels and matching data, got {:?} with {} values",
            input.shape,
            input.data.len()
        )));
    }
    let (lo, hi) = range;
    if hi <= lo || !lo.is_finite() || !hi.is_finite() {
        return Err(Error::Invalid(format!("display range {range:?} is empty")));
    }
    let order = match (c, bgr) {
        (1, _) => [0, 0, 0],
        (_, false) => [0, 1, 2],
        (_, true) => [2, 1, 0],
    };
    let px = |k: usize, y: u32, x: u32| {
        let v = input.data[(k * h + y as usize) * w + x as usize];
        (((v - lo) / (hi - lo)).clamp(0.0, 1.0) * 255.0).round() as u8
    };
    Ok(RgbImage::from_fn(w as u32, h as u32, |x, y| {
        Rgb(order.map(|k| px(k, y, x)))
    }))
}

/// Tiles pictures of one size into rows of `columns`, `gap` white pixels apart, each scaled up
/// by the integer `zoom` (nearest neighbour, so small MNIST prototypes stay crisp).
pub fn tile(images: &[RgbImage], columns: usize, gap: u32, zoom: u32) -> Result<RgbImage> {
    let first = images
        .first()
        .ok_or_else(|| Error::Invalid("no pictures to tile".into()))?;
    let (w, h) = first.dimensions();
    if images.iter().any(|i| i.dimensions() != (w, h)) || columns == 0 || zoom == 0 {
        return Err(Error::Shape(
            "tiled pictures must share one size (and columns, zoom ≥ 1)".into(),
        ));
    }
    let cols = columns.min(images.len()) as u32;
    let rows = images.len().div_ceil(columns) as u32;
    let (cw, ch) = (w * zoom, h * zoom);
    let mut out = RgbImage::from_pixel(
        cols * cw + (cols + 1) * gap,
        rows * ch + (rows + 1) * gap,
        Rgb([255, 255, 255]),
    );
    for (i, img) in images.iter().enumerate() {
        let (r, c) = ((i / columns) as u32, (i % columns) as u32);
        let (ox, oy) = (gap + c * (cw + gap), gap + r * (ch + gap));
        for y in 0..ch {
            for x in 0..cw {
                out.put_pixel(ox + x, oy + y, *img.get_pixel(x / zoom, y / zoom));
            }
        }
    }
    Ok(out)
}
