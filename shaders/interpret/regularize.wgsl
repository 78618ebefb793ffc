// The penalties of activation maximisation on x [n, C, H, W]: λ2 Σx², λ1 Σ|x| and total
// variation TV = Σ |x[h+1,w] − x[h,w]| + |x[h,w+1] − x[h,w]| per channel (anisotropic, as
// tf.image.total_variation). `gradient` adds −∇(penalties) to the ascent direction g;
// `values` writes each item's three sums into its terms (slots 2, 3, 4).

struct Params { n: u32, c: u32, h: u32, w: u32, l2: f32, l1: f32, tv: f32, terms: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> g: array<f32>;

@compute @workgroup_size(256)
fn gradient(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_id(gid, nwg, 256u);
    let plane = p.h * p.w;
    if (i >= p.n * p.c * plane) { return; }
    let v = x[i];
    let yy = (i % plane) / p.w;
    let xx = i % p.w;
    var dtv = 0.0;
    if (yy > 0u) { dtv += sign(v - x[i - p.w]); }
    if (yy + 1u < p.h) { dtv -= sign(x[i + p.w] - v); }
    if (xx > 0u) { dtv += sign(v - x[i - 1u]); }
    if (xx + 1u < p.w) { dtv -= sign(x[i + 1u] - v); }
    g[i] -= 2.0 * p.l2 * v + p.l1 * sign(v) + p.tv * dtv;
}

var<workgroup> part: array<vec3<f32>, 256>;

// One workgroup per item.
@compute @workgroup_size(256)
fn values(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let b = wid.x;
    let plane = p.h * p.w;
    let size = p.c * plane;
    let base = b * size;
    var acc = vec3<f32>(0.0);
    for (var j = lid; j < size; j += 256u) {
        let v = x[base + j];
        var tv = 0.0;
        if ((j % plane) / p.w + 1u < p.h) { tv += abs(x[base + j + p.w] - v); }
        if (j % p.w + 1u < p.w) { tv += abs(x[base + j + 1u] - v); }
        acc += vec3<f32>(v * v, abs(v), tv);
    }
    part[lid] = acc;
    workgroupBarrier();
    for (var s = 128u; s > 0u; s >>= 1u) {
        if (lid < s) { part[lid] += part[lid + s]; }
        workgroupBarrier();
    }
    if (lid == 0u) {
        let t = b * p.terms;
        g[t + 2u] = part[0].x;
        g[t + 3u] = part[0].y;
        g[t + 4u] = part[0].z;
    }
}
