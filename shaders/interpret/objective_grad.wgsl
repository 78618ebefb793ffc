// The gradient of the objective with respect to the start node's output, one invocation per
// value: the weights (linear objectives, the logit), δ − softmax (log-softmax), or
// p_k (δ − softmax) (probability). Reads the log-sum-exp the `value` pass left in slot 6.

struct Params { n: u32, features: u32, terms: u32, pad0: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> y: array<f32>;
@group(0) @binding(2) var<storage, read> spec: array<f32>;
@group(0) @binding(3) var<storage, read> terms: array<f32>;
@group(0) @binding(4) var<storage, read_write> g: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_id(gid, nwg, 256u);
    if (i >= p.n * p.features) { return; }
    let b = i / p.features;
    let f = i % p.features;
    let mode = u32(spec[2u * b]);
    if (mode == OBJECTIVE_LINEAR) {
        g[i] = spec[2u * p.n + i];
        return;
    }
    let k = u32(spec[2u * b + 1u]);
    let hot = select(0.0, 1.0, f == k);
    if (mode == OBJECTIVE_LOGIT) {
        g[i] = hot;
        return;
    }
    let soft = exp(y[i] - terms[b * p.terms + 6u]);
    if (mode == OBJECTIVE_LOG_SOFTMAX) {
        g[i] = hot - soft;
    } else {
        g[i] = terms[b * p.terms + 1u] * (hot - soft);
    }
}
