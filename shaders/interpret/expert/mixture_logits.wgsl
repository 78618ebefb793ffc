// Gaussian-mixture expert: per item b and component k, the log joint
// logits[b, k] = base_k − ½ q, base_k = log π_k + ½ log|P_k| − D/2 log 2π, with the quadratic form
// q = Σ_i (x_i − μ_k,i) d[b, k, i] (entry full: src is d from mixture_project) or
// q = Σ_i P_k,i (x_i − μ_k,i)² (entry diagonal: src is the diagonal precisions [K, D]).

struct Params { batch: u32, dim: u32, components: u32, k0: u32, kc: u32, hidden: u32, weight: f32, log_z: f32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> means: array<f32>;
@group(0) @binding(3) var<storage, read> src: array<f32>;
@group(0) @binding(4) var<storage, read> base: array<f32>;
@group(0) @binding(5) var<storage, read_write> logits: array<f32>;

@compute @workgroup_size(64)
fn full(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let t = flat_id(gid, nwg, 64u);
    if (t >= p.batch * p.components) { return; }
    let b = t / p.components;
    let k = t % p.components;
    var q = 0.0;
    for (var i = 0u; i < p.dim; i++) {
        q += (x[b * p.dim + i] - means[k * p.dim + i]) * src[t * p.dim + i];
    }
    logits[t] = base[k] - 0.5 * q;
}

@compute @workgroup_size(64)
fn diagonal(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let t = flat_id(gid, nwg, 64u);
    if (t >= p.batch * p.components) { return; }
    let b = t / p.components;
    let k = t % p.components;
    var q = 0.0;
    for (var i = 0u; i < p.dim; i++) {
        let e = x[b * p.dim + i] - means[k * p.dim + i];
        q += src[k * p.dim + i] * e * e;
    }
    logits[t] = base[k] - 0.5 * q;
}
