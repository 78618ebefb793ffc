// Normalisation over the last `d` values of each of `rows` rows, `affine` = [γ (d), β (d)]:
//   forward: y = (x − μ) / σ · γ + β
//            kind 0 (LayerNorm): μ the mean, σ = sqrt(var + eps)
//            kind 1 (L2):        μ = 0, σ = max(‖x‖₂, eps)
//   vjp:     kind 0: out (+)= coef · factor(x) · (γ·g − mean(γ·g) − x̂ · mean(γ·g·x̂)) / σ
//            kind 1: out (+)= coef · factor(x) · (γ·g − x̂ · Σ γ·g·x̂) / σ  (no last term where
//            ‖x‖ ≤ eps)
//            (without the last term in mode GRAD_CONSTANT_STATISTICS: σ held constant)
// One invocation per row: rows are short (a token's or a pixel's channels).

struct Params { rows: u32, d: u32, eps: f32, factor: u32, accumulate: u32, coef: f32, mode: u32, kind: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> g: array<f32>;
@group(0) @binding(3) var<storage, read> affine: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;

// (μ, 1/σ, 1 where σ depends on the row) of the row starting at `base`.
fn stats(base: u32) -> vec3<f32> {
    if (p.kind == 1u) {
        var ss = 0.0;
        for (var j = 0u; j < p.d; j++) { ss += x[base + j] * x[base + j]; }
        let norm = sqrt(ss);
        return vec3<f32>(0.0, 1.0 / max(norm, p.eps), select(0.0, 1.0, norm > p.eps));
    }
    var mean = 0.0;
    for (var j = 0u; j < p.d; j++) { mean += x[base + j]; }
    mean /= f32(p.d);
    var var_ = 0.0;
    for (var j = 0u; j < p.d; j++) { let c = x[base + j] - mean; var_ += c * c; }
    return vec3<f32>(mean, inverseSqrt(var_ / f32(p.d) + p.eps), 1.0);
}

@compute @workgroup_size(64)
fn forward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let r = flat_id(gid, nwg, 64u);
    if (r >= p.rows) { return; }
    let base = r * p.d;
    let s = stats(base);
    for (var j = 0u; j < p.d; j++) {
        out[base + j] = (x[base + j] - s.x) * s.y * affine[j] + affine[p.d + j];
    }
}

@compute @workgroup_size(64)
fn vjp(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let r = flat_id(gid, nwg, 64u);
    if (r >= p.rows) { return; }
    let base = r * p.d;
    let s = stats(base);
    var s1 = 0.0;
    var s2 = 0.0;
    for (var j = 0u; j < p.d; j++) {
        let gg = affine[j] * g[base + j];
        s1 += gg;
        s2 += gg * (x[base + j] - s.x) * s.y;
    }
    if (p.kind == 1u) {
        s1 = 0.0;
    } else {
        s1 /= f32(p.d);
        s2 /= f32(p.d);
    }
    if (p.mode == GRAD_CONSTANT_STATISTICS || s.z == 0.0) { s2 = 0.0; }
    for (var j = 0u; j < p.d; j++) {
        let xhat = (x[base + j] - s.x) * s.y;
        let dx = (affine[j] * g[base + j] - s1 - xhat * s2) * s.y;
        let v = p.coef * input_factor(p.factor, x[base + j], 0.0) * dx;
        if (p.accumulate != 0u) { out[base + j] += v; } else { out[base + j] = v; }
    }
}
