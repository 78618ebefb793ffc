// Transposed convolution (ONNX ConvTranspose), gathered per output value: the adjoint of the
// convolution of the same geometry, so the taps are those of that convolution's VJP:
//   y[n, o, i, j] = b[o] + Σ_{c ∈ group(o), u, v} W[c, m, u, v] · x'[n, c, (i + pt − u·dy)/sy, (j + pl − v·dx)/sx]
// over the taps where the division is exact and lands inside the input (o = g·Mg + m). The
// weight is ONNX's [C_in, C_out/g, KH, KW]. `input` feeds x, max(x, 0) or min(x, 0)
// (FACTOR_X, _POSITIVE, _NEGATIVE) and `accumulate` adds to y: LRP's z terms need no copies.
// Here cin, h, w are the layer's input and cout, oh, ow its output.

struct Params {
    n: u32, cin: u32, h: u32, w: u32,
    cout: u32, oh: u32, ow: u32, groups: u32,
    kh: u32, kw: u32, sy: u32, sx: u32,
    pt: u32, pl: u32, dy: u32, dx: u32,
    has_bias: u32, input: u32, accumulate: u32, pad0: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> weight: array<f32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> y: array<f32>;

fn modify(v: f32) -> f32 {
    switch p.input {
        case FACTOR_POSITIVE: { return max(v, 0.0); }
        case FACTOR_NEGATIVE: { return min(v, 0.0); }
        default: { return v; }
    }
}

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let e = flat_id(gid, nwg, 64u);
    if (e >= p.n * p.cout * p.oh * p.ow) { return; }
    let ox = i32(e % p.ow);
    let oy = i32((e / p.ow) % p.oh);
    let o = (e / (p.ow * p.oh)) % p.cout;
    let n = e / (p.ow * p.oh * p.cout);
    let cin_g = p.cin / p.groups;
    let mg = p.cout / p.groups;
    let g = o / mg;
    let m = o % mg;
    var acc = 0.0;
    for (var u = 0u; u < p.kh; u++) {
        let ty = oy + i32(p.pt) - i32(u * p.dy);
        if (ty < 0 || ty % i32(p.sy) != 0) { continue; }
        let i = u32(ty) / p.sy;
        if (i >= p.h) { continue; }
        for (var v = 0u; v < p.kw; v++) {
            let tx = ox + i32(p.pl) - i32(v * p.dx);
            if (tx < 0 || tx % i32(p.sx) != 0) { continue; }
            let j = u32(tx) / p.sx;
            if (j >= p.w) { continue; }
            for (var k = 0u; k < cin_g; k++) {
                let c = g * cin_g + k;
                acc += weight[((c * mg + m) * p.kh + u) * p.kw + v] * modify(x[((n * p.cin + c) * p.h + i) * p.w + j]);
            }
        }
    }
    if (p.has_bias != 0u) { acc += bias[o]; }
    if (p.accumulate != 0u) { y[e] += acc; } else { y[e] = acc; }
}
