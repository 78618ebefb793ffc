//! Strided copies that Transpose, Slice and Split share (one kernel, `layers/strided`): each
//! value of an iterated `[batch, ..dims]` maps one-to-one to `offset + Σ i_d · s_d` of another
//! tensor. Forward passes gather through the map; VJPs scatter back through the same map.

use super::Dest;
use crate::error::{Error, Result};
use crate::model::Tensor;
use crate::plan::{Launch, Out, Program, Resource, TensorId};

crate::params! {
    /// Values iterated, accumulation, the map's offset, the fill value's bits, sizes and signed
    /// strides (6 dimensions).
    pub struct StridedParams {
        pub count: u32, pub accumulate: u32, pub offset: u32, pub fill: u32,
        pub d0: u32, pub d1: u32, pub d2: u32, pub d3: u32, pub d4: u32, pub d5: u32,
        pub pad1: u32, pub pad2: u32,
        pub s0: i32, pub s1: i32, pub s2: i32, pub s3: i32, pub s4: i32, pub s5: i32,
        pub pad3: u32, pub pad4: u32,
    }
}

crate::kernel!(pub(crate) KERNEL: StridedParams = "layers/strided");

/// Dimensions the kernel indexes (the batch and at most 5 per item).
pub(crate) const RANK: usize = 6;

/// A one-to-one map from the values of `[batch, ..dims]` into another tensor.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct StridedMap {
    /// The iterated sizes, padded in front to [`RANK`] (the batch at `RANK - 1 - item rank`).
    pub dims: [usize; RANK],
    /// Signed strides into the other tensor, per iterated dimension.
    pub strides: [i64; RANK],
    /// Where index 0 lands.
    pub offset: usize,
}

impl StridedMap {
    /// The map of per-item `dims` with per-item `strides` and `offset` into another tensor of
    /// `item` values per batch item.
    pub fn new(
        batch: usize,
        dims: &[usize],
        strides: &[i64],
        offset: usize,
        item: usize,
    ) -> Result<Self> {
        if dims.len() >= RANK {
            return Err(Error::Shape(format!(
                "tensors of more than {} dimensions per item are not supported, got {dims:?}",
                RANK - 1
            )));
        }
        let lead = RANK - 1 - dims.len();
        let mut d = [1; RANK];
        let mut s = [0; RANK];
        d[lead] = batch;
        s[lead] = item as i64;
        d[lead + 1..].copy_from_slice(dims);
        s[lead + 1..].copy_from_slice(strides);
        Ok(StridedMap {
            dims: d,
            strides: s,
            offset,
        })
    }

    /// Values iterated.
    pub fn count(&self) -> usize {
        self.dims.iter().product()
    }

    /// Where iterated value `i` lands.
    pub fn at(&self, i: usize) -> usize {
        let (mut rest, mut at) = (i, self.offset as i64);
        for k in (0..RANK).rev() {
            at += (rest % self.dims[k]) as i64 * self.strides[k];
            rest /= self.dims[k];
        }
        at as usize
    }

    fn params(&self, accumulate: bool) -> Result<StridedParams> {
        let small = |v: i64| i32::try_from(v).is_ok();
        if !self.strides.iter().all(|&s| small(s)) || !small(self.offset as i64) {
            return Err(Error::Shape(
                "a strided copy over more than 2^31 values is not supported".into(),
            ));
        }
        let (d, s) = (self.dims.map(|v| v as u32), self.strides.map(|v| v as i32));
        Ok(StridedParams {
            count: self.count() as u32,
            accumulate: accumulate as u32,
            offset: self.offset as u32,
            d0: d[0],
            d1: d[1],
            d2: d[2],
            d3: d[3],
            d4: d[4],
            d5: d[5],
            s0: s[0],
            s1: s[1],
            s2: s[2],
            s3: s[3],
            s4: s[4],
            s5: s[5],
            ..StridedParams::default()
        })
    }
}

/// Contiguous strides of a per-item shape.
pub(crate) fn contiguous(shape: &[usize]) -> Vec<i64> {
    let mut s = vec![1i64; shape.len()];
    for k in (0..shape.len().saturating_sub(1)).rev() {
        s[k] = s[k + 1] * shape[k + 1] as i64;
    }
    s
}

fn launch(count: usize) -> Launch {
    Launch::Flat {
        count: count as u64,
        size: 256,
    }
}

