// Counts a repeated step: s[0] += by (after every pass of the step read the old count).

struct Params { by: f32, pad0: u32, pad1: u32, pad2: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> s: array<f32>;

@compute @workgroup_size(1)
fn main() {
    s[0] = s[0] + p.by;
}
