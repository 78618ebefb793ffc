// out (+)= coef · input_factor(x) · s, element-wise (see the prelude for the factor modes):
// the proportional rule of Add and average pooling, BatchNorm's pass, seeding the output
// relevance, and summing relevance arriving from several readers of one tensor.

struct Params { count: u32, channels: u32, inner: u32, factor: u32, accumulate: u32, coef: f32, pad0: u32, pad1: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> s: array<f32>;
@group(0) @binding(3) var<storage, read> channel_values: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_id(gid, nwg, 256u);
    if (i >= p.count) { return; }
    let c = (i / p.inner) % p.channels;
    let v = p.coef * input_factor(p.factor, x[i], channel_values[c % arrayLength(&channel_values)]) * s[i];
    if (p.accumulate != 0u) { out[i] += v; } else { out[i] = v; }
}
