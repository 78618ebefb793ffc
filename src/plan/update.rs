//! Update kernels for multi-step programs: what a repeated step does to its state.

use super::{binds, Launch, Out, Program, TensorId};
use crate::error::Result;

crate::params! {
    /// `count` values, step size and bounds.
    pub struct AscentParams { pub count: u32, pub lr: f32, pub lo: f32, pub hi: f32 }
}

crate::kernel!(
    /// `x = clamp(x + lr · g, lo, hi)` in place.
    pub ASCENT: AscentParams = "update/ascent"
);

/// Records one projected gradient-ascent step on `x` (`count` values) along `g`.
pub fn record_ascent(
    p: &mut Program,
    x: TensorId,
    g: TensorId,
    count: usize,
    lr: f32,
    bounds: (f32, f32),
) -> Result<()> {
    let params = AscentParams {
        count: count as u32,
        lr,
        lo: bounds.0,
        hi: bounds.1,
    };
    let launch = Launch::Flat {
        count: count as u64,
        size: 256,
    };
    let bindings = binds(&[g], &[], x);
    p.pass(&ASCENT, "main", &params, bindings, Out::Update(x), launch)
}
