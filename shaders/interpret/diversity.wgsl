// Lucid's diversity term on a node's values A [n, C, S] (S the values per channel): Gram
// matrices G_b = A_b A_bᵀ, their dot products within groups of items sharing an objective, each
// item's term d_b = (1/B) Σ_{b' ≠ b} ⟨Ĝ_b, Ĝ_b'⟩ (Ĝ = G / max(‖G‖, 1e-12), B the group's size)
// and the ascent direction of −weight · Σ_b d_b on A. `groups` holds each item's group id.

struct Params { n: u32, c: u32, s: u32, terms: u32, weight: f32, slot: u32, pad0: u32, pad1: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read> groups: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;

// G[b, i, j] = Σ_s A[b, i, s] A[b, j, s]: a is A.
@compute @workgroup_size(256)
fn gram(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let t = flat_id(gid, nwg, 256u);
    let cc = p.c * p.c;
    if (t >= p.n * cc) { return; }
    let item = t / cc;
    let i = (t % cc) / p.c;
    let j = t % p.c;
    let ai = (item * p.c + i) * p.s;
    let aj = (item * p.c + j) * p.s;
    var acc = 0.0;
    for (var s = 0u; s < p.s; s++) { acc += a[ai + s] * a[aj + s]; }
    out[t] = acc;
}

var<workgroup> part: array<f32, 256>;

// D[i, j] = ⟨G_i, G_j⟩ for items of one group (and i = j), 0 otherwise: a is G; one workgroup
// per pair, the grid n × n.
@compute @workgroup_size(256)
fn dots(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
    let i = wid.x;
    let j = wid.y;
    let pair = i * p.n + j;
    let cc = p.c * p.c;
    var acc = 0.0;
    if (groups[i] == groups[j]) {
        for (var e = lid.x; e < cc; e += 256u) { acc += a[i * cc + e] * a[j * cc + e]; }
    }
    part[lid.x] = acc;
    workgroupBarrier();
    for (var half = 128u; half > 0u; half >>= 1u) {
        if (lid.x < half) { part[lid.x] += part[lid.x + half]; }
        workgroupBarrier();
    }
    if (lid.x == 0u) { out[pair] = part[0]; }
}

fn norm(i: u32) -> f32 { return max(sqrt(b[i * p.n + i]), 1e-12); }

fn group_size(i: u32) -> f32 {
    var size = 0.0;
    for (var j = 0u; j < p.n; j++) { if (groups[j] == groups[i]) { size += 1.0; } }
    return size;
}

// Σ_{j ≠ i, same group} cosine(G_i, G_j) / B: b is D.
fn similarity(i: u32) -> f32 {
    var acc = 0.0;
    for (var j = 0u; j < p.n; j++) {
        if (j != i && groups[j] == groups[i]) { acc += b[i * p.n + j] / (norm(i) * norm(j)); }
    }
    return acc / group_size(i);
}

// Each item's d_b into its terms (slot `slot`): b is D.
@compute @workgroup_size(64)
fn values(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i = gid.x;
    if (i >= p.n) { return; }
    out[i * p.terms + p.slot] = similarity(i);
}

// The ascent direction on G_b: (2λ/B) (Ĝ_b Σ_j cos(b, j) − Σ_j Ĝ_j) / ‖G_b‖ (a is G, b is D).
@compute @workgroup_size(256)
fn gram_grad(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let t = flat_id(gid, nwg, 256u);
    let cc = p.c * p.c;
    if (t >= p.n * cc) { return; }
    let i = t / cc;
    let e = t % cc;
    var others = 0.0;
    for (var j = 0u; j < p.n; j++) {
        if (j != i && groups[j] == groups[i]) { others += a[j * cc + e] / norm(j); }
    }
    let size = group_size(i);
    let cosines = similarity(i) * size;
    out[t] = 2.0 * p.weight / size * (a[t] / norm(i) * cosines - others) / norm(i);
}

// dA[b, i, s] = Σ_j (dG[i, j] + dG[j, i]) A[b, j, s] (a is A, b is dG), added to what flows to
// the node (`add_entry`) or written (`write_entry`).
fn activation_grad(t: u32) -> f32 {
    let per = p.c * p.s;
    let item = t / per;
    let i = (t % per) / p.s;
    let s = t % p.s;
    let base = item * p.c * p.c;
    var acc = 0.0;
    for (var j = 0u; j < p.c; j++) {
        acc += (b[base + i * p.c + j] + b[base + j * p.c + i]) * a[(item * p.c + j) * p.s + s];
    }
    return acc;
}

@compute @workgroup_size(256)
fn add_grad(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let t = flat_id(gid, nwg, 256u);
    if (t >= p.n * p.c * p.s) { return; }
    out[t] += activation_grad(t);
}

@compute @workgroup_size(256)
fn write_grad(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let t = flat_id(gid, nwg, 256u);
    if (t >= p.n * p.c * p.s) { return; }
    out[t] = activation_grad(t);
}
