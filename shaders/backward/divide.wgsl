// s = R / stab(z) with stab(z) = z + ε·sign(z), sign(0) = +1 (Zennit's stabiliser); a zero
// denominator (only possible with ε = 0) gives s = 0 instead of a division by zero.
// z may carry an input-independent part `z_const` (one item, broadcast over the batch: the zᴮ
// bound terms, flat and w²), and s may be masked by the sign of a reference output (γ rule).

struct Params { count: u32, item: u32, eps: f32, mask: u32, has_const: u32, pad0: u32, pad1: u32, pad2: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> r: array<f32>;
@group(0) @binding(2) var<storage, read> z: array<f32>;
@group(0) @binding(3) var<storage, read> reference: array<f32>;
@group(0) @binding(4) var<storage, read> z_const: array<f32>;
@group(0) @binding(5) var<storage, read_write> s: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_id(gid, nwg, 256u);
    if (i >= p.count) { return; }
    // ZCONST_NONE → z, ZCONST_ADDED → z + z_const, ZCONST_ONLY → z_const alone (all terms constant).
    var zt = select(z[i], 0.0, p.has_const == ZCONST_ONLY);
    if (p.has_const != ZCONST_NONE) { zt += z_const[i % p.item]; }
    let sign = select(-1.0, 1.0, zt >= 0.0);
    let d = zt + p.eps * sign;
    var v = select(r[i] / d, 0.0, d == 0.0);
    if (p.mask == MASK_WHERE_POSITIVE && !(reference[i] > 0.0)) { v = 0.0; }
    if (p.mask == MASK_WHERE_NEGATIVE && !(reference[i] < 0.0)) { v = 0.0; }
    s[i] = v;
}
