// The relevance the explanation starts from, per item: f(x) at the predicted class (mode < 0),
// or the user's weighting of the outputs times f(x) (a one-hot weighting picks one class).
// `targets` holds n modes, then n × features weights.

struct Params { n: u32, features: u32, pad0: u32, pad1: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> y: array<f32>;
@group(0) @binding(2) var<storage, read> targets: array<f32>;
@group(0) @binding(3) var<storage, read_write> r: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let b = flat_id(gid, nwg, 64u);
    if (b >= p.n) { return; }
    let base = b * p.features;
    if (targets[b] < 0.0) {
        var best = 0u;
        for (var f = 1u; f < p.features; f++) {
            if (y[base + f] > y[base + best]) { best = f; }
        }
        for (var f = 0u; f < p.features; f++) {
            r[base + f] = select(0.0, y[base + f], f == best);
        }
    } else {
        for (var f = 0u; f < p.features; f++) {
            r[base + f] = targets[p.n + base + f] * y[base + f];
        }
    }
}

// The gradient family's seed: ∂(w · f)/∂f = w, the weighting itself (a one-hot row at the
// predicted class for mode < 0), without the factor f(x) that relevance carries.
@compute @workgroup_size(64)
fn gradient(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let b = flat_id(gid, nwg, 64u);
    if (b >= p.n) { return; }
    let base = b * p.features;
    if (targets[b] < 0.0) {
        var best = 0u;
        for (var f = 1u; f < p.features; f++) {
            if (y[base + f] > y[base + best]) { best = f; }
        }
        for (var f = 0u; f < p.features; f++) {
            r[base + f] = select(0.0, 1.0, f == best);
        }
    } else {
        for (var f = 0u; f < p.features; f++) {
            r[base + f] = targets[p.n + base + f];
        }
    }
}
