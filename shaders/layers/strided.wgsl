// Strided copies over (at most) 6 dimensions, the batch first: `d*` are the sizes iterated (the
// output's for `gather`, the source's for `scatter`) and `s*` (signed) with `offset` map each
// iterated index to the other tensor: Transpose, Slice, Split and Pad, and their VJPs.
//   gather:  out[i] (+)= x[offset + Σ i_d·s_d]
//   scatter: out[offset + Σ i_d·s_d] (+)= x[i]   (the map is one-to-one: no two i meet)
//   fill:    out[i] = the f32 whose bits are `fill` (zeros before a scatter, a Pad's value)

struct Params {
    count: u32, accumulate: u32, offset: u32, fill: u32,
    d0: u32, d1: u32, d2: u32, d3: u32, d4: u32, d5: u32, pad1: u32, pad2: u32,
    s0: i32, s1: i32, s2: i32, s3: i32, s4: i32, s5: i32, pad3: u32, pad4: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

fn mapped(i: u32) -> u32 {
    let d = array<u32, 6>(p.d0, p.d1, p.d2, p.d3, p.d4, p.d5);
    let s = array<i32, 6>(p.s0, p.s1, p.s2, p.s3, p.s4, p.s5);
    var rest = i;
    var at = i32(p.offset);
    for (var k = 5; k >= 0; k--) {
        at += i32(rest % d[k]) * s[k];
        rest = rest / d[k];
    }
    return u32(at);
}

@compute @workgroup_size(256)
fn gather(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_id(gid, nwg, 256u);
    if (i >= p.count) { return; }
    let v = x[mapped(i)];
    if (p.accumulate != 0u) { out[i] += v; } else { out[i] = v; }
}

@compute @workgroup_size(256)
fn scatter(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_id(gid, nwg, 256u);
    if (i >= p.count) { return; }
    let j = mapped(i);
    if (p.accumulate != 0u) { out[j] += x[i]; } else { out[j] = x[i]; }
}

@compute @workgroup_size(256)
fn fill(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_id(gid, nwg, 256u);
    if (i >= p.count) { return; }
    out[i] = bitcast<f32>(p.fill);
}
