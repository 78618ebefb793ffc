// y = min(max(x, lo), hi): ReLU (lo = 0, hi = +inf), ReLU6 and Clip.

struct Params { count: u32, lo: u32, hi: u32, pad: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_id(gid, nwg, 256u);
    if (i >= p.count) { return; }
    y[i] = min(max(x[i], bitcast<f32>(p.lo)), bitcast<f32>(p.hi));
}
