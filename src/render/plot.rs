//! Line plots of mean curves with a standard-error band, drawn straight into an RGB image
//! (an 8×8 bitmap font for the labels), so evaluation plots need no plotting stack.

use image::{Rgb, RgbImage};

use crate::error::{Error, Result};

/// One curve of a plot: its label, mean and standard error per point.
#[derive(Clone, Debug)]
pub struct Series {
    /// The legend entry.
    pub label: String,
    /// The mean at x = 0, 1, …
    pub mean: Vec<f64>,
    /// The standard error at each point (the band is mean ± it).
    pub error: Vec<f64>,
}

/// Titles of a plot.
#[derive(Clone, Debug, Default)]
pub struct Labels {
    /// Above the plot.
    pub title: String,
    /// Under the x axis.
    pub x: String,
    /// Above the y axis.
    pub y: String,
    /// The x value of the first point and the step between points (default: 0 and 1).
    pub x_axis: Option<(f64, f64)>,
}

const W: u32 = 900;
const H: u32 = 560;
const LEFT: i64 = 90;
const RIGHT: i64 = 30;
const TOP: i64 = 50;
const BOTTOM: i64 = 60;
/// matplotlib's tab10, so the plots read like the peers', then six darker colours so that up
/// to sixteen curves stay apart.
const COLOURS: [[u8; 3]; 16] = [
    [31, 119, 180],
    [255, 127, 14],
    [44, 160, 44],
    [214, 39, 40],
    [148, 103, 189],
    [140, 86, 75],
    [227, 119, 194],
    [127, 127, 127],
    [188, 189, 34],
    [23, 190, 207],
    [0, 0, 0],
    [128, 0, 0],
    [0, 0, 128],
    [0, 128, 128],
    [128, 128, 0],
    [200, 160, 0],
];

/// Draws `series` over their points (x = step) with axes, ticks, a legend and the labels.
pub fn line_plot(series: &[Series], labels: &Labels) -> Result<RgbImage> {
    let points = series.iter().map(|s| s.mean.len()).max().unwrap_or(0);
    if series.is_empty() || points == 0 || series.iter().any(|s| s.error.len() != s.mean.len()) {
        return Err(Error::Invalid(
            "a plot needs at least one curve, each with one error per point".into(),
        ));
    }
    let values = series.iter().flat_map(|s| {
        s.mean
            .iter()
            .zip(&s.error)
            .flat_map(|(m, e)| [m - e, m + e])
    });
    let (mut lo, mut hi) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
        (a.min(v), b.max(v))
    });
    if !lo.is_finite() || !hi.is_finite() {
        return Err(Error::Invalid("a curve to plot is not finite".into()));
    }
    if hi - lo < 1e-12 {
        (lo, hi) = (lo - 0.5, hi + 0.5);
    }
    let pad = 0.05 * (hi - lo);
    let (lo, hi) = (lo - pad, hi + pad);
    let mut img = RgbImage::from_pixel(W, H, Rgb([255, 255, 255]));
    let (x0, x1, y0, y1) = (LEFT, W as i64 - RIGHT, TOP, H as i64 - BOTTOM);
    let xmax = (points - 1).max(1) as f64;
    let px = |x: f64| x0 as f64 + (x1 - x0) as f64 * x / xmax;
    let py = |y: f64| y1 as f64 - (y1 - y0) as f64 * (y - lo) / (hi - lo);
    let grey = Rgb([200, 200, 200]);
    let black = Rgb([0, 0, 0]);
    for t in ticks(lo, hi) {
        let y = py(t).round() as i64;
        line(
            &mut img,
            (x0 as f64, y as f64),
            (x1 as f64, y as f64),
            grey,
            1,
        );
        let s = format_tick(t);
        text(&mut img, x0 - 8 - 8 * s.len() as i64, y - 4, &s, black, 1);
    }
    let (start, step) = labels.x_axis.unwrap_or((0.0, 1.0));
    let (a, b) = (start, start + step * xmax);
    for t in ticks(a.min(b), a.max(b)) {
        let x = px((t - start) / step).round() as i64;
        line(
            &mut img,
            (x as f64, y1 as f64),
            (x as f64, (y1 + 5) as f64),
            black,
            1,
        );
        let s = format_tick(t);
        text(&mut img, x - 4 * s.len() as i64, y1 + 10, &s, black, 1);
    }
    for (k, s) in series.iter().enumerate() {
        let c = COLOURS[k % COLOURS.len()];
        let band = Rgb(c.map(|v| (v as u16 + 3 * 255).div_euclid(4) as u8));
        for (i, (m, e)) in s.mean.iter().zip(&s.error).enumerate() {
            // A vertical band segment per point column (and between points).
            let next = (i + 1).min(s.mean.len() - 1);
            let (xa, xb) = (px(i as f64), px(next as f64));
            let steps = ((xb - xa).ceil() as usize).max(1);
            for j in 0..=steps {
                let f = j as f64 / steps as f64;
                let mm = m + f * (s.mean[next] - m);
                let ee = e + f * (s.error[next] - e);
                let x = xa + f * (xb - xa);
                line(&mut img, (x, py(mm + ee)), (x, py(mm - ee)), band, 1);
            }
        }
    }
    for (k, s) in series.iter().enumerate() {
        let c = Rgb(COLOURS[k % COLOURS.len()]);
        for i in 1..s.mean.len() {
            let a = (px((i - 1) as f64), py(s.mean[i - 1]));
            let b = (px(i as f64), py(s.mean[i]));
            line(&mut img, a, b, c, 2);
        }
        if s.mean.len() == 1 {
            let p = (px(0.0), py(s.mean[0]));
            line(&mut img, p, p, c, 4);
        }
    }
    // The legend in a boxed panel at the lower right, over the curves.
    let widest = series.iter().map(|s| s.label.len()).max().unwrap_or(0) as i64;
    let (bw, bh) = (8 * widest + 46, 14 * series.len() as i64 + 10);
    let (bx, by) = (x1 - bw - 8, y1 - bh - 8);
    for yy in by..=by + bh {
        let edge = yy == by || yy == by + bh;
        let c = if edge { grey } else { Rgb([255; 3]) };
        line(
            &mut img,
            (bx as f64, yy as f64),
            ((bx + bw) as f64, yy as f64),
            c,
            1,
        );
        put(&mut img, bx, yy, grey);
        put(&mut img, bx + bw, yy, grey);
    }
    for (k, s) in series.iter().enumerate() {
        let c = Rgb(COLOURS[k % COLOURS.len()]);
        let (lx, ly) = (bx + 8, by + 6 + 14 * k as i64);
        line(
            &mut img,
            (lx as f64, (ly + 4) as f64),
            ((lx + 22) as f64, (ly + 4) as f64),
            c,
            3,
        );
        text(&mut img, lx + 30, ly, &s.label, black, 1);
    }
    line(
        &mut img,
        (x0 as f64, y0 as f64),
        (x0 as f64, y1 as f64),
        black,
        1,
    );
    line(
        &mut img,
        (x0 as f64, y1 as f64),
        (x1 as f64, y1 as f64),
        black,
        1,
    );
    let tw = 16 * labels.title.len() as i64;
    text(&mut img, (W as i64 - tw) / 2, 14, &labels.title, black, 2);
    let xw = 8 * labels.x.len() as i64;
    text(
        &mut img,
        (x0 + x1 - xw) / 2,
        H as i64 - 22,
        &labels.x,
        black,
        1,
    );
    text(&mut img, 8, y0 - 20, &labels.y, black, 1);
    Ok(img)
}

