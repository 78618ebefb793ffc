//! Lucid's decorrelated Fourier parameterisation (Olah et al., *Feature Visualization*, 2017):
//! the ascent moves a scaled half spectrum θ instead of the pixels,
//! `x = lo + span · σ(M · irfft2(scale ⊙ θ) / 4)`, so that every frequency moves at the same
//! speed (natural images' spectra fall as 1/f) and colours move along decorrelated axes. The
//! GPU stages are in `shaders/interpret/fourier.wgsl`; this file holds their f64 mirror and the
//! inverse map that turns a start image into its spectrum.

use crate::error::{Error, Result};
use crate::plan::{Launch, Out, Program, Resource, TensorId};
use std::f64::consts::TAU;

/// The parameterisation's settings (Lucid's `param.image(…, fft=True, decorrelate=True)`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Fourier {
    /// Mix the three colour channels by Lucid's decorrelation matrix (RGB inputs only).
    pub decorrelate: bool,
    /// The exponent of the frequency scale `1 / max(|f|, 1 / max(H, W))^decay` (Lucid: 1).
    pub decay: f32,
}

impl Default for Fourier {
    fn default() -> Self {
        Fourier {
            decorrelate: true,
            decay: 1.0,
        }
    }
}

/// Lucid's `color_correlation_svd_sqrt`, divided by its largest column norm.
fn color_matrix() -> [[f64; 3]; 3] {
    let m = [[0.26, 0.09, 0.02], [0.27, 0.00, -0.05], [0.27, -0.09, 0.03]];
    let norm = (0..3)
        .map(|j| (0..3).map(|i| m[i][j] * m[i][j]).sum::<f64>().sqrt())
        .fold(0.0, f64::max);
    m.map(|row| row.map(|v| v / norm))
}

/// The geometry of one parameterised image `[C, H, W]` in a range.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Spectrum {
    pub c: usize,
    pub h: usize,
    pub w: usize,
    /// Columns of the half spectrum, `W/2 + 1`.
    pub k: usize,
    pub fourier: Fourier,
    pub lo: f64,
    pub span: f64,
}

crate::params! {
    /// Items, `[C, H, W]`, half-spectrum columns, decorrelation, and the range.
    pub struct FourierParams {
        pub n: u32, pub c: u32, pub h: u32, pub w: u32,
        pub k: u32, pub decorrelate: u32, pub lo: f32, pub span: f32,
    }
}

crate::kernel!(
    /// The spectrum → image map and its adjoint.
    pub FOURIER: FourierParams = "interpret/fourier"
);

impl Spectrum {
    /// The geometry for an input of `shape` in `range`; fails on inputs it cannot serve.
    pub fn new(shape: &[usize], range: (f32, f32), fourier: Fourier) -> Result<Spectrum> {
        let [c, h, w] = *shape else {
            return Err(Error::Invalid(format!(
                "the Fourier parameterisation needs a [C, H, W] input; this one is {shape:?}"
            )));
        };
        if fourier.decorrelate && c != 3 {
            return Err(Error::Invalid(format!(
                "colour decorrelation needs 3 channels; this input has {c} (turn it off)"
            )));
        }
        if !(range.0.is_finite() && range.1.is_finite() && range.0 < range.1) {
            return Err(Error::Invalid(format!(
                "the Fourier parameterisation maps onto a finite input range; got {range:?}"
            )));
        }
        if !(fourier.decay.is_finite() && fourier.decay >= 0.0) {
            return Err(Error::Invalid(format!(
                "the spectrum's decay must be ≥ 0, got {}",
                fourier.decay
            )));
        }
        Ok(Spectrum {
            c,
            h,
            w,
            k: w / 2 + 1,
            fourier,
            lo: range.0 as f64,
            span: range.1 as f64 - range.0 as f64,
        })
    }

    /// Values of θ per item.
    pub fn values_per_item(&self) -> usize {
        self.c * self.h * self.k * 2
    }

