// Unfolded batch normalisation: y = x · scale[c] + shift[c]; `affine` holds scale then shift.

struct Params { count: u32, channels: u32, inner: u32, pad0: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> affine: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_id(gid, nwg, 256u);
    if (i >= p.count) { return; }
    let c = (i / p.inner) % p.channels;
    y[i] = x[i] * affine[c] + affine[p.channels + c];
}
