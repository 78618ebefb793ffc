// Copies one input [N, C_k, HW] into its channel slab of the output [N, C, HW].

struct Params { count: u32, item_in: u32, item_out: u32, offset: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_id(gid, nwg, 256u);
    if (i >= p.count) { return; }
    let n = i / p.item_in;
    y[n * p.item_out + p.offset + i % p.item_in] = x[i];
}
