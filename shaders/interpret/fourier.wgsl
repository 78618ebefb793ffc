// Lucid's decorrelated Fourier parameterisation of an image [n, C, H, W]:
//   x = lo + span · σ(M · irfft2(scale ⊙ θ) / 4)
// θ [n, C, H, K, 2] holds K = W/2 + 1 (real, imaginary) pairs per row of the half spectrum,
// irfft2 is the orthonormal real inverse DFT (torch.fft.irfftn, norm="ortho"), `scale` is
// 1 / max(|freq|, 1 / max(H, W))^decay and M Lucid's colour decorrelation matrix (the identity
// without decorrelation). Forward: `rows` (the inverse DFT along H), `pixels` (the real one along
// W), `color` (M and the sigmoid); the adjoint runs the same stages backwards.
// `t` holds cos and sin of 2πk/H and 2πk/W, the scale per (u, v), then M row-major.

struct Params { n: u32, c: u32, h: u32, w: u32, k: u32, decorrelate: u32, lo: f32, span: f32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read> t: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;

fn cos_h(q: u32) -> f32 { return t[q]; }
fn sin_h(q: u32) -> f32 { return t[p.h + q]; }
fn cos_w(q: u32) -> f32 { return t[2u * p.h + q]; }
fn sin_w(q: u32) -> f32 { return t[2u * p.h + p.w + q]; }
fn scale(u: u32, v: u32) -> f32 { return t[2u * (p.h + p.w) + u * p.k + v]; }
fn color(i: u32, j: u32) -> f32 { return t[2u * (p.h + p.w) + p.h * p.k + i * 3u + j]; }

// Column v counts twice in the real inverse (its conjugate partner is implied) except column 0
// and, for even W, column W/2, whose imaginary parts do not count at all.
fn paired(v: u32) -> bool { return v != 0u && 2u * v != p.w; }

// Y[n, c, h, v] = Σ_u S[u, v] e^{2πi·uh/H} with S = scale ⊙ θ / 4; one invocation per (n, c, h, v).
@compute @workgroup_size(256)
fn rows(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_id(gid, nwg, 256u);
    if (i >= p.n * p.c * p.h * p.k) { return; }
    let v = i % p.k;
    let hh = (i / p.k) % p.h;
    let plane = i / (p.k * p.h);
    var re = 0.0;
    var im = 0.0;
    for (var u = 0u; u < p.h; u++) {
        let j = ((plane * p.h + u) * p.k + v) * 2u;
        let s = 0.25 * scale(u, v);
        let sr = s * a[j];
        let si = s * a[j + 1u];
        let q = (u * hh) % p.h;
        re += sr * cos_h(q) - si * sin_h(q);
        im += sr * sin_h(q) + si * cos_h(q);
    }
    out[2u * i] = re;
    out[2u * i + 1u] = im;
}

// x̃[n, c, h, w] = Σ_v a_v Re(Y[h, v] e^{2πi·vw/W}) / √(HW); one invocation per value.
@compute @workgroup_size(256)
fn pixels(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_id(gid, nwg, 256u);
    if (i >= p.n * p.c * p.h * p.w) { return; }
    let ww = i % p.w;
    let row = i / p.w;
    var acc = 0.0;
    for (var v = 0u; v < p.k; v++) {
        let j = (row * p.k + v) * 2u;
        let q = (v * ww) % p.w;
        if (paired(v)) {
            acc += 2.0 * (a[j] * cos_w(q) - a[j + 1u] * sin_w(q));
        } else {
            acc += a[j] * cos_w(q);
        }
    }
    out[i] = acc / sqrt(f32(p.h * p.w));
}

// x = lo + span · σ(M x̃) per pixel; one invocation per (n, h, w).
@compute @workgroup_size(256)
fn color_forward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_id(gid, nwg, 256u);
    let plane = p.h * p.w;
    if (i >= p.n * plane) { return; }
    let pix = i % plane;
    let item = i / plane;
    for (var c = 0u; c < p.c; c++) {
        var z = 0.0;
        if (p.decorrelate != 0u) {
            for (var j = 0u; j < 3u; j++) { z += color(c, j) * a[(item * 3u + j) * plane + pix]; }
        } else {
            z = a[(item * p.c + c) * plane + pix];
        }
        out[(item * p.c + c) * plane + pix] = p.lo + p.span / (1.0 + exp(-z));
    }
}

// g̃ = Mᵀ (span · s(1 − s) ⊙ g) with s = (x − lo) / span: a is x, b is ∂J/∂x.
@compute @workgroup_size(256)
fn color_adjoint(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_id(gid, nwg, 256u);
    let plane = p.h * p.w;
    if (i >= p.n * plane) { return; }
    let pix = i % plane;
    let item = i / plane;
    for (var j = 0u; j < p.c; j++) {
        var acc = 0.0;
        for (var c = 0u; c < p.c; c++) {
            let at = (item * p.c + c) * plane + pix;
            let s = (a[at] - p.lo) / p.span;
            let gz = b[at] * p.span * s * (1.0 - s);
            if (p.decorrelate != 0u) {
                acc += color(c, j) * gz;
            } else if (c == j) {
                acc += gz;
            }
        }
        out[(item * p.c + j) * plane + pix] = acc;
    }
}

// The adjoint of `pixels`: ∂/∂Y[n, c, h, v] from g̃ (a); one invocation per (n, c, h, v).
@compute @workgroup_size(256)
fn pixels_adjoint(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_id(gid, nwg, 256u);
    if (i >= p.n * p.c * p.h * p.k) { return; }
    let v = i % p.k;
    let row = i / p.k;
    var re = 0.0;
    var im = 0.0;
    for (var ww = 0u; ww < p.w; ww++) {
        let g = a[row * p.w + ww];
        let q = (v * ww) % p.w;
        re += g * cos_w(q);
        im -= g * sin_w(q);
    }
    let norm = 1.0 / sqrt(f32(p.h * p.w));
    if (paired(v)) {
        out[2u * i] = 2.0 * norm * re;
        out[2u * i + 1u] = 2.0 * norm * im;
    } else {
        out[2u * i] = norm * re;
        out[2u * i + 1u] = 0.0;
    }
}

// The adjoint of `rows` and the scale: ∂/∂θ[n, c, u, v] from ∂/∂Y (a).
@compute @workgroup_size(256)
fn rows_adjoint(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_id(gid, nwg, 256u);
    if (i >= p.n * p.c * p.h * p.k) { return; }
    let v = i % p.k;
    let u = (i / p.k) % p.h;
    let plane = i / (p.k * p.h);
    var re = 0.0;
    var im = 0.0;
    for (var hh = 0u; hh < p.h; hh++) {
        let j = ((plane * p.h + hh) * p.k + v) * 2u;
        let q = (u * hh) % p.h;
        re += a[j] * cos_h(q) + a[j + 1u] * sin_h(q);
        im += a[j + 1u] * cos_h(q) - a[j] * sin_h(q);
    }
    let s = 0.25 * scale(u, v);
    out[2u * i] = s * re;
    out[2u * i + 1u] = s * im;
}
