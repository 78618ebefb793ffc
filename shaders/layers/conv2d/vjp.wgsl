// Adjoint of the convolution (bias excluded): x̄ = Wᵀ ȳ, gathered per input element:
//   x̄[n, ci, y, x] = Σ_{o ∈ group(ci), u, v} W[o, c, u, v] · ȳ[n, o, (y + pt − u·dy)/sy, (x + pl − v·dx)/sx]
// over the taps where the division is exact and lands inside the output. Serves gradients and LRP:
// the result is stored as out (+)= coef · input_factor(x) · x̄ (see the prelude), so LRP's
// R_in += x' ⊙ Wᵀs needs no extra pass.

struct Params {
    n: u32, cin: u32, h: u32, w: u32,
    cout: u32, oh: u32, ow: u32, groups: u32,
    kh: u32, kw: u32, sy: u32, sx: u32,
    pt: u32, pl: u32, dy: u32, dx: u32,
    factor: u32, accumulate: u32, coef: f32, pad0: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> ybar: array<f32>;
@group(0) @binding(2) var<storage, read> weight: array<f32>;
@group(0) @binding(3) var<storage, read> x: array<f32>;
@group(0) @binding(4) var<storage, read> channel_values: array<f32>;
@group(0) @binding(5) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let e = flat_id(gid, nwg, 64u);
    if (e >= p.n * p.cin * p.h * p.w) { return; }
    let xx = i32(e % p.w);
    let yy = i32((e / p.w) % p.h);
    let ci = (e / (p.w * p.h)) % p.cin;
    let n = e / (p.w * p.h * p.cin);
    let cin_g = p.cin / p.groups;
    let mg = p.cout / p.groups;
    let g = ci / cin_g;
    let c = ci % cin_g;
    var acc = 0.0;
    for (var u = 0u; u < p.kh; u++) {
        let ty = yy + i32(p.pt) - i32(u * p.dy);
        if (ty < 0 || ty % i32(p.sy) != 0) { continue; }
        let i = u32(ty) / p.sy;
        if (i >= p.oh) { continue; }
        for (var v = 0u; v < p.kw; v++) {
            let tx = xx + i32(p.pl) - i32(v * p.dx);
            if (tx < 0 || tx % i32(p.sx) != 0) { continue; }
            let j = u32(tx) / p.sx;
            if (j >= p.ow) { continue; }
            for (var m = 0u; m < mg; m++) {
                let o = g * mg + m;
                acc += weight[((o * cin_g + c) * p.kh + u) * p.kw + v] * ybar[((n * p.cout + o) * p.oh + i) * p.ow + j];
            }
        }
    }
    let v = p.coef * input_factor(p.factor, x[e], channel_values[ci % arrayLength(&channel_values)]) * acc;
    if (p.accumulate != 0u) { out[e] += v; } else { out[e] = v; }
}
