// Gaussian-mixture expert: log p(x_b) = log Σ_k exp(logits[b, k]), stable (max subtracted).

struct Params { batch: u32, dim: u32, components: u32, k0: u32, kc: u32, hidden: u32, weight: f32, log_z: f32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> logits: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let b = flat_id(gid, nwg, 64u);
    if (b >= p.batch) { return; }
    var m = logits[b * p.components];
    for (var k = 1u; k < p.components; k++) {
        m = max(m, logits[b * p.components + k]);
    }
    var s = 0.0;
    for (var k = 0u; k < p.components; k++) {
        s += exp(logits[b * p.components + k] - m);
    }
    out[b] = m + log(s);
}
