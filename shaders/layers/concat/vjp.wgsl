// Backward of Concat: out[n, j] (+)= r[n, offset + j], one input's channel slab.

struct Params { count: u32, item_cat: u32, item_part: u32, offset: u32, accumulate: u32, pad0: u32, pad1: u32, pad2: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> r: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_id(gid, nwg, 256u);
    if (i >= p.count) { return; }
    let v = r[(i / p.item_part) * p.item_cat + p.offset + i % p.item_part];
    if (p.accumulate != 0u) { out[i] += v; } else { out[i] = v; }
}
