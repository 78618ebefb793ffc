// Vector–Jacobian product of the softmax along one axis of each row (see forward.wgsl):
//   out[k] (+)= coef · factor(x[k]) · y[k] · (g[k] − Σ_j g[j] · y[j]).

struct Params { rows: u32, features: u32, inner: u32, factor: u32, accumulate: u32, coef: f32, pad0: u32, pad1: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> g: array<f32>;
@group(0) @binding(2) var<storage, read> x: array<f32>;
@group(0) @binding(3) var<storage, read> y: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let r = flat_id(gid, nwg, 64u);
    if (r >= p.rows) { return; }
    let base = (r / p.inner) * p.features * p.inner + r % p.inner;
    var dot = 0.0;
    for (var k = 0u; k < p.features; k++) { dot += g[base + k * p.inner] * y[base + k * p.inner]; }
    for (var k = 0u; k < p.features; k++) {
        let e = base + k * p.inner;
        let v = p.coef * input_factor(p.factor, x[e], 0.0) * y[e] * (g[e] - dot);
        if (p.accumulate != 0u) { out[e] += v; } else { out[e] = v; }
    }
}
