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

@compute @workgroup_size(64)
fn registers(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let mg = p.cout / p.groups;
    let mg4 = (mg + 3u) / 4u;
    let npix = p.oh * p.ow;
    let pblocks = (npix + 3u) / 4u;
    let t = flat_id(gid, nwg, 64u);
    if (t >= p.n * p.groups * mg4 * pblocks) { return; }
    let pb = t % pblocks;
    let mb = (t / pblocks) % mg4;
    let g = (t / (pblocks * mg4)) % p.groups;
    let n = t / (pblocks * mg4 * p.groups);
    let cin_g = p.cin / p.groups;
    let kk = cin_g * p.kh * p.kw;

    // Top-left input coordinate of each of the four pixels; out-of-range pixels read nothing.
    var oy: vec4<i32>;
    var ox: vec4<i32>;
    for (var q = 0u; q < 4u; q++) {
        let pix = min(pb * 4u + q, npix - 1u);
        oy[q] = i32((pix / p.ow) * p.sy) - i32(p.pt);
        ox[q] = i32((pix % p.ow) * p.sx) - i32(p.pl);
    }
    var a0 = vec4<f32>(0.0);
    var a1 = vec4<f32>(0.0);
    var a2 = vec4<f32>(0.0);
    var a3 = vec4<f32>(0.0);
    var k = 0u;
    for (var c = 0u; c < cin_g; c++) {
        let plane = (n * p.cin + g * cin_g + c) * p.h;
        for (var u = 0u; u < p.kh; u++) {
            let iy = oy + vec4<i32>(i32(u * p.dy));
            for (var v = 0u; v < p.kw; v++) {
                let ix = ox + vec4<i32>(i32(v * p.dx));
                var xv = vec4<f32>(0.0);
                for (var q = 0u; q < 4u; q++) {
                    if (iy[q] >= 0 && ix[q] >= 0 && iy[q] < i32(p.h) && ix[q] < i32(p.w)) {
                        xv[q] = modify(x[(plane + u32(iy[q])) * p.w + u32(ix[q])]);
                    }
                }
                let wv = wp[(g * kk + k) * mg4 + mb];
                a0 += wv.x * xv;
                a1 += wv.y * xv;
                a2 += wv.z * xv;
                a3 += wv.w * xv;
                k++;
            }
        }
    }
    for (var q = 0u; q < 4u; q++) {
        let pix = pb * 4u + q;
        store(n, g, mb * 4u, pix, a0[q]);
        store(n, g, mb * 4u + 1u, pix, a1[q]);
        store(n, g, mb * 4u + 2u, pix, a2[q]);
        store(n, g, mb * 4u + 3u, pix, a3[q]);
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
