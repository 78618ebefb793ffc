// Builds one batch of perturbed inputs from the inputs and their rankings. Slot s = cursor + j
// of the sweep holds input i = s / S at step k = s mod S: its regions of rank below
// k · per_step replaced by the fill (k = 0 is the input itself). Slots past the last input
// get zeros, so the forward pass stays finite.

struct Params {
    batch: u32, features: u32, slots: u32, per_step: u32,
    regions: u32, c: u32, h: u32, w: u32,
    size: u32, pad_h: u32, pad_w: u32, blocks_w: u32,
    is_features: u32, image_fill: u32, steps: u32, pad0: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> ranks: array<u32>;
@group(0) @binding(3) var<storage, read> fills: array<f32>;
// [the batch's first slot, the submission's first slot, inputs].
@group(0) @binding(4) var<storage, read> cursor: array<f32>;
@group(0) @binding(5) var<storage, read_write> xp: array<f32>;

fn region_of(f: u32) -> u32 {
    if (p.is_features == 1u) { return f; }
    let y = (f / p.w) % p.h;
    let xx = f % p.w;
    return ((y + p.pad_h) / p.size) * p.blocks_w + (xx + p.pad_w) / p.size;
}

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let id = flat_id(gid, nwg, 256u);
    if (id >= p.batch * p.features) { return; }
    let j = id / p.features;
    let f = id % p.features;
    let s = u32(cursor[0]) + j;
    let i = s / p.slots;
    let k = s % p.slots;
    if (i >= u32(cursor[2])) {
        xp[id] = 0.0;
        return;
    }
    var v = x[i * p.features + f];
    if (k > 0u) {
        let rank = ranks[i * p.regions + region_of(f)];
        if (rank < k * p.per_step) {
            if (p.image_fill == 1u) {
                v = fills[i * p.features + f];
            } else {
                v = fills[i * p.steps + rank / p.per_step];
            }
        }
    }
    xp[id] = v;
}
