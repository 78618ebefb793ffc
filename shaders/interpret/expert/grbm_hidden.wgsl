// Gaussian–Bernoulli RBM expert: hidden inputs a[b, j] = c_j + Σ_i W[i, j] x[b, i] / σ_i
// (W is [D, H]: reads coalesced along j).

struct Params { batch: u32, dim: u32, components: u32, k0: u32, kc: u32, hidden: u32, weight: f32, log_z: f32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> w: array<f32>;
@group(0) @binding(3) var<storage, read> c: array<f32>;
@group(0) @binding(4) var<storage, read> sigma: array<f32>;
@group(0) @binding(5) var<storage, read_write> a: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let t = flat_id(gid, nwg, 64u);
    if (t >= p.batch * p.hidden) { return; }
    let b = t / p.hidden;
    let j = t % p.hidden;
    var s = c[j];
    for (var i = 0u; i < p.dim; i++) {
        s += w[i * p.hidden + j] * (x[b * p.dim + i] / sigma[i]);
    }
    a[t] = s;
}
