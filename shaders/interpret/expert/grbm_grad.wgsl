// Gaussian–Bernoulli RBM expert: out[b, i] += weight · ∇_i log p(x_b) with
// ∇_i = −(x_i − b_i)/σ_i² + Σ_j sigmoid(a_j) W[i, j] / σ_i.

struct Params { batch: u32, dim: u32, components: u32, k0: u32, kc: u32, hidden: u32, weight: f32, log_z: f32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> a: array<f32>;
@group(0) @binding(3) var<storage, read> w: array<f32>;
@group(0) @binding(4) var<storage, read> vbias: array<f32>;
@group(0) @binding(5) var<storage, read> sigma: array<f32>;
@group(0) @binding(6) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let t = flat_id(gid, nwg, 64u);
    if (t >= p.batch * p.dim) { return; }
    let b = t / p.dim;
    let i = t % p.dim;
    var s = 0.0;
    for (var j = 0u; j < p.hidden; j++) {
        s += w[i * p.hidden + j] / (1.0 + exp(-a[b * p.hidden + j]));
    }
    let sg = sigma[i];
    out[t] += p.weight * (s / sg - (x[t] - vbias[i]) / (sg * sg));
}
