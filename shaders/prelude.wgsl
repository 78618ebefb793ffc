// Prelude shared by every kernel (prepended by the kernel registry).

// Flat invocation index of a 1-D problem dispatched as a 2-D grid of `size`-wide workgroups
// (the grid wraps past the 65535-workgroups-per-dimension limit).
fn flat_id(gid: vec3<u32>, nwg: vec3<u32>, size: u32) -> u32 {
    return gid.x + gid.y * nwg.x * size;
}

// The factor an adjoint's result is multiplied by before it is stored (LRP's x ⊙ c):
// mode 0 → 1 (the plain adjoint: gradients, and flat / w² whose relevance is the adjoint itself),
// 1 → x, 2 → max(x, 0), 3 → min(x, 0), 4 → a per-channel constant (zᴮ bounds),
// 5 → x times a per-channel constant (the proportional rule through BatchNorm's scale).
fn input_factor(mode: u32, xv: f32, channel_value: f32) -> f32 {
    switch mode {
        case 1u: { return xv; }
        case 2u: { return max(xv, 0.0); }
        case 3u: { return min(xv, 0.0); }
        case 4u: { return channel_value; }
        case 5u: { return xv * channel_value; }
        default: { return 1.0; }
    }
}
