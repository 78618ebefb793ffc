// C[M, N] = A[M, K] · B[K, N], row-major, N a multiple of 4. The engine's matmul ceiling for
// benchmarks, in the same two variants as the convolution: `registers` (4×4 outputs per
// invocation, no shared memory) and `tiled` (64×64 tiles in workgroup memory).

struct Params { m: u32, n: u32, k: u32, pad0: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> c: array<vec4<f32>>;

@compute @workgroup_size(64)
fn registers(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let n4 = p.n / 4u;
    let t = flat_id(gid, nwg, 64u);
    if (t >= ((p.m + 3u) / 4u) * n4) { return; }
    let col = t % n4;
    let row = (t / n4) * 4u;
    var rows: vec4<u32>;
    for (var q = 0u; q < 4u; q++) { rows[q] = min(row + q, p.m - 1u) * p.k; }
    var c0 = vec4<f32>(0.0);
    var c1 = vec4<f32>(0.0);
    var c2 = vec4<f32>(0.0);
    var c3 = vec4<f32>(0.0);
    for (var k = 0u; k < p.k; k++) {
        let bv = b[k * n4 + col];
        c0 += a[rows.x + k] * bv;
        c1 += a[rows.y + k] * bv;
        c2 += a[rows.z + k] * bv;
        c3 += a[rows.w + k] * bv;
    }
    if (row < p.m) { c[row * n4 + col] = c0; }
    if (row + 1u < p.m) { c[(row + 1u) * n4 + col] = c1; }
    if (row + 2u < p.m) { c[(row + 2u) * n4 + col] = c2; }
    if (row + 3u < p.m) { c[(row + 3u) * n4 + col] = c3; }
}

var<workgroup> ta: array<vec4<f32>, 256>; // [16 k][16 row-quads]
var<workgroup> tb: array<vec4<f32>, 256>; // [16 k][16 col-quads]

@compute @workgroup_size(16, 16)
fn tiled(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let n4 = p.n / 4u;
    let tx = lid % 16u;
    let ty = lid / 16u;
    let r0 = wid.y * 64u;
    let q0 = wid.x * 16u;
    var c0 = vec4<f32>(0.0);
    var c1 = vec4<f32>(0.0);
    var c2 = vec4<f32>(0.0);
    var c3 = vec4<f32>(0.0);
    for (var k0 = 0u; k0 < p.k; k0 += 16u) {
        // A tile transposed into [k][rows]: invocation (tx, ty) loads rows r0 + 4tx … + 3 at k0 + ty.
        var av = vec4<f32>(0.0);
        for (var q = 0u; q < 4u; q++) {
            let r = r0 + tx * 4u + q;
            if (r < p.m && k0 + ty < p.k) { av[q] = a[r * p.k + k0 + ty]; }
        }
        ta[ty * 16u + tx] = av;
        var bv = vec4<f32>(0.0);
        if (k0 + ty < p.k && q0 + tx < n4) { bv = b[(k0 + ty) * n4 + q0 + tx]; }
        tb[ty * 16u + tx] = bv;
        workgroupBarrier();
        for (var t = 0u; t < 16u; t++) {
            let x = ta[t * 16u + ty];
            let y = tb[t * 16u + tx];
            c0 += x.x * y;
            c1 += x.y * y;
            c2 += x.z * y;
            c3 += x.w * y;
        }
        workgroupBarrier();
    }
    let row = r0 + ty * 4u;
    let col = q0 + tx;
    if (col >= n4) { return; }
    if (row < p.m) { c[row * n4 + col] = c0; }
    if (row + 1u < p.m) { c[(row + 1u) * n4 + col] = c1; }
    if (row + 2u < p.m) { c[(row + 2u) * n4 + col] = c2; }
    if (row + 3u < p.m) { c[(row + 3u) * n4 + col] = c3; }
}
