// Gaussian–Bernoulli RBM expert: log p(x_b) = −F(x_b) − log Z with
// F(x) = Σ_i (x_i − b_i)² / (2σ_i²) − Σ_j softplus(a_j), a from grbm_hidden.

struct Params { batch: u32, dim: u32, components: u32, k0: u32, kc: u32, hidden: u32, weight: f32, log_z: f32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> a: array<f32>;
@group(0) @binding(3) var<storage, read> vbias: array<f32>;
@group(0) @binding(4) var<storage, read> sigma: array<f32>;
@group(0) @binding(5) var<storage, read_write> out: array<f32>;

fn softplus(v: f32) -> f32 {
    return max(v, 0.0) + log(1.0 + exp(-abs(v)));
}

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let b = flat_id(gid, nwg, 64u);
    if (b >= p.batch) { return; }
    var quad = 0.0;
    for (var i = 0u; i < p.dim; i++) {
        let e = (x[b * p.dim + i] - vbias[i]) / sigma[i];
        quad += 0.5 * e * e;
    }
    var sp = 0.0;
    for (var j = 0u; j < p.hidden; j++) {
        sp += softplus(a[b * p.hidden + j]);
    }
    out[b] = sp - quad - p.log_z;
}