    fn image_len(&self) -> usize {
        self.c * self.h * self.w
    }

    /// `scale[u, v]`, as Lucid's `rfft2d_freqs` and `fft_image` compute it.
    fn scale(&self, u: usize, v: usize) -> f64 {
        let fy = if u < self.h.div_ceil(2) {
            u as f64
        } else {
            u as f64 - self.h as f64
        } / self.h as f64;
        let fx = v as f64 / self.w as f64;
        let f = (fy * fy + fx * fx).sqrt();
        1.0 / f
            .max(1.0 / self.h.max(self.w) as f64)
            .powf(self.fourier.decay as f64)
    }

    fn paired(&self, v: usize) -> bool {
        v != 0 && 2 * v != self.w
    }

    /// The kernel's table: cos and sin of 2πq/H and 2πq/W, the scale, then M.
    fn table(&self) -> Vec<f32> {
        let turn = |n: usize, f: fn(f64) -> f64| (0..n).map(move |q| f(TAU * q as f64 / n as f64));
        let mut t: Vec<f64> = turn(self.h, f64::cos).collect();
        t.extend(turn(self.h, f64::sin));
        t.extend(turn(self.w, f64::cos));
        t.extend(turn(self.w, f64::sin));
        for u in 0..self.h {
            t.extend((0..self.k).map(|v| self.scale(u, v)));
        }
        t.extend(color_matrix().iter().flatten());
        t.into_iter().map(|v| v as f32).collect()
    }

    fn params(&self, n: usize) -> FourierParams {
        FourierParams {
            n: n as u32,
            c: self.c as u32,
            h: self.h as u32,
            w: self.w as u32,
            k: self.k as u32,
            decorrelate: self.fourier.decorrelate as u32,
            lo: self.lo as f32,
            span: self.span as f32,
        }
    }

    /// Records `x = image(θ)` for `n` items.
    pub fn record_image(
        &self,
        p: &mut Program,
        n: usize,
        theta: TensorId,
        x: TensorId,
    ) -> Result<()> {
        let table = Resource::Const(p.constant("Fourier table", self.table())?);
        let y = p.tensor("spectrum rows", n * self.values_per_item())?;
        let flat = p.tensor("decorrelated image", n * self.image_len())?;
        let params = self.params(n);
        let stages = [
            ("rows", theta, y, n * self.c * self.h * self.k),
            ("pixels", y, flat, n * self.image_len()),
            ("color_forward", flat, x, n * self.h * self.w),
        ];
        for (entry, src, dst, count) in stages {
            let bindings = vec![
                (1, Resource::Tensor(src)),
                (3, table.clone()),
                (4, Resource::Tensor(dst)),
            ];
            let launch = Launch::Flat {
                count: count as u64,
                size: 256,
            };
            p.pass(&FOURIER, entry, &params, bindings, Out::Write(dst), launch)?;
        }
        Ok(())
    }

    /// Records `gθ = Jᵀ g`, the ascent direction on θ from the one on `x = image(θ)`.
    pub fn record_adjoint(
        &self,
        p: &mut Program,
        n: usize,
        (x, g): (TensorId, TensorId),
        g_theta: TensorId,
    ) -> Result<()> {
        let table = Resource::Const(p.constant("Fourier table", self.table())?);
        let flat = p.tensor("decorrelated gradient", n * self.image_len())?;
        let y = p.tensor("spectrum rows gradient", n * self.values_per_item())?;
        let params = self.params(n);
        let per_pixel = Launch::Flat {
            count: (n * self.h * self.w) as u64,
            size: 256,
        };
        let bindings = vec![
            (1, Resource::Tensor(x)),
            (2, Resource::Tensor(g)),
            (3, table.clone()),
            (4, Resource::Tensor(flat)),
        ];
        p.pass(
            &FOURIER,
            "color_adjoint",
            &params,
            bindings,
            Out::Write(flat),
            per_pixel,
        )?;
        for (entry, src, dst) in [("pixels_adjoint", flat, y), ("rows_adjoint", y, g_theta)] {
            let bindings = vec![
                (1, Resource::Tensor(src)),
                (3, table.clone()),
                (4, Resource::Tensor(dst)),
            ];
            let launch = Launch::Flat {
                count: (n * self.c * self.h * self.k) as u64,
                size: 256,
            };
            p.pass(&FOURIER, entry, &params, bindings, Out::Write(dst), launch)?;
        }
        Ok(())
    }

