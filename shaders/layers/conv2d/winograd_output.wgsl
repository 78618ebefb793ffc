// Winograd F(2×2, 3×3), last stage: the output transform. Each invocation takes the 16
// products m[ξ][j][o] (layers/conv2d/winograd_gemm.wgsl) of tile j of the chunk for one output
// channel o and stores the 2×2 output pixels Aᵀ m A that fall inside the output, with the
// epilogue of the pass it serves: the forward pass (and LRP's z passes) `y (+)= v + b`, or the
// adjoint `out (+)= coef · factor(x) · v`, as layers/conv2d/vjp.wgsl stores it.

struct Params {
    n: u32, cin: u32, h: u32, w: u32,
    cout: u32, oh: u32, ow: u32, cout4: u32,
    pt: u32, pl: u32, th: u32, tw: u32,
    t0: u32, tc: u32, input: u32, factor: u32,
    adjoint: u32, accumulate: u32, has_bias: u32, coef: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> m: array<f32>;
// The adjoint's x (the factor's input); the forward pass binds a placeholder.
@group(0) @binding(2) var<storage, read> x: array<f32>;
// The forward pass's bias, or the adjoint's per-channel factor values.
@group(0) @binding(3) var<storage, read> channel_values: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;

// Row i of the tile's 4×4 products (positions 4i..4i+3) at `at` (tile j, channel o).
fn ld4(i: u32, at: u32) -> vec4<f32> {
    let stride = p.tc * p.cout4;
    return vec4<f32>(
        m[(i * 4u) * stride + at],
        m[(i * 4u + 1u) * stride + at],
        m[(i * 4u + 2u) * stride + at],
        m[(i * 4u + 3u) * stride + at],
    );
}

fn put(item: u32, o: u32, yy: u32, xx: u32, v: f32) {
    if (yy >= p.oh || xx >= p.ow) { return; }
    let e = ((item * p.cout + o) * p.oh + yy) * p.ow + xx;
    let cv = channel_values[o % arrayLength(&channel_values)];
    var r = v;
    if (p.adjoint != 0u) {
        r = p.coef * input_factor(p.factor, x[e], cv) * v;
    } else if (p.has_bias != 0u) {
        r = v + cv;
    }
    if (p.accumulate != 0u) { out[e] += r; } else { out[e] = r; }
}

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let id = flat_id(gid, nwg, 64u);
    if (id >= p.tc * p.cout) { return; }
    let o = id % p.cout;
    let j = id / p.cout;
    let t = p.t0 + j;
    let per = p.th * p.tw;
    let item = t / per;
    let y0 = ((t % per) / p.tw) * 2u;
    let x0 = (t % p.tw) * 2u;
    let at = j * p.cout4 + o;
    let m0 = ld4(0u, at);
    let m1 = ld4(1u, at);
    let m2 = ld4(2u, at);
    let m3 = ld4(3u, at);
    // Aᵀ along the columns (rows 0+1+2 and 1−2−3), then along the rows.
    let s0 = m0 + m1 + m2;
    let s1 = m1 - m2 - m3;
    put(item, o, y0, x0, s0.x + s0.y + s0.z);
    put(item, o, y0, x0 + 1u, s0.y - s0.z - s0.w);
    put(item, o, y0 + 1u, x0, s1.x + s1.y + s1.z);
    put(item, o, y0 + 1u, x0 + 1u, s1.y - s1.z - s1.w);
}
