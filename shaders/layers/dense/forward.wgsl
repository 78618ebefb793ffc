// Fully connected: y[n, o] = b[o] + Σ_i W[o, i] x[n, i]. Each invocation computes one output
// feature for four batch items, so every weight it loads serves four products.

// `input` feeds x, max(x, 0) or min(x, 0) (FACTOR_X, _POSITIVE, _NEGATIVE); `accumulate` adds to y (LRP z terms).
// A weight too large for one binding comes in row chunks: this pass computes `outputs` features
// from `out_offset` of `out_stride` (weight and bias bound from that row).
struct Params { n: u32, inputs: u32, outputs: u32, has_bias: u32, input: u32, accumulate: u32, out_offset: u32, out_stride: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> weight: array<f32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> y: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let t = flat_id(gid, nwg, 64u);
    let nb = (p.n + 3u) / 4u;
    if (t >= p.outputs * nb) { return; }
    let o = t % p.outputs;
    let n0 = (t / p.outputs) * 4u;
    var rows: vec4<u32>;
    for (var q = 0u; q < 4u; q++) { rows[q] = min(n0 + q, p.n - 1u) * p.inputs; }
    var acc = vec4<f32>(0.0);
    let wrow = o * p.inputs;
    for (var i = 0u; i < p.inputs; i++) {
        var xv = vec4<f32>(x[rows.x + i], x[rows.y + i], x[rows.z + i], x[rows.w + i]);
        if (p.input == FACTOR_POSITIVE) { xv = max(xv, vec4<f32>(0.0)); }
        if (p.input == FACTOR_NEGATIVE) { xv = min(xv, vec4<f32>(0.0)); }
        acc += weight[wrow + i] * xv;
    }
    var b = 0.0;
    if (p.has_bias != 0u) { b = bias[o]; }
    for (var q = 0u; q < 4u; q++) {
        if (n0 + q < p.n) {
            let at = (n0 + q) * p.out_stride + p.out_offset + o;
            if (p.accumulate != 0u) { y[at] += acc[q] + b; } else { y[at] = acc[q] + b; }
        }
    }
}
