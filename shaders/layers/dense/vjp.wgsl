// Adjoint of the dense layer: x̄[n, i] = Σ_o W[o, i] ȳ[n, o]. Serves gradients and LRP; stored as
// out (+)= coef · input_factor(x) · x̄ (see the prelude). Channel values are indexed per feature.

// A weight too large for one binding comes in row chunks: this pass sums the `outputs` features
// from `out_offset` of `out_stride` (the weight bound from that row).
struct Params { n: u32, inputs: u32, outputs: u32, factor: u32, accumulate: u32, coef: f32, out_offset: u32, out_stride: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> ybar: array<f32>;
@group(0) @binding(2) var<storage, read> weight: array<f32>;
@group(0) @binding(3) var<storage, read> x: array<f32>;
@group(0) @binding(4) var<storage, read> channel_values: array<f32>;
@group(0) @binding(5) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let e = flat_id(gid, nwg, 64u);
    if (e >= p.n * p.inputs) { return; }
    let i = e % p.inputs;
    let n = e / p.inputs;
    var acc = 0.0;
    for (var o = 0u; o < p.outputs; o++) {
        acc += weight[o * p.inputs + i] * ybar[n * p.out_stride + p.out_offset + o];
    }
    let v = p.coef * input_factor(p.factor, x[e], channel_values[i % arrayLength(&channel_values)]) * acc;
    if (p.accumulate != 0u) { out[e] += v; } else { out[e] = v; }
}
