// Fully connected y[n, o] = b[o] + Σ_i W[o, i] x[n, i] (layout, modes and row chunks as in
// dense_forward.wgsl) for CPU adapters with subgroups of at least 8 lanes (lavapipe), where each
// per-lane storage-buffer load is a loop of bounds-checked scalar loads. One workgroup is one
// subgroup of 8 lanes computing 8 output features (one per lane) for ITEMS batch items: per 8
// inputs, each lane loads one x value per item (input i + lane) and `subgroupBroadcast` hands
// all 8 to every lane, which multiplies them by its own 8 weights: 8·ITEMS multiply-adds per
// 8 + ITEMS loads (the plain kernel loads 1 + 4 per multiply-add). ITEMS (1..4) is an override
// constant: the batch, at most 4.

struct Params { n: u32, inputs: u32, outputs: u32, has_bias: u32, input: u32, accumulate: u32, out_offset: u32, out_stride: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> weight: array<f32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> y: array<f32>;

override ITEMS: u32 = 4u;

// Input i of item row `row` (clamped to the batch), clamped to [lo, hi]; 0 past the inputs.
fn input(row: u32, i: u32, lo: f32, hi: f32) -> f32 {
    let inside = i < p.inputs;
    let at = select(0u, min(row, p.n - 1u) * p.inputs + i, inside);
    return select(0.0, clamp(x[at], lo, hi), inside);
}

fn w(at: u32, inside: bool) -> f32 {
    return select(0.0, weight[select(0u, at, inside)], inside);
}

fn put(item: u32, o: u32, v: f32) {
    if (item >= p.n || o >= p.outputs) { return; }
    var b = 0.0;
    if (p.has_bias != 0u) { b = bias[o]; }
    let at = item * p.out_stride + p.out_offset + o;
    if (p.accumulate != 0u) { y[at] += v + b; } else { y[at] = v + b; }
}

// Eight products of this lane's weights with the broadcast inputs of one item.
fn dot8(xv: f32, w0: f32, w1: f32, w2: f32, w3: f32, w4: f32, w5: f32, w6: f32, w7: f32) -> f32 {
    return subgroupBroadcast(xv, 0u) * w0 + subgroupBroadcast(xv, 1u) * w1
        + subgroupBroadcast(xv, 2u) * w2 + subgroupBroadcast(xv, 3u) * w3
        + subgroupBroadcast(xv, 4u) * w4 + subgroupBroadcast(xv, 5u) * w5
        + subgroupBroadcast(xv, 6u) * w6 + subgroupBroadcast(xv, 7u) * w7;
}

@compute @workgroup_size(8)
fn subgroup(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(subgroup_invocation_id) lane: u32,
) {
    let oblocks = (p.outputs + 7u) / 8u;
    let t = wid.x + wid.y * nwg.x;
    if (t >= oblocks * ((p.n + ITEMS - 1u) / ITEMS)) { return; }
    let o = (t % oblocks) * 8u + lane;
    let n0 = (t / oblocks) * ITEMS;
    let wrow = min(o, p.outputs - 1u) * p.inputs;
    let lo = select(-3.4e38, 0.0, p.input == FACTOR_POSITIVE);
    let hi = select(3.4e38, 0.0, p.input == FACTOR_NEGATIVE);
    var a0 = 0.0;
    var a1 = 0.0;
    var a2 = 0.0;
    var a3 = 0.0;
    for (var i = 0u; i < p.inputs; i += 8u) {
        let full = i + 8u <= p.inputs;
        let w0 = w(wrow + i, true);
        let w1 = w(wrow + i + 1u, full || i + 1u < p.inputs);
        let w2 = w(wrow + i + 2u, full || i + 2u < p.inputs);
        let w3 = w(wrow + i + 3u, full || i + 3u < p.inputs);
        let w4 = w(wrow + i + 4u, full || i + 4u < p.inputs);
        let w5 = w(wrow + i + 5u, full || i + 5u < p.inputs);
        let w6 = w(wrow + i + 6u, full || i + 6u < p.inputs);
        let w7 = w(wrow + i + 7u, full || i + 7u < p.inputs);
        a0 += dot8(input(n0, i + lane, lo, hi), w0, w1, w2, w3, w4, w5, w6, w7);
        if (ITEMS > 1u) { a1 += dot8(input(n0 + 1u, i + lane, lo, hi), w0, w1, w2, w3, w4, w5, w6, w7); }
        if (ITEMS > 2u) { a2 += dot8(input(n0 + 2u, i + lane, lo, hi), w0, w1, w2, w3, w4, w5, w6, w7); }
        if (ITEMS > 3u) { a3 += dot8(input(n0 + 3u, i + lane, lo, hi), w0, w1, w2, w3, w4, w5, w6, w7); }
    }
    put(n0, o, a0);
    if (ITEMS > 1u) { put(n0 + 1u, o, a1); }
    if (ITEMS > 2u) { put(n0 + 2u, o, a2); }
    if (ITEMS > 3u) { put(n0 + 3u, o, a3); }
}
