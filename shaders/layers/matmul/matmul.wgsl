// Batched products of matrices, broadcasting over the leading axes (at most 4, the batch
// first): out[l, i, j] (+)= coef · factor(own[l, i, j]) · Σ over the leading indices out is
// reduced along of Σ_t X[l, i, t] · Y[l, t, j], with strides for every index, so that one
// kernel is the forward pass (A·B) and both VJPs (G·Bᵀ, Aᵀ·G). `d*` are the leading sizes,
// `sx*`, `sy*` the leading strides of X and Y, `so*` of out (0 along a dimension it is
// reduced along); out is contiguous over [own leading.., I, J].

struct Params {
    count: u32, rows: u32, cols: u32, inner: u32,
    xi: u32, xt: u32, yt: u32, yj: u32,
    factor: u32, accumulate: u32, coef: f32, pad0: u32,
    d0: u32, d1: u32, d2: u32, d3: u32,
    sx0: u32, sx1: u32, sx2: u32, sx3: u32,
    sy0: u32, sy1: u32, sy2: u32, sy3: u32,
    so0: u32, so1: u32, so2: u32, so3: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> y: array<f32>;
@group(0) @binding(3) var<storage, read> own: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let o = flat_id(gid, nwg, 256u);
    if (o >= p.count) { return; }
    let d = array<u32, 4>(p.d0, p.d1, p.d2, p.d3);
    let sx = array<u32, 4>(p.sx0, p.sx1, p.sx2, p.sx3);
    let sy = array<u32, 4>(p.sy0, p.sy1, p.sy2, p.sy3);
    let so = array<u32, 4>(p.so0, p.so1, p.so2, p.so3);
    let j = o % p.cols;
    let i = (o / p.cols) % p.rows;
    // out's own leading indices; the others are summed over.
    var lead = array<u32, 4>(0u, 0u, 0u, 0u);
    var rest = o / (p.cols * p.rows);
    var reduced = 1u;
    for (var k = 3; k >= 0; k--) {
        if (so[k] != 0u) {
            lead[k] = rest % d[k];
            rest = rest / d[k];
        } else {
            reduced *= d[k];
        }
    }
    var acc = 0.0;
    for (var r = 0u; r < reduced; r++) {
        var left = r;
        var ox = i * p.xi;
        var oy = j * p.yj;
        for (var k = 3; k >= 0; k--) {
            var idx = lead[k];
            if (so[k] == 0u) {
                idx = left % d[k];
                left = left / d[k];
            }
            ox += idx * sx[k];
            oy += idx * sy[k];
        }
        for (var t = 0u; t < p.inner; t++) {
            acc += x[ox + t * p.xt] * y[oy + t * p.yt];
        }
    }
    let v = p.coef * input_factor(p.factor, own[o], 0.0) * acc;
    if (p.accumulate != 0u) { out[o] += v; } else { out[o] = v; }
}
