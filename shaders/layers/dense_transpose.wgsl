// Adjoint of the dense layer: x̄[n, i] = Σ_o W[o, i] ȳ[n, o]. Serves gradients and LRP.

struct Params { n: u32, inputs: u32, outputs: u32, pad: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> ybar: array<f32>;
@group(0) @binding(2) var<storage, read> weight: array<f32>;
@group(0) @binding(3) var<storage, read_write> xbar: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let e = flat_id(gid, nwg, 64u);
    if (e >= p.n * p.inputs) { return; }
    let i = e % p.inputs;
    let n = e / p.inputs;
    var acc = 0.0;
    for (var o = 0u; o < p.outputs; o++) {
        acc += weight[o * p.inputs + i] * ybar[n * p.outputs + o];
    }
    xbar[e] = acc;
}
