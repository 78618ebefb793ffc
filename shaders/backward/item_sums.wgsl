// Sum of each batch item's relevance into sums[slot · n + item] (Kahan-compensated), for the
// conservation report.

struct Params { n: u32, item: u32, slot: u32, pad0: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> r: array<f32>;
@group(0) @binding(2) var<storage, read_write> sums: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let b = flat_id(gid, nwg, 64u);
    if (b >= p.n) { return; }
    var s = 0.0;
    var comp = 0.0;
    for (var k = 0u; k < p.item; k++) {
        let y = r[b * p.item + k] - comp;
        let t = s + y;
        comp = (t - s) - y;
        s = t;
    }
    sums[p.slot * p.n + b] = s;
}
