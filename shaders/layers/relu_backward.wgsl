// Backward of ReLU and Clip (f(x) = min(max(x, lo), hi)) for the gradient family, element-wise:
//   out (+)= the gradient g at the output, passed back as the method says:
// mode 0, gradient:        g · [lo < x < hi] (PyTorch's mask: nothing flows at the kinks);
// mode 1, deconvnet:       max(g, 0), the forward mask ignored;
// mode 2, guided backprop: max(g, 0) · [lo < x < hi];
// mode 3, DeepLIFT rescale: g · (f(x) − f(r)) / (x − r), with r the same input on the reference
//   run (the reference items follow the explained ones: r = x[count + i]); where |x − r| < 1e-10
//   the gradient's mask instead (Captum's choice).

struct Params { count: u32, lo: u32, hi: u32, mode: u32, accumulate: u32, pad0: u32, pad1: u32, pad2: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> g: array<f32>;
@group(0) @binding(2) var<storage, read> x: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

fn clip(v: f32) -> f32 {
    return min(max(v, bitcast<f32>(p.lo)), bitcast<f32>(p.hi));
}

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_id(gid, nwg, 256u);
    if (i >= p.count) { return; }
    let xv = x[i];
    let gv = g[i];
    let open = select(0.0, 1.0, xv > bitcast<f32>(p.lo) && xv < bitcast<f32>(p.hi));
    var v = gv * open;
    switch p.mode {
        case 1u: { v = max(gv, 0.0); }
        case 2u: { v = max(gv, 0.0) * open; }
        case 3u: {
            let r = x[p.count + i];
            let d = xv - r;
            if (abs(d) >= 1e-10) { v = gv * ((clip(xv) - clip(r)) / d); }
        }
        default: {}
    }
    if (p.accumulate != 0u) { out[i] += v; } else { out[i] = v; }
}
