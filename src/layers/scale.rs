//! The element-wise pass backward steps share: `out (+)= coef · factor(x) · s` (copies, sums'
//! and reshapes' VJPs, BatchNorm's scale, LRP's pass and proportional rules).

use super::{Dest, Factor};
use crate::error::Result;
use crate::plan::{binds, Launch, Program, Resource, TensorId, WgslEnum};

crate::params! {
    /// `count` values of `[.., channels, inner]`; factor, accumulation and multiplier.
    pub struct ScaleParams {
        pub count: u32, pub channels: u32, pub inner: u32, pub factor: u32,
        pub accumulate: u32, pub coef: f32, pub pad0: u32, pub pad1: u32,
    }
}

crate::kernel!(pub(crate) SCALE: ScaleParams = "layers/scale");

/// What one scale pass computes.
#[derive(Clone, Debug)]
pub(crate) struct Scale {
    /// The tensor the factor reads.
    pub x: TensorId,
    /// The values scaled.
    pub s: TensorId,
    /// Per-channel values of [`Factor::Channel`] / [`Factor::XTimesChannel`]: constants, or a
    /// tensor the host writes (a condition's mask).
    pub channel_values: Option<Resource>,
    /// Values.
    pub count: usize,
    /// Channels and the values per channel (`[.., channels, inner]`).
    pub channels: usize,
    pub inner: usize,
    pub factor: Factor,
    pub coef: f32,
}

/// Records `dest (+)= coef · factor(x) · s` element-wise.
pub(crate) fn scale_pass(p: &mut Program, sc: &Scale, dest: Dest) -> Result<()> {
    let cv = match sc.channel_values.clone() {
        Some(c) => c,
        None => Resource::Const(p.zero()?),
    };
    let params = ScaleParams {
        count: sc.count as u32,
        channels: sc.channels.max(1) as u32,
        inner: sc.inner.max(1) as u32,
        factor: sc.factor.code(),
        accumulate: dest.accumulate as u32,
        coef: sc.coef,
        pad0: 0,
        pad1: 0,
    };
    let launch = Launch::Flat {
        count: sc.count as u64,
        size: 256,
    };
    let bindings = binds(&[sc.x, sc.s], &[cv], dest.tensor);
    p.pass(&SCALE, "main", &params, bindings, dest.out(), launch)
}

/// `dest (+)= coef · factor(x) · g` with one channel: the VJP of layers that pass `g` through.
pub(crate) fn pass_through(
    p: &mut Program,
    x: TensorId,
    g: TensorId,
    count: usize,
    factor: Factor,
    coef: f32,
    dest: Dest,
) -> Result<()> {
    let sc = Scale {
        x,
        s: g,
        channel_values: None,
        count,
        channels: 1,
        inner: 1,
        factor,
        coef,
    };
    scale_pass(p, &sc, dest)
}
