// Gaussian-mixture expert, full covariances: d[b, k, i] = Σ_j P_k[j, i] (x[b, j] − μ_k[j]) for the
// components k0..k0+kc whose precisions (symmetric, [kc, D, D]) this pass binds. One invocation
// per (component, row i, group of 8 items): the precision is read once per 8 items, coalesced
// along i; x and μ are read uniformly.

struct Params { batch: u32, dim: u32, components: u32, k0: u32, kc: u32, hidden: u32, weight: f32, log_z: f32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> means: array<f32>;
@group(0) @binding(3) var<storage, read> prec: array<f32>;
@group(0) @binding(4) var<storage, read_write> d: array<f32>;

const GROUP: u32 = 8u;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let t = flat_id(gid, nwg, 64u);
    let groups = (p.batch + GROUP - 1u) / GROUP;
    if (t >= p.kc * p.dim * groups) { return; }
    let i = t % p.dim;
    let kk = (t / p.dim) % p.kc;
    let b0 = (t / (p.dim * p.kc)) * GROUP;
    let n = min(GROUP, p.batch - b0);
    let k = p.k0 + kk;
    var acc: array<f32, 8>;
    for (var j = 0u; j < p.dim; j++) {
        let pij = prec[(kk * p.dim + j) * p.dim + i];
        let mu = means[k * p.dim + j];
        for (var r = 0u; r < n; r++) {
            acc[r] += pij * (x[(b0 + r) * p.dim + j] - mu);
        }
    }
    for (var r = 0u; r < n; r++) {
        d[((b0 + r) * p.components + k) * p.dim + i] = acc[r];
    }
}
