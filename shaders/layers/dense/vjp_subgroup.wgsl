// Adjoint of the dense layer, out (+)= coef · input_factor(x) · Wᵀ ȳ (layout, modes and row
// chunks as in dense_transpose.wgsl), for CPU adapters with subgroups of at least 8 lanes. One
// workgroup is one subgroup of 8 lanes computing 8 inputs (one per lane) for ITEMS batch items:
// per 8 output features, each lane loads one ȳ value per item (feature o + lane) and
// `subgroupBroadcast` hands all 8 to every lane, which multiplies them by its own 8 weights:
// 8·ITEMS multiply-adds per 8 + ITEMS loads (the plain kernel loads twice per multiply-add).
// ITEMS (1..4) is an override constant: the batch, at most 4.

struct Params { n: u32, inputs: u32, outputs: u32, factor: u32, accumulate: u32, coef: f32, out_offset: u32, out_stride: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> ybar: array<f32>;
@group(0) @binding(2) var<storage, read> weight: array<f32>;
@group(0) @binding(3) var<storage, read> x: array<f32>;
@group(0) @binding(4) var<storage, read> channel_values: array<f32>;
@group(0) @binding(5) var<storage, read_write> out: array<f32>;

override ITEMS: u32 = 4u;

// ȳ of feature o (of this chunk) for item row `row` (clamped to the batch); 0 past the chunk.
fn grad(row: u32, o: u32) -> f32 {
    let inside = o < p.outputs;
    let at = select(0u, min(row, p.n - 1u) * p.out_stride + p.out_offset + o, inside);
    return select(0.0, ybar[at], inside);
}

fn w(o: u32, i: u32) -> f32 {
    let inside = o < p.outputs;
    return select(0.0, weight[select(0u, o * p.inputs + i, inside)], inside);
}

fn put(item: u32, i: u32, v: f32) {
    if (item >= p.n || i >= p.inputs) { return; }
    let e = item * p.inputs + i;
    let f = input_factor(p.factor, x[e], channel_values[i % arrayLength(&channel_values)]);
    let r = p.coef * f * v;
    if (p.accumulate != 0u) { out[e] += r; } else { out[e] = r; }
}

// Eight products of this lane's weights with the broadcast ȳ of one item.
fn dot8(g: f32, w0: f32, w1: f32, w2: f32, w3: f32, w4: f32, w5: f32, w6: f32, w7: f32) -> f32 {
    return subgroupBroadcast(g, 0u) * w0 + subgroupBroadcast(g, 1u) * w1
        + subgroupBroadcast(g, 2u) * w2 + subgroupBroadcast(g, 3u) * w3
        + subgroupBroadcast(g, 4u) * w4 + subgroupBroadcast(g, 5u) * w5
        + subgroupBroadcast(g, 6u) * w6 + subgroupBroadcast(g, 7u) * w7;
}

@compute @workgroup_size(8)
fn subgroup(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(subgroup_invocation_id) lane: u32,
) {
    let iblocks = (p.inputs + 7u) / 8u;
    let t = wid.x + wid.y * nwg.x;
    if (t >= iblocks * ((p.n + ITEMS - 1u) / ITEMS)) { return; }
    let i = (t % iblocks) * 8u + lane;
    let n0 = (t / iblocks) * ITEMS;
    let ic = min(i, p.inputs - 1u);
    var a0 = 0.0;
    var a1 = 0.0;
    var a2 = 0.0;
    var a3 = 0.0;
    for (var o = 0u; o < p.outputs; o += 8u) {
        let w0 = w(o, ic);
        let w1 = w(o + 1u, ic);
        let w2 = w(o + 2u, ic);
        let w3 = w(o + 3u, ic);
        let w4 = w(o + 4u, ic);
        let w5 = w(o + 5u, ic);
        let w6 = w(o + 6u, ic);
        let w7 = w(o + 7u, ic);
        a0 += dot8(grad(n0, o + lane), w0, w1, w2, w3, w4, w5, w6, w7);
        if (ITEMS > 1u) { a1 += dot8(grad(n0 + 1u, o + lane), w0, w1, w2, w3, w4, w5, w6, w7); }
        if (ITEMS > 2u) { a2 += dot8(grad(n0 + 2u, o + lane), w0, w1, w2, w3, w4, w5, w6, w7); }
        if (ITEMS > 3u) { a3 += dot8(grad(n0 + 3u, o + lane), w0, w1, w2, w3, w4, w5, w6, w7); }
    }
    put(n0, i, a0);
    if (ITEMS > 1u) { put(n0 + 1u, i, a1); }
    if (ITEMS > 2u) { put(n0 + 2u, i, a2); }
    if (ITEMS > 3u) { put(n0 + 3u, i, a3); }
}
