// Adjoint of the convolution (as conv2d_transpose.wgsl: out (+)= coef · input_factor(x) · Wᵀ ȳ,
// bias excluded) with register blocking and no shared memory, for CPU adapters: each invocation
// computes 4 input pixels × 4 input channels, so one vec4 of weights and four gathered values of ȳ
// serve 16 multiply-adds (the plain kernel loads twice per multiply-add). The weight is packed as
// for conv2d_transpose_subgroup.wgsl: [groups][K = Mg·KH·KW][Cg rounded up to 4]. A tap lands on
// output row i = (y + pt − u·dy) / sy when that division is exact: with y + pt = qa·sy + ra and
// u·dy = qb·sy + rb, exactly when ra = rb, and then i = qa − qb.

struct Params {
    n: u32, cin: u32, h: u32, w: u32,
    cout: u32, oh: u32, ow: u32, groups: u32,
    kh: u32, kw: u32, sy: u32, sx: u32,
    pt: u32, pl: u32, dy: u32, dx: u32,
    factor: u32, accumulate: u32, coef: f32, pad0: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> ybar: array<f32>;
@group(0) @binding(2) var<storage, read> wt: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> x: array<f32>;
@group(0) @binding(4) var<storage, read> channel_values: array<f32>;
@group(0) @binding(5) var<storage, read_write> out: array<f32>;

fn put(n: u32, g: u32, c: u32, pix: u32, v: f32) {
    let cin_g = p.cin / p.groups;
    if (c >= cin_g || pix >= p.h * p.w) { return; }
    let ci = g * cin_g + c;
    let e = (n * p.cin + ci) * p.h * p.w + pix;
    let f = input_factor(p.factor, x[e], channel_values[ci % arrayLength(&channel_values)]);
    let r = p.coef * f * v;
    if (p.accumulate != 0u) { out[e] += r; } else { out[e] = r; }
}

@compute @workgroup_size(64)
fn registers(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let cin_g = p.cin / p.groups;
    let cg4 = (cin_g + 3u) / 4u;
    let mg = p.cout / p.groups;
    let npix = p.h * p.w;
    let pblocks = (npix + 3u) / 4u;
    let t = flat_id(gid, nwg, 64u);
    if (t >= p.n * p.groups * cg4 * pblocks) { return; }
    let pb = t % pblocks;
    let cq = (t / pblocks) % cg4;
    let g = (t / (pblocks * cg4)) % p.groups;
    let n = t / (pblocks * cg4 * p.groups);
    let kk = mg * p.kh * p.kw;
    // Each pixel's (y + pt, x + pl) as quotient and remainder by the stride; pixels past the end
    // are clamped to a valid one whose sums are never stored.
    var qy: vec4<i32>;
    var ry: vec4<u32>;
    var qx: vec4<i32>;
    var rx: vec4<u32>;
    for (var q = 0u; q < 4u; q++) {
        let pix = min(pb * 4u + q, npix - 1u);
        let ay = pix / p.w + p.pt;
        let ax = pix % p.w + p.pl;
        qy[q] = i32(ay / p.sy);
        ry[q] = ay % p.sy;
        qx[q] = i32(ax / p.sx);
        rx[q] = ax % p.sx;
    }
    var a0 = vec4<f32>(0.0);
    var a1 = vec4<f32>(0.0);
    var a2 = vec4<f32>(0.0);
    var a3 = vec4<f32>(0.0);
    var k = 0u;
    for (var m = 0u; m < mg; m++) {
        let plane = (n * p.cout + g * mg + m) * p.oh;
        for (var u = 0u; u < p.kh; u++) {
            let by = u * p.dy;
            let i = qy - vec4<i32>(i32(by / p.sy));
            let okr = ry == vec4<u32>(by % p.sy) & i >= vec4<i32>(0) & i < vec4<i32>(i32(p.oh));
            for (var v = 0u; v < p.kw; v++) {
                let bx = v * p.dx;
                let j = qx - vec4<i32>(i32(bx / p.sx));
                let ok = okr & rx == vec4<u32>(bx % p.sx) & j >= vec4<i32>(0) & j < vec4<i32>(i32(p.ow));
                var yv = vec4<f32>(0.0);
                for (var q = 0u; q < 4u; q++) {
                    let at = select(0u, (plane + u32(i[q])) * p.ow + u32(j[q]), ok[q]);
                    yv[q] = select(0.0, ybar[at], ok[q]);
                }
                let wv = wt[(g * kk + k) * cg4 + cq];
                a0 += wv.x * yv;
                a1 += wv.y * yv;
                a2 += wv.z * yv;
                a3 += wv.w * yv;
                k++;
            }
        }
    }
    for (var q = 0u; q < 4u; q++) {
        let pix = pb * 4u + q;
        put(n, g, cq * 4u, pix, a0[q]);
        put(n, g, cq * 4u + 1u, pix, a1[q]);
        put(n, g, cq * 4u + 2u, pix, a2[q]);
        put(n, g, cq * 4u + 3u, pix, a3[q]);
    }
}
