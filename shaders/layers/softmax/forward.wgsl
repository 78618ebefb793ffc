// Softmax over the features of each item, shifted by the max for stability.

struct Params { items: u32, features: u32, pad0: u32, pad1: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let n = flat_id(gid, nwg, 64u);
    if (n >= p.items) { return; }
    let base = n * p.features;
    var m = x[base];
    for (var k = 1u; k < p.features; k++) { m = max(m, x[base + k]); }
    var s = 0.0;
    for (var k = 0u; k < p.features; k++) {
        let e = exp(x[base + k] - m);
        y[base + k] = e;
        s += e;
    }
    for (var k = 0u; k < p.features; k++) { y[base + k] = y[base + k] / s; }
}
