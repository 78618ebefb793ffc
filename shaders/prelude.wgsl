// Prelude shared by every kernel (prepended by the kernel registry).

// Flat invocation index of a 1-D problem dispatched as a 2-D grid of `size`-wide workgroups
// (the grid wraps past the 65535-workgroups-per-dimension limit).
fn flat_id(gid: vec3<u32>, nwg: vec3<u32>, size: u32) -> u32 {
    return gid.x + gid.y * nwg.x * size;
}

// The factor a backward pass multiplies its result by before storing it (LRP's x'' ⊙ c; the
// FACTOR_* constants are generated from the Rust enum `layers::Factor`).
fn input_factor(mode: u32, xv: f32, channel_value: f32) -> f32 {
    switch mode {
        case FACTOR_X: { return xv; }
        case FACTOR_POSITIVE: { return max(xv, 0.0); }
        case FACTOR_NEGATIVE: { return min(xv, 0.0); }
        case FACTOR_CHANNEL: { return channel_value; }
        case FACTOR_X_TIMES_CHANNEL: { return xv * channel_value; }
        default: { return 1.0; }
    }
}
