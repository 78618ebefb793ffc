//! Horizontal bar charts of pooled relevance (per feature, group, channel or region), sorted
//! from the most positive to the most negative, positive bars red and negative blue, drawn
//! straight into an RGB image like the line plots.

use image::{Rgb, RgbImage};

use super::plot::{format_tick, put, text};
use crate::error::{Error, Result};

const ROW: i64 = 18;
const BAR: i64 = 12;
const TOP: i64 = 36;
const BOTTOM: i64 = 30;
const CHART: i64 = 420;
const MARGIN: i64 = 16;
/// Bars drawn at most (the largest by |value|); the rest are counted in the title.
pub const MAX_BARS: usize = 40;

/// Draws `(name, value)` bars under `title`.
pub fn bar_chart(bars: &[(String, f64)], title: &str) -> Result<RgbImage> {
    if bars.is_empty() || bars.iter().any(|(_, v)| !v.is_finite()) {
        return Err(Error::Invalid(format!(
            "a bar chart of {} bars, or of a non-finite value",
            bars.len()
        )));
    }
    let mut shown: Vec<&(String, f64)> = bars.iter().collect();
    shown.sort_by(|a, b| b.1.abs().total_cmp(&a.1.abs()));
    shown.truncate(MAX_BARS);
    shown.sort_by(|a, b| b.1.total_cmp(&a.1));
    let label_w = 8 * shown
        .iter()
        .map(|(n, _)| n.chars().count())
        .max()
        .unwrap_or(1) as i64
        + 12;
    let title = match bars.len() > shown.len() {
        true => format!("{title} (the {} largest of {})", shown.len(), bars.len()),
        false => title.to_string(),
    };
    let (w, h) = (
        (MARGIN + label_w + CHART + 90).max(2 * MARGIN + 8 * title.chars().count() as i64),
        TOP + ROW * shown.len() as i64 + BOTTOM,
    );
    let mut img = RgbImage::from_pixel(w as u32, h as u32, Rgb([255, 255, 255]));
    let black = Rgb([0, 0, 0]);
    text(&mut img, MARGIN, 10, &title, black, 1);
    let lo = shown.iter().map(|b| b.1).fold(0.0f64, f64::min);
    let hi = shown.iter().map(|b| b.1).fold(0.0f64, f64::max);
    let span = (hi - lo).max(1e-30);
    let x0 = MARGIN + label_w;
    let at = |v: f64| x0 + ((v - lo) / span * CHART as f64).round() as i64;
    let zero = at(0.0);
    for (k, (name, v)) in shown.iter().enumerate() {
        let y = TOP + k as i64 * ROW;
        text(&mut img, MARGIN, y + 2, name, black, 1);
        let (a, b) = (zero.min(at(*v)), zero.max(at(*v)));
        let colour = if *v >= 0.0 {
            Rgb([214, 39, 40])
        } else {
            Rgb([31, 119, 180])
        };
        for x in a..=b {
            for dy in 0..BAR {
                put(&mut img, x, y + dy, colour);
            }
        }
        let value = format_tick(*v);
        text(&mut img, at(hi) + 8, y + 2, &value, black, 1);
    }
    for y in TOP - 4..TOP + ROW * shown.len() as i64 {
        put(&mut img, zero, y, black);
    }
    let axis = TOP + ROW * shown.len() as i64 + 4;
    text(&mut img, zero - 4, axis, "0", black, 1);
    Ok(img)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_are_sorted_and_coloured_by_sign() {
        let bars = vec![
            ("small".to_string(), 0.5),
            ("negative".to_string(), -2.0),
            ("large".to_string(), 3.0),
        ];
        let img = bar_chart(&bars, "relevance").unwrap();
        let red = Rgb([214, 39, 40]);
        let blue = Rgb([31, 119, 180]);
        // Row 0 is the largest positive bar, the last row the negative one.
        let row = |k: i64| (TOP + k * ROW + BAR / 2) as u32;
        let count = |y: u32, c: Rgb<u8>| {
            (0..img.width())
                .filter(|&x| *img.get_pixel(x, y) == c)
                .count()
        };
        assert!(count(row(0), red) > count(row(1), red) && count(row(1), red) > 0);
        assert!(count(row(2), blue) > 0 && count(row(2), red) == 0);
        assert!(bar_chart(&[], "x").is_err());
        assert!(bar_chart(&[("nan".into(), f64::NAN)], "x").is_err());
    }
}
