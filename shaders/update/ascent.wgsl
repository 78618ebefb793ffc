// One step of projected gradient ascent, in place: x = clamp(x + lr · g, lo, hi).

struct Params { count: u32, lr: f32, lo: f32, hi: f32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> g: array<f32>;
@group(0) @binding(2) var<storage, read_write> x: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_id(gid, nwg, 256u);
    if (i >= p.count) { return; }
    x[i] = clamp(x[i] + p.lr * g[i], p.lo, p.hi);
}
