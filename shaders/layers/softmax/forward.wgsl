// Softmax along one axis (`features` values, `inner` apart) of each row, shifted by the max for
// stability; rows are every (outer, inner) position of every item.

struct Params { rows: u32, features: u32, inner: u32, pad0: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let r = flat_id(gid, nwg, 64u);
    if (r >= p.rows) { return; }
    let base = (r / p.inner) * p.features * p.inner + r % p.inner;
    var m = x[base];
    for (var k = 1u; k < p.features; k++) { m = max(m, x[base + k * p.inner]); }
    var s = 0.0;
    for (var k = 0u; k < p.features; k++) {
        let e = exp(x[base + k * p.inner] - m);
        y[base + k * p.inner] = e;
        s += e;
    }
    for (var k = 0u; k < p.features; k++) { y[base + k * p.inner] = y[base + k * p.inner] / s; }
}