    /// The images of `n` spectra (f64, as the kernels define them).
    pub fn image(&self, theta: &[f64]) -> Vec<f64> {
        let (h, w, k) = (self.h, self.w, self.k);
        let norm = 1.0 / ((h * w) as f64).sqrt();
        let mut flat = Vec::with_capacity(theta.len() / self.values_per_item() * self.image_len());
        for th in theta.chunks(h * k * 2) {
            let mut s = th.to_vec();
            self.scale_by(&mut s, 0.25);
            let y = dft_rows(&s, h, k, 1.0);
            for hh in 0..h {
                for ww in 0..w {
                    let mut acc = 0.0;
                    for v in 0..k {
                        let b = TAU * ((v * ww) % w) as f64 / w as f64;
                        let (re, im) = (y[(hh * k + v) * 2], y[(hh * k + v) * 2 + 1]);
                        acc += if self.paired(v) {
                            2.0 * (re * b.cos() - im * b.sin())
                        } else {
                            re * b.cos()
                        };
                    }
                    flat.push(acc * norm);
                }
            }
        }
        let sigmoid = |z: f64| self.lo + self.span / (1.0 + (-z).exp());
        self.per_pixel(&flat, |v| {
            self.mixed(v, false).into_iter().map(sigmoid).collect()
        })
    }

    /// `Jᵀ g` at `theta` (f64).
    pub fn adjoint(&self, theta: &[f64], g: &[f64]) -> Vec<f64> {
        let x = self.image(theta);
        let (h, w, k) = (self.h, self.w, self.k);
        let dz: Vec<f64> = x
            .iter()
            .zip(g)
            .map(|(&xv, &gv)| {
                let s = (xv - self.lo) / self.span;
                gv * self.span * s * (1.0 - s)
            })
            .collect();
        let flat = self.per_pixel(&dz, |v| self.mixed(v, true));
        let norm = 1.0 / ((h * w) as f64).sqrt();
        let mut out = Vec::with_capacity(theta.len());
        for gx in flat.chunks(h * w) {
            let mut gy = dft_columns(gx, h, w, k);
            for (i, pair) in gy.chunks_mut(2).enumerate() {
                let (fr, fi) = if self.paired(i % k) {
                    (2.0, 2.0)
                } else {
                    (1.0, 0.0)
                };
                pair[0] *= fr * norm;
                pair[1] *= fi * norm;
            }
            let mut o = dft_rows(&gy, h, k, -1.0);
            self.scale_by(&mut o, 0.25);
            out.extend(o);
        }
        out
    }

    /// The spectrum whose image is `x` (values at the range's ends move 10⁻⁶·span inside,
    /// where the sigmoid is finite): how a start image enters the parameterisation.
    pub fn spectrum_of(&self, x: &[f64]) -> Vec<f64> {
        let (h, w, k) = (self.h, self.w, self.k);
        let logit = |v: f64| {
            let s = ((v - self.lo) / self.span).clamp(1e-6, 1.0 - 1e-6);
            (s / (1.0 - s)).ln()
        };
        let z: Vec<f64> = x.iter().map(|&v| logit(v)).collect();
        let flat = if self.fourier.decorrelate {
            let inv = nalgebra::Matrix3::from_fn(|i, j| color_matrix()[i][j])
                .try_inverse()
                .expect("Lucid's colour matrix is invertible");
            self.per_pixel(&z, |v| {
                (inv * nalgebra::Vector3::new(v[0], v[1], v[2]))
                    .iter()
                    .copied()
                    .collect()
            })
        } else {
            z
        };
        let norm = 1.0 / ((h * w) as f64).sqrt();
        let mut theta = Vec::with_capacity(flat.len() / (h * w) * h * k * 2);
        for img in flat.chunks(h * w) {
            // θ = 4 · rfft2(x̃) / scale, rfft2 orthonormal.
            let mut t = dft_rows(&dft_columns(img, h, w, k), h, k, -1.0);
            for (i, pair) in t.chunks_mut(2).enumerate() {
                let f = 4.0 * norm / self.scale(i / k, i % k);
                pair[0] *= f;
                pair[1] *= f;
            }
            theta.extend(t);
        }
        theta
    }

