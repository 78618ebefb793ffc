// Element-wise functions, one pipeline per function: FUNC (an override constant, one of the
// FUNC_* values generated from the table in src/layers/elementwise/table.rs) picks the row, and
// `elementwise_f` / `elementwise_df` / `elementwise_rectifier`, generated from the same table,
// dispatch to the functions below; each row has `<name>(x, a, b)` and `<name>_grad(x, a, b)`,
// a and b its parameters (Clip's bounds, HardSigmoid's α and β).
// `forward`: y = f(x).
// `vjp`: out (+)= coef · factor(x) · ḡ, with ḡ as the mode says (GRAD_*):
//   gradient:        g · f'(x) (PyTorch's convention at the kinks: 0 where the derivative jumps);
//   deconvnet:       max(g, 0) for rectifiers, ignoring the forward mask; g · f'(x) otherwise;
//   guided backprop: max(g, 0) · f'(x) for rectifiers; g · f'(x) otherwise;
//   redirected:      where a rectifier blocks, max(g, 0) below (min(g, 0) above a clip);
//   rescale:         g · (f(x) − f(r)) / (x − r) with r the same value on the reference run (its
//                    items follow the explained ones: r = x[count + i]); g · f'(x) where
//                    |x − r| < 1e-10 (Captum's DeepLIFT).

override FUNC: u32 = 0u;

struct Params { count: u32, a: f32, b: f32, mode: u32, factor: u32, accumulate: u32, coef: f32, pad0: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> g: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

fn step(c: bool) -> f32 { return select(0.0, 1.0, c); }

fn relu(x: f32, a: f32, b: f32) -> f32 { return max(x, 0.0); }
fn relu_grad(x: f32, a: f32, b: f32) -> f32 { return step(x > 0.0); }

fn clip(x: f32, a: f32, b: f32) -> f32 { return min(max(x, a), b); }
fn clip_grad(x: f32, a: f32, b: f32) -> f32 { return step(x > a && x < b); }

// e^−x overflows to +inf for x < −88, and 1 / (1 + inf) = 0: the right limit.
fn sigmoid(x: f32, a: f32, b: f32) -> f32 { return 1.0 / (1.0 + exp(-x)); }
fn sigmoid_grad(x: f32, a: f32, b: f32) -> f32 {
    let s = sigmoid(x, a, b);
    return s * (1.0 - s);
}

// Clamped: tanh is ±1 in f32 beyond ±9, and some drivers compute it from exp(2x), which
// overflows.
fn tanh_(x: f32, a: f32, b: f32) -> f32 { return tanh(clamp(x, -15.0, 15.0)); }
fn tanh__grad(x: f32, a: f32, b: f32) -> f32 {
    let t = tanh_(x, a, b);
    return 1.0 - t * t;
}

fn hard_sigmoid(x: f32, a: f32, b: f32) -> f32 { return clamp(a * x + b, 0.0, 1.0); }
fn hard_sigmoid_grad(x: f32, a: f32, b: f32) -> f32 {
    let h = a * x + b;
    return a * step(h > 0.0 && h < 1.0);
}

fn hard_swish(x: f32, a: f32, b: f32) -> f32 { return x * clamp(a * x + b, 0.0, 1.0); }
fn hard_swish_grad(x: f32, a: f32, b: f32) -> f32 {
    let h = a * x + b;
    return clamp(h, 0.0, 1.0) + x * a * step(h > 0.0 && h < 1.0);
}

// erf for f32: erfc(z) = t·exp(−z² − 1.26551223 + t·P(t)), t = 1 / (1 + z/2) (Numerical
// Recipes' erfcc, fractional error below 1.2e-7 everywhere).
fn erf32(v: f32) -> f32 {
    let z = abs(v);
    let t = 1.0 / (1.0 + 0.5 * z);
    let poly = -1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806
        + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277))))))));
    let erfc = t * exp(-z * z + poly);
    return sign(v) * (1.0 - erfc);
}

fn gelu(x: f32, a: f32, b: f32) -> f32 { return 0.5 * x * (1.0 + erf32(x * 0.70710678)); }
fn gelu_grad(x: f32, a: f32, b: f32) -> f32 {
    let cdf = 0.5 * (1.0 + erf32(x * 0.70710678));
    let pdf = exp(-0.5 * x * x) * 0.39894228;
    return cdf + x * pdf;
}

fn gelu_tanh(x: f32, a: f32, b: f32) -> f32 {
    let t = tanh_(0.7978845608 * (x + 0.044715 * x * x * x), a, b);
    return 0.5 * x * (1.0 + t);
}
fn gelu_tanh_grad(x: f32, a: f32, b: f32) -> f32 {
    let t = tanh_(0.7978845608 * (x + 0.044715 * x * x * x), a, b);
    return 0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * 0.7978845608 * (1.0 + 0.134145 * x * x);
}

fn silu(x: f32, a: f32, b: f32) -> f32 { return x * sigmoid(x, a, b); }
fn silu_grad(x: f32, a: f32, b: f32) -> f32 {
    let s = sigmoid(x, a, b);
    return s * (1.0 + x * (1.0 - s));
}

fn reciprocal(x: f32, a: f32, b: f32) -> f32 { return 1.0 / x; }
fn reciprocal_grad(x: f32, a: f32, b: f32) -> f32 { return -1.0 / (x * x); }

@compute @workgroup_size(256)
fn forward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_id(gid, nwg, 256u);
    if (i >= p.count) { return; }
    out[i] = elementwise_f(FUNC, x[i], p.a, p.b);
}

@compute @workgroup_size(256)
fn vjp(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_id(gid, nwg, 256u);
    if (i >= p.count) { return; }
    let xv = x[i];
    let gv = g[i];
    let d = elementwise_df(FUNC, xv, p.a, p.b);
    var v = gv * d;
    let rectifier = elementwise_rectifier(FUNC);
    switch p.mode {
        case GRAD_DECONVNET: { if (rectifier) { v = max(gv, 0.0); } }
        case GRAD_GUIDED_BACKPROP: { if (rectifier) { v = max(gv, 0.0) * d; } }
        case GRAD_REDIRECTED: {
            if (rectifier && d == 0.0) {
                v = select(min(gv, 0.0), max(gv, 0.0), FUNC == FUNC_RELU || xv <= p.a);
            }
        }
        case GRAD_RESCALE: {
            let r = x[p.count + i];
            let dx = xv - r;
            if (abs(dx) >= 1e-10) {
                v = gv * ((elementwise_f(FUNC, xv, p.a, p.b) - elementwise_f(FUNC, r, p.a, p.b)) / dx);
            }
        }
        default: {}
    }
    let r = p.coef * input_factor(p.factor, xv, 0.0) * v;
    if (p.accumulate != 0u) { out[i] += r; } else { out[i] = r; }
}
