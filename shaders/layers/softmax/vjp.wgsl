// Vector–Jacobian product of the softmax over each item's features:
//   out[k] (+)= coef · factor(x[k]) · y[k] · (g[k] − Σ_j g[j] · y[j]).

struct Params { items: u32, features: u32, factor: u32, accumulate: u32, coef: f32, pad0: u32, pad1: u32, pad2: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> g: array<f32>;
@group(0) @binding(2) var<storage, read> x: array<f32>;
@group(0) @binding(3) var<storage, read> y: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let n = flat_id(gid, nwg, 64u);
    if (n >= p.items) { return; }
    let base = n * p.features;
    var dot = 0.0;
    for (var k = 0u; k < p.features; k++) { dot += g[base + k] * y[base + k]; }
    for (var k = 0u; k < p.features; k++) {
        let e = base + k;
        let v = p.coef * input_factor(p.factor, x[e], 0.0) * y[e] * (g[e] - dot);
        if (p.accumulate != 0u) { out[e] += v; } else { out[e] = v; }
    }
}
