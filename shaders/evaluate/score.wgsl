// The evaluated class's score for each slot of a batch of perturbed inputs: its logit or its
// softmax probability, stored at the slot's place in this submission's scores.

struct Params { batch: u32, classes: u32, slots: u32, probability: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> y: array<f32>;
@group(0) @binding(2) var<storage, read> targets: array<u32>;
@group(0) @binding(3) var<storage, read> cursor: array<f32>;
@group(0) @binding(4) var<storage, read_write> scores: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let j = flat_id(gid, nwg, 64u);
    if (j >= p.batch) { return; }
    let s = u32(cursor[0]) + j;
    let i = s / p.slots;
    if (i >= u32(cursor[2])) { return; }
    let base = j * p.classes;
    let t = targets[i];
    var out = y[base + t];
    if (p.probability == 1u) {
        var m = y[base];
        for (var c = 1u; c < p.classes; c++) { m = max(m, y[base + c]); }
        var z = 0.0;
        for (var c = 0u; c < p.classes; c++) { z += exp(y[base + c] - m); }
        out = exp(y[base + t] - m) / z;
    }
    scores[s - u32(cursor[1])] = out;
}
