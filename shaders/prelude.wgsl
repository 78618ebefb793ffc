// Prelude shared by every kernel (prepended by the kernel registry).

// Flat invocation index of a 1-D problem dispatched as a 2-D grid of `size`-wide workgroups
// (the grid wraps past the 65535-workgroups-per-dimension limit).
fn flat_id(gid: vec3<u32>, nwg: vec3<u32>, size: u32) -> u32 {
    return gid.x + gid.y * nwg.x * size;
}
