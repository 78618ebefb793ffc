//! The translation trick (Montavon, Samek & Müller 2017, §Recommendations and tricks): explain
//! N × N copies of the input shifted by a few pixels, shift each map back and average, so the
//! grid that a large first-layer stride or noisy first-layer filters print on a heatmap
//! averages out. For any method: every shifted copy of every input goes through the method in
//! one call (its plan batches them), explained for the class the unshifted input was explained
//! for.

use crate::error::{Error, Result};
use crate::explain::explanation::target_of;
use crate::explain::{Explainer, Explanation, Target};
use crate::model::Tensor;

/// N × N shifts by multiples of a step, centred on the input: offsets
/// `(k − ⌊(N − 1) / 2⌋) · step` for k = 0 … N − 1 along each axis, so (0, 0) is one of them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Translation {
    /// Shifts per axis.
    pub n: usize,
    /// Pixels between neighbouring shifts.
    pub step: usize,
}

impl Translation {
    /// Parses `N` or `N,STEP` (step 1 by default).
    pub fn parse(s: &str) -> Result<Translation> {
        let bad = || {
            Error::Invalid(format!(
                "--translate {s}: expected N or N,STEP (shifts per axis, pixels between them), both at least 1"
            ))
        };
        let (n, step) = match s.split_once(',') {
            Some((n, step)) => (n, step),
            None => (s, "1"),
        };
        let n: usize = n.trim().parse().map_err(|_| bad())?;
        let step: usize = step.trim().parse().map_err(|_| bad())?;
        if n == 0 || step == 0 {
            return Err(bad());
        }
        Ok(Translation { n, step })
    }

    /// The shifts (dy, dx), (0, 0) first.
    pub fn offsets(&self) -> Vec<(isize, isize)> {
        let centre = (self.n as isize - 1) / 2;
        let along: Vec<isize> = (0..self.n as isize)
            .map(|k| (k - centre) * self.step as isize)
            .collect();
        let mut out = vec![(0, 0)];
        for &dy in &along {
            for &dx in &along {
                if (dy, dx) != (0, 0) {
                    out.push((dy, dx));
                }
            }
        }
        out
    }
}

/// Explains `x` (`[N, C, H, W]`) averaged over the translation's shifts. Pixels shifted in
/// from outside the input are 0; each output pixel averages the copies that kept it inside
/// (the unshifted copy always does). Everything but the map is the unshifted explanation's.
pub fn explain_translated(
    explainer: &mut Explainer,
    x: &Tensor,
    targets: &[Target],
    translation: Translation,
) -> Result<Explanation> {
    let [n, c, h, w] = x.shape[..] else {
        return Err(Error::Shape(format!(
            "--translate shifts images [N, C, H, W]; the inputs are {:?}",
            x.shape
        )));
    };
    let reach = (translation.n - 1) * translation.step;
    if reach >= h.min(w) {
        return Err(Error::Invalid(format!(
            "--translate {},{}: shifts of up to {reach} pixels leave nothing of a {h}×{w} input",
            translation.n, translation.step
        )));
    }
    let mut plain = explainer.explain(x, targets)?;
    let offsets = translation.offsets();
    if offsets.len() == 1 {
        return Ok(plain);
    }
    // Every shifted copy explains the class its unshifted input was explained for.
    let resolved: Vec<Target> = (0..n)
        .map(|i| match target_of(targets, i) {
            Target::Predicted => Target::Class(plain.classes[i]),
            t => t.clone(),
        })
        .collect();
    let shifted = &offsets[1..];
    let item = c * h * w;
    let mut data = Vec::with_capacity(n * shifted.len() * item);
    let mut copy_targets = Vec::with_capacity(n * shifted.len());
    for (input, target) in x.data.chunks(item).zip(&resolved) {
        for &(dy, dx) in shifted {
            let start = data.len();
            data.resize(start + item, 0.0);
            // copy(y, x) = input(y − dy, x − dx)
            shift(input, &mut data[start..], (c, h, w), (dy, dx));
            copy_targets.push(target.clone());
        }
    }
    let copies = Tensor::new(vec![n * shifted.len(), c, h, w], data)?;
    let maps = explainer.explain(&copies, &copy_targets)?.map;
    let mc = plain.map.shape[1];
    let (mh, mw) = (plain.map.shape[2], plain.map.shape[3]);
    if (mh, mw) != (h, w) {
        return Err(Error::Shape(format!(
            "--translate: the method's maps are {mh}×{mw}, not the input's {h}×{w}"
        )));
    }
    let map_item = mc * h * w;
    let mut out = Vec::with_capacity(plain.map.numel());
    let mut back = vec![0.0f32; map_item];
    for i in 0..n {
        let mut sum: Vec<f64> = plain.map.data[i * map_item..(i + 1) * map_item]
            .iter()
            .map(|&v| v as f64)
            .collect();
        let mut count = vec![1u32; h * w];
        for (k, &(dy, dx)) in shifted.iter().enumerate() {
            let j = i * shifted.len() + k;
            let m = &maps.data[j * map_item..(j + 1) * map_item];
            // back(y, x) = m(y + dy, x + dx), where that lies inside the copy.
            back.fill(0.0);
            shift(m, &mut back, (mc, h, w), (-dy, -dx));
            for y in 0..h {
                for xx in 0..w {
                    let (sy, sx) = (y as isize + dy, xx as isize + dx);
                    if sy < 0 || sx < 0 || sy >= h as isize || sx >= w as isize {
                        continue;
                    }
                    count[y * w + xx] += 1;
                    for ch in 0..mc {
                        let at = (ch * h + y) * w + xx;
                        sum[at] += back[at] as f64;
                    }
                }
            }
        }
        out.extend(
            sum.iter()
                .enumerate()
                .map(|(at, &s)| (s / count[at % (h * w)] as f64) as f32),
        );
    }
    plain.map = Tensor::new(plain.map.shape.clone(), out)?;
    Ok(plain)
}

/// `to(ch, y, x) = from(ch, y − dy, x − dx)` where that lies inside; the rest is left as is.
fn shift(from: &[f32], to: &mut [f32], (c, h, w): (usize, usize, usize), (dy, dx): (isize, isize)) {
    for ch in 0..c {
        for y in 0..h {
            let sy = y as isize - dy;
            if sy < 0 || sy >= h as isize {
                continue;
            }
            for x in 0..w {
                let sx = x as isize - dx;
                if sx < 0 || sx >= w as isize {
                    continue;
                }
                to[(ch * h + y) * w + x] = from[(ch * h + sy as usize) * w + sx as usize];
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_are_centred_and_start_unshifted() {
        let t = Translation::parse("3,2").unwrap();
        let o = t.offsets();
        assert_eq!(o.len(), 9);
        assert_eq!(o[0], (0, 0));
        assert!(o.contains(&(-2, -2)) && o.contains(&(2, 2)) && !o.contains(&(4, 0)));
        assert_eq!(
            Translation::parse("2").unwrap().offsets(),
            [(0, 0), (0, 1), (1, 0), (1, 1)]
        );
        for bad in ["0", "3,0", "x", "2,a"] {
            assert!(Translation::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn shifting_moves_values_and_leaves_the_border() {
        let from: Vec<f32> = (0..9).map(|v| v as f32).collect();
        let mut to = vec![-1.0; 9];
        shift(&from, &mut to, (1, 3, 3), (1, -1));
        // to(y, x) = from(y − 1, x + 1)
        assert_eq!(to, [-1.0, -1.0, -1.0, 1.0, 2.0, -1.0, 4.0, 5.0, -1.0]);
    }
}
