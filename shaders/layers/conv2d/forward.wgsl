// 2-D convolution as an implicit GEMM per image and group:
//   y[n, g·Mg + m, p] = bias + Σ_k W[g, k, m] · patch[n, g, k, p],  k = (c, u, v), p = (i, j).
// The weight is packed once at plan time as [groups][K][Mg rounded up to 4] (zero padded), so
// one vec4 load gives four output channels.
// `input` feeds x, max(x, 0) or min(x, 0) (FACTOR_X, _POSITIVE, _NEGATIVE), and `accumulate` adds to y instead of
// overwriting it: together they compute the z terms of the LRP rules without copies.
// Two variants: `registers` (4 channels × 4 pixels per invocation, no shared memory: CPU
// rasterisers such as lavapipe) and `tiled` (64×64 tiles in workgroup memory: real GPUs).

struct Params {
    n: u32, cin: u32, h: u32, w: u32,
    cout: u32, oh: u32, ow: u32, groups: u32,
    kh: u32, kw: u32, sy: u32, sx: u32,
    pt: u32, pl: u32, dy: u32, dx: u32,
    has_bias: u32, input: u32, accumulate: u32, pad0: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> wp: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> y: array<f32>;

// Input value at patch row k of pixel pix for image n, group g (0 in the padding).
fn im2col_value(n: u32, g: u32, k: u32, pix: u32) -> f32 {
    let cin_g = p.cin / p.groups;
    let khw = p.kh * p.kw;
    let c = k / khw;
    let r = k % khw;
    let iy = i32((pix / p.ow) * p.sy + (r / p.kw) * p.dy) - i32(p.pt);
    let ix = i32((pix % p.ow) * p.sx + (r % p.kw) * p.dx) - i32(p.pl);
    if (iy < 0 || ix < 0 || iy >= i32(p.h) || ix >= i32(p.w)) { return 0.0; }
    return modify(x[((n * p.cin + g * cin_g + c) * p.h + u32(iy)) * p.w + u32(ix)]);
}

fn modify(v: f32) -> f32 {
    switch p.input {
        case FACTOR_POSITIVE: { return max(v, 0.0); }
        case FACTOR_NEGATIVE: { return min(v, 0.0); }
        default: { return v; }
    }
}

fn store(n: u32, g: u32, m: u32, pix: u32, v: f32) {
    let mg = p.cout / p.groups;
    if (m >= mg || pix >= p.oh * p.ow) { return; }
    let o = g * mg + m;
    var b = 0.0;
    if (p.has_bias != 0u) { b = bias[o]; }
    let at = (n * p.cout + o) * p.oh * p.ow + pix;
    if (p.accumulate != 0u) {
        y[at] += v + b;
    } else {
        y[at] = v + b;
    }
}

// Channel quads per invocation of `registers` (1 or 2), chosen per layer from its channel
// count; the code it guards is removed when the pipeline is specialised.
override QUADS: u32 = 1u;

// The input under tap (iy, ix) of a plane, 0 in the padding. Branch-free: lavapipe runs both
// sides of a divergent branch under masks.
fn tap(plane: u32, iy: i32, ix: i32) -> f32 {
    let inside = iy >= 0 && ix >= 0 && iy < i32(p.h) && ix < i32(p.w);
    let at = select(0u, (plane + u32(iy)) * p.w + u32(ix), inside);
    return select(0.0, modify(x[at]), inside);
}

// The four taps of one kernel column for the invocation's four pixels.
fn taps4(plane: u32, iy: i32, ix: vec4<i32>) -> vec4<f32> {
    return vec4<f32>(tap(plane, iy, ix.x), tap(plane, iy, ix.y), tap(plane, iy, ix.z), tap(plane, iy, ix.w));
}

// Four horizontally adjacent output pixels × 4·QUADS channels per invocation. The channel
// block and the image come from the workgroup id, so every lane of a workgroup reads the same
// weights (one scalar load on lavapipe instead of a per-lane gather); at unit horizontal
// stride and dilation the four pixels' taps slide along the row, one new load per tap.
@compute @workgroup_size(64)
fn registers(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
    let mg = p.cout / p.groups;
    let mg4 = (mg + 3u) / 4u;
    let xblocks = (p.ow + 3u) / 4u;
    let pb = gid.x;
    if (pb >= p.oh * xblocks) { return; }
    let q0 = wid.y * QUADS;
    let q1 = min(q0 + 1u, mg4 - 1u);
    let g = wid.z % p.groups;
    let n = wid.z / p.groups;
    let cin_g = p.cin / p.groups;
    let kk = cin_g * p.kh * p.kw;
    let row = pb / xblocks;
    let col = (pb % xblocks) * 4u;
    let oy = i32(row * p.sy) - i32(p.pt);
    let ox = vec4<i32>(vec4<u32>(col, col + 1u, col + 2u, col + 3u) * p.sx) - vec4<i32>(i32(p.pl));
    let slide = p.sx == 1u && p.dx == 1u;
    var a0 = vec4<f32>(0.0);
    var a1 = vec4<f32>(0.0);
    var a2 = vec4<f32>(0.0);
    var a3 = vec4<f32>(0.0);
    var b0 = vec4<f32>(0.0);
    var b1 = vec4<f32>(0.0);
    var b2 = vec4<f32>(0.0);
    var b3 = vec4<f32>(0.0);
    var k = 0u;
    for (var c = 0u; c < cin_g; c++) {
        let plane = (n * p.cin + g * cin_g + c) * p.h;
        for (var u = 0u; u < p.kh; u++) {
            let iy = oy + i32(u * p.dy);
            var xv = taps4(plane, iy, ox);
            for (var v = 0u; v < p.kw; v++) {
                if (v > 0u) {
                    let ix = ox + vec4<i32>(i32(v * p.dx));
                    if (slide) {
                        xv = vec4<f32>(xv.yzw, tap(plane, iy, ix.w));
                    } else {
                        xv = taps4(plane, iy, ix);
                    }
                }
                let w0 = wp[(g * kk + k) * mg4 + q0];
                a0 += w0.x * xv;
                a1 += w0.y * xv;
                a2 += w0.z * xv;
                a3 += w0.w * xv;
                if (QUADS == 2u) {
                    let w1 = wp[(g * kk + k) * mg4 + q1];
                    b0 += w1.x * xv;
                    b1 += w1.y * xv;
                    b2 += w1.z * xv;
                    b3 += w1.w * xv;
                }
                k++;
            }
        }
    }
    for (var q = 0u; q < 4u; q++) {
        if (col + q >= p.ow) { break; }
        let pix = row * p.ow + col + q;
        store(n, g, q0 * 4u, pix, a0[q]);
        store(n, g, q0 * 4u + 1u, pix, a1[q]);
        store(n, g, q0 * 4u + 2u, pix, a2[q]);
        store(n, g, q0 * 4u + 3u, pix, a3[q]);
        if (QUADS == 2u && q0 + 1u < mg4) {
            store(n, g, q1 * 4u, pix, b0[q]);
            store(n, g, q1 * 4u + 1u, pix, b1[q]);
            store(n, g, q1 * 4u + 2u, pix, b2[q]);
            store(n, g, q1 * 4u + 3u, pix, b3[q]);
        }
    }
}

const TM: u32 = 64u;
const TN: u32 = 64u;
const TK: u32 = 16u;
var<workgroup> wa: array<vec4<f32>, 256>; // [TK][TM/4]
var<workgroup> wb: array<vec4<f32>, 256>; // [TK][TN/4]

@compute @workgroup_size(16, 16)
fn tiled(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let mg = p.cout / p.groups;
    let mg4 = (mg + 3u) / 4u;
    let npix = p.oh * p.ow;
    let cin_g = p.cin / p.groups;
    let kk = cin_g * p.kh * p.kw;
    let g = wid.z % p.groups;
    let n = wid.z / p.groups;
    let m0 = wid.y * TM;
    let p0 = wid.x * TN;
    let tx = lid % 16u;
    let ty = lid / 16u;
    var a0 = vec4<f32>(0.0);
    var a1 = vec4<f32>(0.0);
    var a2 = vec4<f32>(0.0);
    var a3 = vec4<f32>(0.0);
    for (var k0 = 0u; k0 < kk; k0 += TK) {
        // Each invocation stages one vec4 of weights and four patch values.
        let ka = k0 + ty;
        let m4 = m0 / 4u + tx;
        var wv = vec4<f32>(0.0);
        if (ka < kk && m4 < mg4) { wv = wp[(g * kk + ka) * mg4 + m4]; }
        wa[lid] = wv;
        for (var r = 0u; r < 4u; r++) {
            let e = lid * 4u + r;
            let kb = k0 + e / TN;
            let pix = p0 + e % TN;
            var bv = 0.0;
            if (kb < kk && pix < npix) { bv = im2col_value(n, g, kb, pix); }
            wb[e / 4u][e % 4u] = bv;
        }
        workgroupBarrier();
        for (var t = 0u; t < TK; t++) {
            let av = wa[t * 16u + ty];
            let bv = wb[t * 16u + tx];
            a0 += av.x * bv;
            a1 += av.y * bv;
            a2 += av.z * bv;
            a3 += av.w * bv;
        }
        workgroupBarrier();
    }
    for (var q = 0u; q < 4u; q++) {
        let pix = p0 + tx * 4u + q;
        let m = m0 + ty * 4u;
        store(n, g, m, pix, a0[q]);
        store(n, g, m + 1u, pix, a1[q]);
        store(n, g, m + 2u, pix, a2[q]);
        store(n, g, m + 3u, pix, a3[q]);
    }
}
