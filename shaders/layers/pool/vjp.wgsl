// Backward of pooling, gathered per input element over the windows that contain it.
// `avg_pool`: the adjoint of average pooling, Σ s[o] / divisor(o), stored as
//   out (+)= coef · input_factor(x) · adjoint (the Norm rule's x ⊙ c, or the plain gradient).
// `max_pool`: winner-take-all: each window's value goes to the inputs equal to its maximum, split
//   equally among ties, so relevance is conserved even with overlapping windows.
// `max_pool_gradient`: the gradient: each window's value goes to its first (row-major) maximum,
//   PyTorch's tie rule (also LRP's ArgMax rule, as Zennit).
// `max_pool_deeplift`: Captum's DeepLIFT multiplier for max pooling, with the reference run's
//   items following the explained ones in x and y (see the entry).
// `max_pool_tiling`: the same for windows that tile the input exactly (stride = kernel, no
//   padding, every input in one window), one invocation per window: it loads the window once
//   instead of once per input (a third of the loads; what CPU adapters want).

struct Params {
    planes: u32, h: u32, w: u32, oh: u32,
    ow: u32, kh: u32, kw: u32, sy: u32,
    sx: u32, pt: u32, pl: u32, pb: u32,
    pr: u32, count_include_pad: u32, factor: u32, accumulate: u32,
    coef: f32, pad0: u32, pad1: u32, pad2: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> s: array<f32>;
@group(0) @binding(2) var<storage, read> x: array<f32>;
@group(0) @binding(3) var<storage, read> y: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;

// Output rows (or columns) whose window covers input coordinate v: [lo, hi).
fn covering(v: u32, pad: u32, k: u32, stride: u32, n: u32) -> vec2<u32> {
    let top = i32(v + pad);
    let lo = max(top - i32(k) + i32(stride), 0) / i32(stride);
    let hi = min(top / i32(stride) + 1, i32(n));
    return vec2<u32>(u32(lo), u32(max(hi, lo)));
}

fn divisor(i: u32, j: u32) -> f32 {
    let sy = i32(i * p.sy) - i32(p.pt);
    let sx = i32(j * p.sx) - i32(p.pl);
    let ey = sy + i32(p.kh);
    let ex = sx + i32(p.kw);
    if (p.count_include_pad != 0u) {
        return f32((min(ey, i32(p.h + p.pb)) - sy) * (min(ex, i32(p.w + p.pr)) - sx));
    }
    return f32((min(ey, i32(p.h)) - max(sy, 0)) * (min(ex, i32(p.w)) - max(sx, 0)));
}

fn store(e: u32, v: f32) {
    if (p.accumulate != 0u) { out[e] += v; } else { out[e] = v; }
}

@compute @workgroup_size(256)
fn avg_pool(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let e = flat_id(gid, nwg, 256u);
    if (e >= p.planes * p.h * p.w) { return; }
    let plane = e / (p.h * p.w);
    let rows = covering((e / p.w) % p.h, p.pt, p.kh, p.sy, p.oh);
    let cols = covering(e % p.w, p.pl, p.kw, p.sx, p.ow);
    var acc = 0.0;
    for (var i = rows.x; i < rows.y; i++) {
        for (var j = cols.x; j < cols.y; j++) {
            acc += s[(plane * p.oh + i) * p.ow + j] / divisor(i, j);
        }
    }
    store(e, p.coef * input_factor(p.factor, x[e], 0.0) * acc);
}

@compute @workgroup_size(256)
fn max_pool(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let e = flat_id(gid, nwg, 256u);
    if (e >= p.planes * p.h * p.w) { return; }
    let plane = e / (p.h * p.w);
    let xv = x[e];
    let rows = covering((e / p.w) % p.h, p.pt, p.kh, p.sy, p.oh);
    let cols = covering(e % p.w, p.pl, p.kw, p.sx, p.ow);
    var acc = 0.0;
    for (var i = rows.x; i < rows.y; i++) {
        for (var j = cols.x; j < cols.y; j++) {
            let o = (plane * p.oh + i) * p.ow + j;
            if (xv != y[o]) { continue; }
            // Count the window's ties.
            let y0 = u32(max(i32(i * p.sy) - i32(p.pt), 0));
            let x0 = u32(max(i32(j * p.sx) - i32(p.pl), 0));
            let y1 = u32(min(i32(i * p.sy) - i32(p.pt) + i32(p.kh), i32(p.h)));
            let x1 = u32(min(i32(j * p.sx) - i32(p.pl) + i32(p.kw), i32(p.w)));
            var ties = 0.0;
            for (var yy = y0; yy < y1; yy++) {
                for (var xx = x0; xx < x1; xx++) {
                    ties += select(0.0, 1.0, x[(plane * p.h + yy) * p.w + xx] == y[o]);
                }
            }
            acc += s[o] / ties;
        }
    }
    store(e, p.coef * acc);
}

// In-plane index (row · w + column) of the first (row-major) maximum of output (i, j)'s window
// among x[base + plane · h · w ..]: PyTorch's `return_indices` (padding never wins).
fn first_max(base: u32, plane: u32, i: u32, j: u32) -> u32 {
    let y0 = u32(max(i32(i * p.sy) - i32(p.pt), 0));
    let x0 = u32(max(i32(j * p.sx) - i32(p.pl), 0));
    let y1 = u32(min(i32(i * p.sy) - i32(p.pt) + i32(p.kh), i32(p.h)));
    let x1 = u32(min(i32(j * p.sx) - i32(p.pl) + i32(p.kw), i32(p.w)));
    var best = y0 * p.w + x0;
    var best_v = x[base + plane * p.h * p.w + best];
    for (var yy = y0; yy < y1; yy++) {
        for (var xx = x0; xx < x1; xx++) {
            let v = x[base + (plane * p.h + yy) * p.w + xx];
            if (v > best_v) { best_v = v; best = yy * p.w + xx; }
        }
    }
    return best;
}

@compute @workgroup_size(256)
fn max_pool_gradient(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let e = flat_id(gid, nwg, 256u);
    if (e >= p.planes * p.h * p.w) { return; }
    let plane = e / (p.h * p.w);
    let at = e % (p.h * p.w);
    let rows = covering(at / p.w, p.pt, p.kh, p.sy, p.oh);
    let cols = covering(at % p.w, p.pl, p.kw, p.sx, p.ow);
    var acc = 0.0;
    for (var i = rows.x; i < rows.y; i++) {
        for (var j = cols.x; j < cols.y; j++) {
            if (first_max(0u, plane, i, j) == at) { acc += s[(plane * p.oh + i) * p.ow + j]; }
        }
    }
    store(e, p.coef * acc);
}

// Captum's `maxpool` multiplier (captum/attr/_core/deep_lift.py): with y, y_r the pooled outputs
// of the input and of the reference and m = max(y, y_r), the window's s · (m − y_r) goes to the
// input's first maximum and s · (y − m) to the reference's first maximum, and the sum is divided
// by Δx = x − r; where |Δx| < 1e-10 the plain gradient instead. Reference items follow the
// explained ones: r = x[planes · h · w + e], y_r = y[planes · oh · ow + o].
@compute @workgroup_size(256)
fn max_pool_deeplift(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let e = flat_id(gid, nwg, 256u);
    if (e >= p.planes * p.h * p.w) { return; }
    let ref_x = p.planes * p.h * p.w;
    let ref_y = p.planes * p.oh * p.ow;
    let plane = e / (p.h * p.w);
    let at = e % (p.h * p.w);
    let rows = covering(at / p.w, p.pt, p.kh, p.sy, p.oh);
    let cols = covering(at % p.w, p.pl, p.kw, p.sx, p.ow);
    var plain = 0.0;
    var acc = 0.0;
    for (var i = rows.x; i < rows.y; i++) {
        for (var j = cols.x; j < cols.y; j++) {
            let o = (plane * p.oh + i) * p.ow + j;
            let m = max(y[o], y[ref_y + o]);
            if (first_max(0u, plane, i, j) == at) {
                plain += s[o];
                acc += s[o] * (m - y[ref_y + o]);
            }
            if (first_max(ref_x, plane, i, j) == at) { acc += s[o] * (y[o] - m); }
        }
    }
    let d = x[e] - x[ref_x + e];
    store(e, p.coef * select(acc / d, plain, abs(d) < 1e-10));
}

@compute @workgroup_size(64)
fn max_pool_tiling(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let o = flat_id(gid, nwg, 64u);
    if (o >= p.planes * p.oh * p.ow) { return; }
    let plane = o / (p.oh * p.ow);
    let y0 = ((o / p.ow) % p.oh) * p.kh;
    let x0 = (o % p.ow) * p.kw;
    let m = y[o];
    var ties = 0.0;
    for (var u = 0u; u < p.kh; u++) {
        for (var v = 0u; v < p.kw; v++) {
            ties += select(0.0, 1.0, x[(plane * p.h + y0 + u) * p.w + x0 + v] == m);
        }
    }
    let share = p.coef * s[o] / max(ties, 1.0);
    for (var u = 0u; u < p.kh; u++) {
        for (var v = 0u; v < p.kw; v++) {
            let e = (plane * p.h + y0 + u) * p.w + x0 + v;
            store(e, select(0.0, share, x[e] == m));
        }
    }
}
