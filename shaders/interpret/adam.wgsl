// One optimiser step on x along the ascent direction g, then x clamped to [lo, hi]. `step`
// holds the steps done so far; `moments` Adam's first and second moments (2 × count values).
// Adam as torch.optim.Adam on −J: x += lr · m̂ / (√v̂ + ε) with bias-corrected moments; plain
// gradient ascent when `adam` is 0.

struct Params { count: u32, adam: u32, pad0: u32, pad1: u32, lr: f32, beta1: f32, beta2: f32, eps: f32, lo: f32, hi: f32, pad2: f32, pad3: f32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> g: array<f32>;
@group(0) @binding(2) var<storage, read> step: array<f32>;
@group(0) @binding(3) var<storage, read_write> moments: array<f32>;
@group(0) @binding(4) var<storage, read_write> x: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_id(gid, nwg, 256u);
    if (i >= p.count) { return; }
    var d = g[i];
    if (p.adam != 0u) {
        let t = step[0] + 1.0;
        let m = p.beta1 * moments[i] + (1.0 - p.beta1) * g[i];
        let v = p.beta2 * moments[p.count + i] + (1.0 - p.beta2) * g[i] * g[i];
        moments[i] = m;
        moments[p.count + i] = v;
        let mh = m / (1.0 - pow(p.beta1, t));
        let vh = v / (1.0 - pow(p.beta2, t));
        d = mh / (sqrt(vh) + p.eps);
    }
    x[i] = clamp(x[i] + p.lr * d, p.lo, p.hi);
}
