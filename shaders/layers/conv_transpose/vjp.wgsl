// Adjoint of the transposed convolution (bias excluded): a plain convolution of ȳ, per input
// value:
//   x̄[n, c, i, j] = Σ_{m, u, v} W[c, m, u, v] · ȳ[n, g·Mg + m, i·sy − pt + u·dy, j·sx − pl + v·dx]
// over the taps inside the output (g = c's group; W is ONNX's [C_in, C_out/g, KH, KW]). Serves
// gradients and LRP: stored as out (+)= coef · input_factor(x) · x̄ (see the prelude), so LRP's
// R_in += x' ⊙ Wᵀs needs no extra pass. Here cin, h, w are the layer's input and cout, oh, ow
// its output.

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
    let j = i32(e % p.w);
    let i = i32((e / p.w) % p.h);
    let c = (e / (p.w * p.h)) % p.cin;
    let n = e / (p.w * p.h * p.cin);
    let cin_g = p.cin / p.groups;
    let mg = p.cout / p.groups;
    let g = c / cin_g;
    var acc = 0.0;
    for (var u = 0u; u < p.kh; u++) {
        let yy = i * i32(p.sy) + i32(u * p.dy) - i32(p.pt);
        if (yy < 0 || yy >= i32(p.oh)) { continue; }
        for (var v = 0u; v < p.kw; v++) {
            let xx = j * i32(p.sx) + i32(v * p.dx) - i32(p.pl);
            if (xx < 0 || xx >= i32(p.ow)) { continue; }
            for (var m = 0u; m < mg; m++) {
                let o = g * mg + m;
                acc += weight[((c * mg + m) * p.kh + u) * p.kw + v] * ybar[((n * p.cout + o) * p.oh + u32(yy)) * p.ow + u32(xx)];
            }
        }
    }
    let v = p.coef * input_factor(p.factor, x[e], channel_values[c % arrayLength(&channel_values)]) * acc;
    if (p.accumulate != 0u) { out[e] += v; } else { out[e] = v; }
}
