// Gaussian blur of the prototype every `every` steps (Yosinski et al. 2015's regulariser):
// `blur` writes the blurred picture (edge pixels average over the window inside the picture,
// so values stay in range), `copy` writes it back; both do nothing on the other steps.

struct Params { n: u32, c: u32, h: u32, w: u32, radius: u32, every: u32, sigma: f32, pad0: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read> step: array<f32>;
@group(0) @binding(3) var<storage, read_write> dst: array<f32>;

// Whether this step ends with a blur (it runs after the step counter: step[0] updates done).
fn blurs() -> bool {
    return u32(step[0]) % p.every == 0u;
}

@compute @workgroup_size(256)
fn blur(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_id(gid, nwg, 256u);
    let plane = p.h * p.w;
    if (i >= p.n * p.c * plane || !blurs()) { return; }
    let base = i - i % plane;
    let y = i32((i % plane) / p.w);
    let x = i32(i % p.w);
    let r = i32(p.radius);
    var acc = 0.0;
    var norm = 0.0;
    for (var dy = -r; dy <= r; dy++) {
        for (var dx = -r; dx <= r; dx++) {
            let yy = y + dy;
            let xx = x + dx;
            if (yy >= 0 && yy < i32(p.h) && xx >= 0 && xx < i32(p.w)) {
                let wgt = exp(-f32(dy * dy + dx * dx) / (2.0 * p.sigma * p.sigma));
                acc += wgt * src[base + u32(yy) * p.w + u32(xx)];
                norm += wgt;
            }
        }
    }
    dst[i] = acc / norm;
}

@compute @workgroup_size(256)
fn copy(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_id(gid, nwg, 256u);
    if (i >= p.n * p.c * p.h * p.w || !blurs()) { return; }
    dst[i] = src[i];
}
