// `step` holds the updates done, then each item's index in the whole run (its draws do not
// depend on which other prototypes share the program).
//
// Robustness transforms of activation maximisation (Lucid's jitter and scale), one random draw
// per (seed, step, item): the picture the model sees samples x bilinearly at
// u = (q − centre) / s + centre + d (zero outside), s ∈ [scale_lo, scale_hi], d ∈ [−jitter,
// jitter]² pixels. `forward` writes the transformed picture; `adjoint` its transpose applied to
// a gradient, gathered (for each source pixel, the target pixels whose samples touch it).

struct Params { n: u32, c: u32, h: u32, w: u32, jitter: f32, scale_lo: f32, scale_hi: f32, seed: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read> step: array<f32>;
@group(0) @binding(3) var<storage, read_write> dst: array<f32>;

fn pcg(v: u32) -> u32 {
    let s = v * 747796405u + 2891336453u;
    let w = ((s >> ((s >> 28u) + 4u)) ^ s) * 277803737u;
    return (w >> 22u) ^ w;
}

// Uniform in [0, 1) from the k-th draw of an item at a step.
fn draw(item: u32, k: u32) -> f32 {
    let id = u32(step[1u + item]);
    let h = pcg(p.seed ^ pcg(u32(step[0]) * 4u + k + pcg(id + 0x9e3779b9u)));
    return f32(h >> 8u) / 16777216.0;
}

// (scale, dy, dx) of an item at this step.
fn params_of(item: u32) -> vec3<f32> {
    let s = p.scale_lo + (p.scale_hi - p.scale_lo) * draw(item, 0u);
    let dy = p.jitter * (2.0 * draw(item, 1u) - 1.0);
    let dx = p.jitter * (2.0 * draw(item, 2u) - 1.0);
    return vec3<f32>(s, dy, dx);
}

@compute @workgroup_size(256)
fn forward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_id(gid, nwg, 256u);
    let plane = p.h * p.w;
    if (i >= p.n * p.c * plane) { return; }
    let b = i / (p.c * plane);
    let base = i - i % plane;
    let t = params_of(b);
    let cy = 0.5 * f32(p.h - 1u);
    let cx = 0.5 * f32(p.w - 1u);
    let uy = (f32((i % plane) / p.w) - cy) / t.x + cy + t.y;
    let ux = (f32(i % p.w) - cx) / t.x + cx + t.z;
    let y0 = floor(uy);
    let x0 = floor(ux);
    var acc = 0.0;
    for (var a = 0; a < 2; a++) {
        for (var e = 0; e < 2; e++) {
            let yy = y0 + f32(a);
            let xx = x0 + f32(e);
            if (yy >= 0.0 && yy < f32(p.h) && xx >= 0.0 && xx < f32(p.w)) {
                let wgt = (1.0 - abs(uy - yy)) * (1.0 - abs(ux - xx));
                acc += wgt * src[base + u32(yy) * p.w + u32(xx)];
            }
        }
    }
    dst[i] = acc;
}

@compute @workgroup_size(256)
fn adjoint(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_id(gid, nwg, 256u);
    let plane = p.h * p.w;
    if (i >= p.n * p.c * plane) { return; }
    let b = i / (p.c * plane);
    let base = i - i % plane;
    let t = params_of(b);
    let cy = 0.5 * f32(p.h - 1u);
    let cx = 0.5 * f32(p.w - 1u);
    let py = f32((i % plane) / p.w);
    let px = f32(i % p.w);
    // Target rows q with |u(q) − p| < 1: q ∈ ((p − 1 − d − c)·s + c, (p + 1 − d − c)·s + c).
    let qy0 = max(0, i32(ceil((py - 1.0 - t.y - cy) * t.x + cy)));
    let qy1 = min(i32(p.h) - 1, i32(floor((py + 1.0 - t.y - cy) * t.x + cy)));
    let qx0 = max(0, i32(ceil((px - 1.0 - t.z - cx) * t.x + cx)));
    let qx1 = min(i32(p.w) - 1, i32(floor((px + 1.0 - t.z - cx) * t.x + cx)));
    var acc = 0.0;
    for (var qy = qy0; qy <= qy1; qy++) {
        let wy = 1.0 - abs((f32(qy) - cy) / t.x + cy + t.y - py);
        if (wy <= 0.0) { continue; }
        for (var qx = qx0; qx <= qx1; qx++) {
            let wx = 1.0 - abs((f32(qx) - cx) / t.x + cx + t.z - px);
            if (wx > 0.0) {
                acc += wy * wx * src[base + u32(qy) * p.w + u32(qx)];
            }
        }
    }
    dst[i] = acc;
}
