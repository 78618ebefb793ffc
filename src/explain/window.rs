//! Sliding windows (Montavon, Samek & Müller 2017, §Recommendations and tricks): explain an
//! input larger than the model's by sliding the model over it, every window of every input in
//! one call to the method (its plan batches them), and stitching the windows' maps back into
//! place, summed, with the count of windows covering each pixel beside them.
//!
//! The score explained is the sum of the windows' target scores (every window's map counts) or
//! their maximum (only the best window's map counts). With the predicted class, the class is
//! the one whose summed (or largest) window score is highest; windows that predicted another
//! class are explained again for it.

use crate::error::{Error, Result};
use crate::explain::{argmax, Explainer, Explanation, Target};
use crate::model::Tensor;

/// How the windows' target scores make the explained score.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WindowScore {
    /// Their sum: every window's map is stitched in.
    Sum,
    /// Their maximum: only the best window's map is.
    Max,
}

/// Windows of the model's input size, `stride` pixels apart; the last row and column of
/// windows lie flush with the input's edge, so every pixel is covered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sliding {
    pub window: (usize, usize),
    pub stride: (usize, usize),
    pub score: WindowScore,
}

/// What sliding adds to an explanation.
#[derive(Clone, Debug)]
pub struct WindowExtras {
    /// Windows covering each pixel, `[H, W]` (the same for every input).
    pub coverage: Tensor,
    /// Each window's top-left corner (y, x).
    pub positions: Vec<(usize, usize)>,
    /// Each input's windows' target scores, `[N × windows]`.
    pub window_scores: Vec<f64>,
    /// With [`WindowScore::Max`], each input's best window.
    pub best: Option<Vec<usize>>,
}

impl WindowScore {
    /// Parses `sum` or `max`.
    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "sum" => Ok(WindowScore::Sum),
            "max" => Ok(WindowScore::Max),
            _ => Err(Error::Invalid(format!(
                "window score '{s}' is not sum or max"
            ))),
        }
    }
}

impl Sliding {
    /// The windows' top-left corners over an `h × w` input, row by row.
    pub fn positions(&self, h: usize, w: usize) -> Result<Vec<(usize, usize)>> {
        let ((wh, ww), (sy, sx)) = (self.window, self.stride);
        if wh > h || ww > w {
            return Err(Error::Shape(format!(
                "the window {wh}×{ww} is larger than the {h}×{w} input"
            )));
        }
        if sy == 0 || sx == 0 {
            return Err(Error::Invalid(
                "the window stride must be at least 1".into(),
            ));
        }
        if sy > wh || sx > ww {
            return Err(Error::Invalid(format!(
                "the stride {sy}×{sx} is larger than the {wh}×{ww} window: pixels between windows would be left out"
            )));
        }
        let along = |len: usize, win: usize, step: usize| {
            let mut v: Vec<usize> = (0..=len - win).step_by(step).collect();
            if *v.last().expect("0 is a position") != len - win {
                v.push(len - win);
            }
            v
        };
        let ys = along(h, wh, sy);
        let xs = along(w, ww, sx);
        Ok(ys
            .iter()
            .flat_map(|&y| xs.iter().map(move |&x| (y, x)))
            .collect())
    }
}