/// About five round tick values in [lo, hi].
fn ticks(lo: f64, hi: f64) -> Vec<f64> {
    let raw = (hi - lo) / 5.0;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag);
    let first = (lo / step).ceil() as i64;
    let last = (hi / step).floor() as i64;
    (first..=last).map(|i| i as f64 * step).collect()
}

pub(crate) fn format_tick(v: f64) -> String {
    if v == v.round() && v.abs() < 1e6 {
        format!("{}", v as i64)
    } else if v.abs() >= 0.01 {
        let s = format!("{v:.3}");
        s.trim_end_matches('0').to_string()
    } else {
        format!("{v:.1e}")
    }
}

/// A line of `width` pixels from `a` to `b`.
fn line(img: &mut RgbImage, a: (f64, f64), b: (f64, f64), c: Rgb<u8>, width: i64) {
    let n = ((b.0 - a.0).abs().max((b.1 - a.1).abs()).ceil() as usize).max(1);
    for i in 0..=n {
        let t = i as f64 / n as f64;
        let (x, y) = (a.0 + t * (b.0 - a.0), a.1 + t * (b.1 - a.1));
        for dx in 0..width {
            for dy in 0..width {
                put(
                    img,
                    x.round() as i64 + dx - width / 2,
                    y.round() as i64 + dy - width / 2,
                    c,
                );
            }
        }
    }
}

pub(crate) fn put(img: &mut RgbImage, x: i64, y: i64, c: Rgb<u8>) {
    if x >= 0 && y >= 0 && x < img.width() as i64 && y < img.height() as i64 {
        img.put_pixel(x as u32, y as u32, c);
    }
}

/// ASCII text in the 8×8 font, each font pixel `scale`² image pixels.
pub(crate) fn text(img: &mut RgbImage, x: i64, y: i64, s: &str, c: Rgb<u8>, scale: i64) {
    for (i, ch) in s.chars().enumerate() {
        let glyph = font8x8::legacy::BASIC_LEGACY[(ch as usize).min(127)];
        for (row, bits) in glyph.iter().enumerate() {
            for col in 0..8 {
                if bits >> col & 1 == 1 {
                    for sx in 0..scale {
                        for sy in 0..scale {
                            let gx = x + (8 * i as i64 + col) * scale + sx;
                            put(img, gx, y + row as i64 * scale + sy, c);
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plot_draws_its_curves_in_their_colours() {
        let s = vec![
            Series {
                label: "lrp".into(),
                mean: vec![0.0, 0.5, 0.8, 0.9],
                error: vec![0.0, 0.05, 0.05, 0.02],
            },
            Series {
                label: "random".into(),
                mean: vec![0.0, 0.1, 0.2, 0.3],
                error: vec![0.0; 4],
            },
        ];
        let img = line_plot(&s, &Labels::default()).unwrap();
        let count = |c: [u8; 3]| img.pixels().filter(|p| p.0 == c).count();
        assert!(count(COLOURS[0]) > 500 && count(COLOURS[1]) > 500);
        assert!(ticks(0.0, 1.0).contains(&0.4));
        assert!(line_plot(&[], &Labels::default()).is_err());
        let nan = Series {
            label: "x".into(),
            mean: vec![f64::NAN],
            error: vec![0.0],
        };
        assert!(line_plot(&[nan], &Labels::default()).is_err());
    }
}
