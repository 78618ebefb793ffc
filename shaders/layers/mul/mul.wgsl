// Product of two activations with ONNX broadcasting, over (at most) 6 dimensions of the output,
// the batch first: `d*` are the output's sizes, `s*` and `t*` per-dimension strides (0 where a
// tensor is broadcast along the dimension).
//   forward: y[o] = a[Σ i_d·s_d] · b[Σ i_d·t_d]
//   vjp:     out[j] (+)= coef · factor(x[j]) · Σ over the dimensions x is broadcast along of
//            g[o] · w[Σ i_d·t_d] (or of g[o] alone when `ones` ≠ 0: LRP's shares, which ignore w)
// where x is the input whose share is computed (strides s) and w the other (strides t).

struct Params {
    count: u32, ones: u32, factor: u32, accumulate: u32, coef: f32, pad0: u32, pad1: u32, pad2: u32,
    d0: u32, d1: u32, d2: u32, d3: u32, d4: u32, d5: u32,
    s0: u32, s1: u32, s2: u32, s3: u32, s4: u32, s5: u32,
    t0: u32, t1: u32, t2: u32, t3: u32, t4: u32, t5: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> w: array<f32>;
@group(0) @binding(3) var<storage, read> g: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;

fn dims() -> array<u32, 6> { return array<u32, 6>(p.d0, p.d1, p.d2, p.d3, p.d4, p.d5); }
fn x_strides() -> array<u32, 6> { return array<u32, 6>(p.s0, p.s1, p.s2, p.s3, p.s4, p.s5); }
fn w_strides() -> array<u32, 6> { return array<u32, 6>(p.t0, p.t1, p.t2, p.t3, p.t4, p.t5); }

@compute @workgroup_size(256)
fn forward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_id(gid, nwg, 256u);
    if (i >= p.count) { return; }
    let d = dims();
    let s = x_strides();
    let t = w_strides();
    var rest = i;
    var ia = 0u;
    var ib = 0u;
    for (var k = 5; k >= 0; k--) {
        let idx = rest % d[k];
        rest = rest / d[k];
        ia += idx * s[k];
        ib += idx * t[k];
    }
    out[i] = x[ia] * w[ib];
}

@compute @workgroup_size(256)
fn vjp(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let j = flat_id(gid, nwg, 256u);
    if (j >= p.count) { return; }
    let d = dims();
    let s = x_strides();
    let t = w_strides();
    // x's own index along each dimension it is not broadcast along.
    var own = array<u32, 6>(0u, 0u, 0u, 0u, 0u, 0u);
    var reduced = 1u;
    var rest = j;
    for (var k = 5; k >= 0; k--) {
        if (s[k] != 0u) {
            own[k] = rest % d[k];
            rest = rest / d[k];
        } else {
            reduced *= d[k];
        }
    }
    var acc = 0.0;
    for (var r = 0u; r < reduced; r++) {
        var left = r;
        var o = 0u;
        var ow = 0u;
        var step = 1u;
        for (var k = 5; k >= 0; k--) {
            var idx = own[k];
            if (s[k] == 0u) {
                idx = left % d[k];
                left = left / d[k];
            }
            o += idx * step;
            step *= d[k];
            ow += idx * t[k];
        }
        if (p.ones != 0u) { acc += g[o]; } else { acc += g[o] * w[ow]; }
    }
    let v = p.coef * input_factor(p.factor, x[j], 0.0) * acc;
    if (p.accumulate != 0u) { out[j] += v; } else { out[j] = v; }
}
