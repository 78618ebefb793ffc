// Mean over each H×W plane: [N, C, H, W] → [N, C, 1, 1].

struct Params { planes: u32, hw: u32, pad0: u32, pad1: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let plane = flat_id(gid, nwg, 64u);
    if (plane >= p.planes) { return; }
    var acc = 0.0;
    let base = plane * p.hw;
    for (var k = 0u; k < p.hw; k++) {
        acc += x[base + k];
    }
    y[plane] = acc / f32(p.hw);
}