/// Explains `x` (`[N, C, H, W]`, larger than the model's input) window by window for `target`
/// and stitches the maps; the explanation's outputs are the windows' summed outputs (with
/// [`WindowScore::Max`], the best window's), its scores those of the explained score.
pub fn explain_windows(
    explainer: &mut Explainer,
    x: &Tensor,
    target: &Target,
    sliding: &Sliding,
) -> Result<Explanation> {
    let [n, c, h, w] = x.shape[..] else {
        return Err(Error::Shape(format!(
            "sliding windows cross images [N, C, H, W]; the inputs are {:?}",
            x.shape
        )));
    };
    let positions = sliding.positions(h, w)?;
    let (wh, ww) = sliding.window;
    let p = positions.len();
    let item = c * wh * ww;
    let mut windows = Vec::with_capacity(n * p * item);
    for input in x.data.chunks(c * h * w) {
        for &(y0, x0) in &positions {
            for ch in 0..c {
                for y in y0..y0 + wh {
                    let row = (ch * h + y) * w;
                    windows.extend_from_slice(&input[row + x0..row + x0 + ww]);
                }
            }
        }
    }
    let windows = Tensor::new(vec![n * p, c, wh, ww], windows)?;
    let mut each = explainer.explain(&windows, std::slice::from_ref(target))?;
    let f = each.outputs.shape[1];
    let outs = |k: usize| &each.outputs.data[k * f..(k + 1) * f];
    // The class (or weighting) each input is explained for, and its explained windows.
    let mut resolved = Vec::with_capacity(n);
    let mut best = Vec::with_capacity(n);
    for i in 0..n {
        let t = match (target, sliding.score) {
            (Target::Predicted, WindowScore::Sum) => {
                let mut sum = vec![0.0f64; f];
                for k in i * p..(i + 1) * p {
                    sum.iter_mut()
                        .zip(outs(k))
                        .for_each(|(s, &v)| *s += v as f64);
                }
                let sum: Vec<f32> = sum.iter().map(|&v| v as f32).collect();
                Target::Class(argmax(&sum))
            }
            (Target::Predicted, WindowScore::Max) => {
                let k = (i * p..(i + 1) * p)
                    .max_by(|&a, &b| max_of(outs(a)).total_cmp(&max_of(outs(b))))
                    .expect("at least one window");
                Target::Class(argmax(outs(k)))
            }
            (t, _) => t.clone(),
        };
        resolved.push(t);
    }
    // Windows whose own prediction is not their input's class are explained again for it
    // (with the maximum, the best window's prediction is the class).
    let again: Vec<usize> = (0..n * p)
        .filter(|&k| matches!(resolved[k / p], Target::Class(c) if each.classes[k] != c))
        .collect();
    let summed = sliding.score == WindowScore::Sum;
    if matches!(target, Target::Predicted) && summed && !again.is_empty() {
        let mut data = Vec::with_capacity(again.len() * item);
        for &k in &again {
            data.extend_from_slice(&windows.data[k * item..(k + 1) * item]);
        }
        let redo = Tensor::new(vec![again.len(), c, wh, ww], data)?;
        let targets: Vec<Target> = again.iter().map(|&k| resolved[k / p].clone()).collect();
        let maps = explainer.explain(&redo, &targets)?;
        let mi = maps.map.numel() / again.len();
        for (j, &k) in again.iter().enumerate() {
            each.map.data[k * mi..(k + 1) * mi]
                .copy_from_slice(&maps.map.data[j * mi..(j + 1) * mi]);
        }
    }
    let [_, mc, mh, mw] = each.map.shape[..] else {
        return Err(Error::Shape(
            "sliding windows need image-shaped maps".into(),
        ));
    };
    if (mh, mw) != (wh, ww) {
        return Err(Error::Shape(format!(
            "the method's maps are {mh}×{mw}, not the window's {wh}×{ww}"
        )));
    }
    let mut window_scores: Vec<f64> = Vec::with_capacity(n * p);
    for (i, t) in resolved.iter().enumerate() {
        for k in i * p..(i + 1) * p {
            let wts = t.weights_for(outs(k))?;
            window_scores.push(
                wts.iter()
                    .zip(outs(k))
                    .map(|(a, b)| *a as f64 * *b as f64)
                    .sum(),
            );
        }
        if sliding.score == WindowScore::Max {
            let scores = &window_scores[i * p..(i + 1) * p];
            best.push(
                (0..p)
                    .max_by(|&a, &b| scores[a].total_cmp(&scores[b]))
                    .unwrap_or(0),
            );
        }
    }
    // Stitch: every window (or the best) added into place; coverage counts every window.
    let mut map = vec![0.0f64; n * mc * h * w];
    let mut coverage = vec![0.0f32; h * w];
    for &(y0, x0) in &positions {
        for y in y0..y0 + wh {
            coverage[y * w + x0..y * w + x0 + ww]
                .iter_mut()
                .for_each(|v| *v += 1.0);
        }
    }
    let mut outputs = vec![0.0f32; n * f];
    let mi = mc * wh * ww;
    for i in 0..n {
        let chosen: Vec<usize> = match sliding.score {
            WindowScore::Sum => (0..p).collect(),
            WindowScore::Max => vec![best[i]],
        };
        let mut out = vec![0.0f64; f];
        for j in chosen {
            let k = i * p + j;
            out.iter_mut()
                .zip(outs(k))
                .for_each(|(o, &v)| *o += v as f64);
            let (y0, x0) = positions[j];
            let m = &each.map.data[k * mi..(k + 1) * mi];
            for ch in 0..mc {
                for y in 0..wh {
                    for xx in 0..ww {
                        map[((i * mc + ch) * h + y0 + y) * w + x0 + xx] +=
                            m[(ch * wh + y) * ww + xx] as f64;
                    }
                }
            }
        }
        outputs[i * f..(i + 1) * f]
            .iter_mut()
            .zip(&out)
            .for_each(|(o, &v)| *o = v as f32);
    }
    let mut e = Explanation::new(
        Tensor::new(vec![n, mc, h, w], map.iter().map(|&v| v as f32).collect())?,
        Tensor::new(vec![n, f], outputs)?,
        &resolved,
    )?;
    // The explained score as the windows give it (the sum of f32 outputs can round apart).
    e.scores = (0..n)
        .map(|i| {
            let s = &window_scores[i * p..(i + 1) * p];
            match sliding.score {
                WindowScore::Sum => s.iter().sum(),
                WindowScore::Max => s[best[i]],
            }
        })
        .collect();
    e.windows = Some(WindowExtras {
        coverage: Tensor::new(vec![h, w], coverage)?,
        positions,
        window_scores,
        best: (sliding.score == WindowScore::Max).then_some(best),
    });
    Ok(e)
}

fn max_of(v: &[f32]) -> f32 {
    v.iter().cloned().fold(f32::NEG_INFINITY, f32::max)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_cover_every_pixel_and_the_last_lies_on_the_edge() {
        let s = Sliding {
            window: (4, 3),
            stride: (3, 2),
            score: WindowScore::Sum,
        };
        let p = s.positions(9, 6).unwrap();
        // y: 0, 3, 5 (flush); x: 0, 2, 3 (flush).
        assert_eq!(p.len(), 9);
        assert_eq!(p[0], (0, 0));
        assert_eq!(p[8], (5, 3));
        assert!(p.contains(&(3, 2)));
        assert_eq!(s.positions(4, 3).unwrap(), [(0, 0)]);
        assert!(s.positions(3, 6).is_err());
        assert!(WindowScore::parse("mean").is_err());
    }
}