    /// Multiplies each (real, imaginary) pair of one plane by `f · scale[u, v]`.
    fn scale_by(&self, s: &mut [f64], f: f64) {
        for (i, pair) in s.chunks_mut(2).enumerate() {
            let m = f * self.scale(i / self.k, i % self.k);
            pair[0] *= m;
            pair[1] *= m;
        }
    }

    /// One pixel's channels mixed by M (`transpose`: by Mᵀ); unchanged without decorrelation.
    fn mixed(&self, v: &[f64], transpose: bool) -> Vec<f64> {
        if !self.fourier.decorrelate {
            return v.to_vec();
        }
        let m = color_matrix();
        (0..3)
            .map(|i| {
                (0..3)
                    .map(|j| if transpose { m[j][i] } else { m[i][j] } * v[j])
                    .sum()
            })
            .collect()
    }

    /// `f` of every pixel's channels.
    fn per_pixel(&self, z: &[f64], f: impl Fn(&[f64]) -> Vec<f64>) -> Vec<f64> {
        let plane = self.h * self.w;
        let mut out = vec![0.0; z.len()];
        for item in 0..z.len() / self.image_len() {
            for pix in 0..plane {
                let at = |c: usize| (item * self.c + c) * plane + pix;
                let v: Vec<f64> = (0..self.c).map(|c| z[at(c)]).collect();
                for (c, o) in f(&v).into_iter().enumerate() {
                    out[at(c)] = o;
                }
            }
        }
        out
    }
}

/// `Σ_u a[u, v] e^{±2πi·uh/H}` per (h, v) of one plane of (real, imaginary) pairs `[H, K]`.
fn dft_rows(a: &[f64], h: usize, k: usize, sign: f64) -> Vec<f64> {
    let mut out = vec![0.0; h * k * 2];
    for hh in 0..h {
        for v in 0..k {
            let (mut re, mut im) = (0.0, 0.0);
            for u in 0..h {
                let angle = TAU * ((u * hh) % h) as f64 / h as f64;
                let (c, s) = (angle.cos(), sign * angle.sin());
                let (ar, ai) = (a[(u * k + v) * 2], a[(u * k + v) * 2 + 1]);
                re += ar * c - ai * s;
                im += ar * s + ai * c;
            }
            out[(hh * k + v) * 2] = re;
            out[(hh * k + v) * 2 + 1] = im;
        }
    }
    out
}

/// `Σ_w x[h, w] e^{−2πi·vw/W}` per (h, v) of one real plane `[H, W]`.
fn dft_columns(x: &[f64], h: usize, w: usize, k: usize) -> Vec<f64> {
    let mut out = vec![0.0; h * k * 2];
    for hh in 0..h {
        for v in 0..k {
            let (mut re, mut im) = (0.0, 0.0);
            for ww in 0..w {
                let b = TAU * ((v * ww) % w) as f64 / w as f64;
                re += x[hh * w + ww] * b.cos();
                im -= x[hh * w + ww] * b.sin();
            }
            out[(hh * k + v) * 2] = re;
            out[(hh * k + v) * 2 + 1] = im;
        }
    }
    out
}
