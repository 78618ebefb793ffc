//! Contact sheets of a concept atlas: per reference input, its crop and its conditional
//! heatmap's crop side by side, each fitted into a square cell, in a row under a title.

use image::imageops::{self, FilterType};
use image::{Rgb, RgbImage};

use super::plot::text;
use crate::error::{Error, Result};

/// One reference of a sheet: the input crop, the heatmap crop (same size) and a caption.
pub struct SheetEntry {
    pub input: RgbImage,
    pub heat: RgbImage,
    pub caption: String,
}

const CELL: u32 = 96;
const GAP: u32 = 6;
const TITLE: u32 = 20;
const CAPTION: u32 = 14;

/// The sheet: one column per entry, the input over its heatmap, captions under them.
pub fn contact_sheet(title: &str, entries: &[SheetEntry]) -> Result<RgbImage> {
    if entries.is_empty() {
        return Err(Error::Invalid("a contact sheet needs a reference".into()));
    }
    let cols = entries.len() as u32;
    let width = (cols * (CELL + GAP) + GAP).max(8 * title.len() as u32 + 2 * GAP);
    let height = TITLE + 2 * CELL + 3 * GAP + CAPTION;
    let mut sheet = RgbImage::from_pixel(width, height, Rgb([255, 255, 255]));
    text(&mut sheet, GAP as i64, 6, title, Rgb([0, 0, 0]), 1);
    for (k, e) in entries.iter().enumerate() {
        let x = GAP + k as u32 * (CELL + GAP);
        for (row, img) in [&e.input, &e.heat].into_iter().enumerate() {
            let fitted = fit(img);
            let (fw, fh) = fitted.dimensions();
            let y = TITLE + GAP + row as u32 * (CELL + GAP);
            imageops::overlay(
                &mut sheet,
                &fitted,
                (x + (CELL - fw) / 2) as i64,
                (y + (CELL - fh) / 2) as i64,
            );
        }
        let caption: String = e.caption.chars().take((CELL / 8) as usize).collect();
        let y = TITLE + 2 * CELL + 2 * GAP + 2;
        text(
            &mut sheet,
            x as i64,
            y as i64,
            &caption,
            Rgb([60, 60, 60]),
            1,
        );
    }
    Ok(sheet)
}

/// Scales a picture to fill a cell's longer side (nearest neighbour, so small crops stay crisp).
fn fit(img: &RgbImage) -> RgbImage {
    let (w, h) = img.dimensions();
    let scale = CELL as f64 / w.max(h).max(1) as f64;
    let (nw, nh) = (
        ((w as f64 * scale).round() as u32).clamp(1, CELL),
        ((h as f64 * scale).round() as u32).clamp(1, CELL),
    );
    imageops::resize(img, nw, nh, FilterType::Nearest)
}
