// Winograd F(2×2, 3×3), first stage: the input transform. Each invocation takes one 4×4 input
// tile (tile j of the chunk starting at flat tile t0 over items × tile rows × tile columns, the
// tile at output pixel (2·ty, 2·tx), shifted by the padding) of one channel, clamped to the input
// mode (x, max(x, 0), min(x, 0)) and zero in the padding, and writes Bᵀ d B to
// v[ξ][j][c] for its 16 positions ξ: the rows of the 16 products that follow
// (layers/conv2d/winograd_gemm.wgsl). The adjoint of a convolution runs the same stages on ȳ
// with the flipped kernel (layers/conv2d/winograd.rs says how its geometry maps).

struct Params {
    n: u32, cin: u32, h: u32, w: u32,
    cout: u32, oh: u32, ow: u32, cout4: u32,
    pt: u32, pl: u32, th: u32, tw: u32,
    t0: u32, tc: u32, input: u32, factor: u32,
    adjoint: u32, accumulate: u32, has_bias: u32, coef: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> v: array<f32>;

// The input value under (iy, ix), clamped to [lo, hi] (the input mode); 0 in the padding.
// Branch-free: lavapipe runs both sides of a divergent branch under masks.
fn tap(plane: u32, iy: i32, ix: i32, lo: f32, hi: f32) -> f32 {
    let inside = iy >= 0 && ix >= 0 && iy < i32(p.h) && ix < i32(p.w);
    let at = select(0u, (plane + u32(iy)) * p.w + u32(ix), inside);
    return select(0.0, clamp(x[at], lo, hi), inside);
}

// Row `iy` of the tile from column x0: four taps.
fn row(plane: u32, iy: i32, x0: i32, lo: f32, hi: f32) -> vec4<f32> {
    return vec4<f32>(
        tap(plane, iy, x0, lo, hi),
        tap(plane, iy, x0 + 1, lo, hi),
        tap(plane, iy, x0 + 2, lo, hi),
        tap(plane, iy, x0 + 3, lo, hi),
    );
}

// Bᵀ applied along a row of four: (d0 − d2, d1 + d2, d2 − d1, d1 − d3).
fn bt(d: vec4<f32>) -> vec4<f32> {
    return vec4<f32>(d.x - d.z, d.y + d.z, d.z - d.y, d.y - d.w);
}

// Positions xi..xi+3 of the transformed tile at `at` (tile j, channel c) of every product.
fn put4(xi: u32, at: u32, q: vec4<f32>) {
    let stride = p.tc * p.cin;
    v[xi * stride + at] = q.x;
    v[(xi + 1u) * stride + at] = q.y;
    v[(xi + 2u) * stride + at] = q.z;
    v[(xi + 3u) * stride + at] = q.w;
}

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let id = flat_id(gid, nwg, 64u);
    if (id >= p.tc * p.cin) { return; }
    let c = id % p.cin;
    let j = id / p.cin;
    let t = p.t0 + j;
    let per = p.th * p.tw;
    let item = t / per;
    let y0 = i32(((t % per) / p.tw) * 2u) - i32(p.pt);
    let x0 = i32((t % p.tw) * 2u) - i32(p.pl);
    let lo = select(-3.4e38, 0.0, p.input == FACTOR_POSITIVE);
    let hi = select(3.4e38, 0.0, p.input == FACTOR_NEGATIVE);
    let plane = (item * p.cin + c) * p.h;
    let d0 = row(plane, y0, x0, lo, hi);
    let d1 = row(plane, y0 + 1, x0, lo, hi);
    let d2 = row(plane, y0 + 2, x0, lo, hi);
    let d3 = row(plane, y0 + 3, x0, lo, hi);
    // Bᵀ along the columns (combining rows), then along the rows.
    let at = j * p.cin + c;
    put4(0u, at, bt(d0 - d2));
    put4(4u, at, bt(d1 + d2));
    put4(8u, at, bt(d2 - d1));
    put4(12u, at, bt(d1 - d3));
}
