// Combines the input gradients of several samples per input (IG's path points, SmoothGrad's noisy
// copies; one sample for the plain gradient methods) into one map per input:
//   out[n, k]        = d[n, k] · Σ_s w[n, s] · h(g[n, s, k])
//   out[N + n, k]    = Σ_s w[n, s] · h(g[n, s, k])²          (when `second` is set: VarGrad)
// with h the identity, |·| or (·)² (MAP_*), and d = a − b (x − baseline) when `delta` is set, else 1.
// Sample weights are data, so one pipeline serves every quadrature and padded samples weigh 0.

struct Params { inputs: u32, samples: u32, item: u32, map: u32, delta: u32, second: u32, pad0: u32, pad1: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> g: array<f32>;
@group(0) @binding(2) var<storage, read> weights: array<f32>;
@group(0) @binding(3) var<storage, read> a: array<f32>;
@group(0) @binding(4) var<storage, read> b: array<f32>;
@group(0) @binding(5) var<storage, read_write> out: array<f32>;

fn h(v: f32) -> f32 {
    switch p.map {
        case MAP_ABS: { return abs(v); }
        case MAP_SQUARE: { return v * v; }
        default: { return v; }
    }
}

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let e = flat_id(gid, nwg, 256u);
    if (e >= p.inputs * p.item) { return; }
    let n = e / p.item;
    let k = e % p.item;
    var m1 = 0.0;
    var m2 = 0.0;
    for (var s = 0u; s < p.samples; s++) {
        let w = weights[n * p.samples + s];
        let v = h(g[(n * p.samples + s) * p.item + k]);
        m1 += w * v;
        m2 += w * v * v;
    }
    var d = 1.0;
    if (p.delta != 0u) { d = a[e] - b[e]; }
    out[e] = d * m1;
    if (p.second != 0u) { out[p.inputs * p.item + e] = m2; }
}