/// f64 `y[i] = x[map(i)]`, shaped `[batch, ..out]` (the forward pass of a layer that moves values).
pub(crate) fn reference_gather(x: &Tensor<f64>, map: &StridedMap, out: &[usize]) -> Tensor<f64> {
    Tensor {
        shape: std::iter::once(x.shape[0])
            .chain(out.iter().copied())
            .collect(),
        data: (0..map.count()).map(|i| x.data[map.at(i)]).collect(),
    }
}

/// f64 `dx[map(i)] = g[i]`, zeros elsewhere, shaped like `x` (its VJP).
pub(crate) fn reference_scatter(g: &Tensor<f64>, x: &Tensor<f64>, map: &StridedMap) -> Tensor<f64> {
    let mut dx = Tensor::zeros(x.shape.clone());
    for (i, &v) in g.data.iter().enumerate() {
        dx.data[map.at(i)] = v;
    }
    dx
}

/// Records the forward pass `y[i] = x[map(i)]` into a new tensor.
pub(crate) fn record_gather(
    p: &mut Program,
    name: &str,
    x: TensorId,
    map: &StridedMap,
) -> Result<TensorId> {
    let y = p.tensor(name, map.count())?;
    let dest = Dest {
        tensor: y,
        accumulate: false,
    };
    gather(p, x, map, dest)?;
    Ok(y)
}

/// `dest[i] (+)= x[map(i)]` over the map's values.
pub(crate) fn gather(p: &mut Program, x: TensorId, map: &StridedMap, dest: Dest) -> Result<()> {
    let params = map.params(dest.accumulate)?;
    let bindings = vec![(1, Resource::Tensor(x)), (2, Resource::Tensor(dest.tensor))];
    p.pass(
        &KERNEL,
        "gather",
        &params,
        bindings,
        dest.out(),
        launch(map.count()),
    )
}

/// `dest[map(i)] (+)= g[i]`. With `zero_first`, those values of `dest` are zeroed before (what
/// the map does not reach gets nothing) and `g` is added; without, what the map does not reach
/// is left as it is (Concat's inputs each write their own part).
pub(crate) fn scatter(
    p: &mut Program,
    g: TensorId,
    map: &StridedMap,
    dest: Dest,
    zero_first: Option<usize>,
) -> Result<()> {
    let zero = zero_first.filter(|&n| !dest.accumulate && map.count() < n);
    if let Some(values) = zero {
        fill(p, dest.tensor, values, 0.0)?;
    }
    let accumulate = dest.accumulate || zero.is_some();
    let params = map.params(accumulate)?;
    let bindings = vec![(1, Resource::Tensor(g)), (2, Resource::Tensor(dest.tensor))];
    let out = if accumulate {
        Out::Update(dest.tensor)
    } else {
        Out::Write(dest.tensor)
    };
    p.pass(
        &KERNEL,
        "scatter",
        &params,
        bindings,
        out,
        launch(map.count()),
    )
}

/// `out[map(i)] = g[i]`, overwriting, the rest of `out` left as it is (a Pad's inside).
pub(crate) fn scatter_over(
    p: &mut Program,
    g: TensorId,
    map: &StridedMap,
    out: TensorId,
) -> Result<()> {
    let params = map.params(false)?;
    let bindings = vec![(1, Resource::Tensor(g)), (2, Resource::Tensor(out))];
    p.pass(
        &KERNEL,
        "scatter",
        &params,
        bindings,
        Out::Update(out),
        launch(map.count()),
    )
}

/// `out[i] = value` for the first `count` values.
pub(crate) fn fill(p: &mut Program, out: TensorId, count: usize, value: f32) -> Result<()> {
    let params = StridedParams {
        count: count as u32,
        fill: value.to_bits(),
        ..StridedParams::default()
    };
    let bindings = vec![(2, Resource::Tensor(out))];
    p.pass(
        &KERNEL,
        "fill",
        &params,
        bindings,
        Out::Write(out),
        launch(count),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_map_lands_where_its_strides_say() {
        // [2, 3] read transposed from a [3, 2] item, batch 2.
        let m = StridedMap::new(2, &[2, 3], &[1, 2], 0, 6).unwrap();
        let got: Vec<usize> = (0..12).map(|i| m.at(i)).collect();
        assert_eq!(got, [0, 2, 4, 1, 3, 5, 6, 8, 10, 7, 9, 11]);
        assert_eq!(contiguous(&[2, 3, 4]), [12, 4, 1]);
        // A reversed slice: elements 3, 2, 1 of a row of 5.
        let r = StridedMap::new(1, &[3], &[-1], 3, 5).unwrap();
        assert_eq!((0..3).map(|i| r.at(i)).collect::<Vec<_>>(), [3, 2, 1]);
    }
}
