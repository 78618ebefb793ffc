// A constant tensor, the same for every item (a class token, a position embedding, the
// constant operand of an element-wise op):
//   forward: out[i] = data[i mod item]
//   zero:    out[i] = 0 (its VJP: no gradient reaches the input it hangs from)

struct Params { count: u32, item: u32, pad0: u32, pad1: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> data: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(256)
fn forward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_id(gid, nwg, 256u);
    if (i >= p.count) { return; }
    out[i] = data[i % p.item];
}

@compute @workgroup_size(256)
fn zero(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_id(gid, nwg, 256u);
    if (i >= p.count) { return; }
    out[i] = 0.0;
}
