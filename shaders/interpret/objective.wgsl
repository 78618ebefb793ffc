// Activation maximisation's objective at the start node, per item. `spec` holds n pairs
// (mode, class), then n × features weights (the linear objective's; unused by the class forms).
// `terms` holds TERMS values per item: slot 0 the objective, 1 the class probability, 6 the
// log-sum-exp the gradient entry reads.

struct Params { n: u32, features: u32, terms: u32, pad0: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> y: array<f32>;
@group(0) @binding(2) var<storage, read> spec: array<f32>;
@group(0) @binding(3) var<storage, read_write> terms: array<f32>;

@compute @workgroup_size(64)
fn value(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let b = flat_id(gid, nwg, 64u);
    if (b >= p.n) { return; }
    let base = b * p.features;
    let mode = u32(spec[2u * b]);
    let t = b * p.terms;
    if (mode == OBJECTIVE_LINEAR) {
        var s = 0.0;
        for (var f = 0u; f < p.features; f++) {
            s += spec[2u * p.n + base + f] * y[base + f];
        }
        terms[t] = s;
        terms[t + 1u] = 0.0;
        terms[t + 6u] = 0.0;
        return;
    }
    let k = u32(spec[2u * b + 1u]);
    var m = y[base];
    for (var f = 1u; f < p.features; f++) { m = max(m, y[base + f]); }
    var s = 0.0;
    for (var f = 0u; f < p.features; f++) { s += exp(y[base + f] - m); }
    let lse = m + log(s);
    let prob = exp(y[base + k] - lse);
    terms[t] = select(prob, y[base + k] - lse, mode == OBJECTIVE_LOG_SOFTMAX);
    if (mode == OBJECTIVE_LOGIT) { terms[t] = y[base + k]; }
    terms[t + 1u] = prob;
    terms[t + 6u] = lse;
}
