// Gaussian-mixture expert, full covariances: out[b, i] += weight · ∇_i log p(x_b) =
// −weight · Σ_k γ_bk d[b, k, i], with the responsibilities γ_bk = exp(logits[b, k] − lse[b]) and
// d from mixture_project.

struct Params { batch: u32, dim: u32, components: u32, k0: u32, kc: u32, hidden: u32, weight: f32, log_z: f32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> logits: array<f32>;
@group(0) @binding(2) var<storage, read> lse: array<f32>;
@group(0) @binding(3) var<storage, read> d: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let t = flat_id(gid, nwg, 64u);
    if (t >= p.batch * p.dim) { return; }
    let b = t / p.dim;
    let i = t % p.dim;
    var g = 0.0;
    for (var k = 0u; k < p.components; k++) {
        let gamma = exp(logits[b * p.components + k] - lse[b]);
        g += gamma * d[(b * p.components + k) * p.dim + i];
    }
    out[t] -= p.weight * g;
}
