//! Winograd convolution, F(2×2, 3×3) (Lavin & Gray, 2016): a 3×3 stride-1 convolution as 16
//! products of transformed input tiles by transformed weights, 16 multiply-adds per 2×2 output
//! pixels and input channel where the direct convolution spends 36. Three passes per chunk of
//! tiles: the input transform `Bᵀ d B`, the 16 products (one batched GEMM), the output transform
//! `Aᵀ m A` with the pass's epilogue. The weights `G g Gᵀ` are transformed once per device model
//! (computed in f64), like every other packed layout.
//!
//! The adjoint of such a convolution is again one: the correlation of ȳ with the flipped kernel,
//! input and output channels swapped, padded by `2 − pad`; so LRP's adjoint passes and every
//! gradient method's run on the same three kernels.

use super::Conv2d;
use crate::error::Result;
use crate::layers::Factor;
use crate::plan::tiles::WINOGRAD_GEMM_SHAPES;
use crate::plan::{ConstId, SUBGROUP_LANES};
use crate::plan::{
    DeviceProfile, KernelFamily, KernelFlavor, Launch, Out, Program, Resource, TensorId, WgslEnum,
};

crate::params! {
    /// Geometry and epilogue of the transforms (`winograd_input`, `winograd_output`): a 3×3
    /// stride-1 correlation of `[n, cin, h, w]` to `[n, cout, oh, ow]` padded by (pt, pl), over
    /// the flat tiles `t0..t0 + tc` (items × th tile rows × tw tile columns of 2×2 pixels).
    pub struct WinogradParams {
        pub n: u32, pub cin: u32, pub h: u32, pub w: u32,
        pub cout: u32, pub oh: u32, pub ow: u32, pub cout4: u32,
        pub pt: u32, pub pl: u32, pub th: u32, pub tw: u32,
        pub t0: u32, pub tc: u32, pub input: u32, pub factor: u32,
        pub adjoint: u32, pub accumulate: u32, pub has_bias: u32, pub coef: f32,
    }
}

crate::params! {
    /// `M[ξ] = V[ξ]·U[ξ]` for `ξ < batch`: `m` tiles, `k` input channels, `n` output channels
    /// (a multiple of 4).
    pub struct WinogradGemmParams { pub m: u32, pub n: u32, pub k: u32, pub batch: u32 }
}

crate::kernel!(pub(crate) INPUT: WinogradParams = "layers/conv2d/winograd_input");
crate::kernel!(pub(crate) GEMM: WinogradGemmParams = "layers/conv2d/winograd_gemm");
crate::kernel!(pub(crate) OUTPUT: WinogradParams = "layers/conv2d/winograd_output");

/// Positions of the transformed 4×4 tile: one product each.
const POSITIONS: usize = 16;

/// Fewest input and output channels for which the transforms' traffic pays for itself. Measured
/// on lavapipe (AMD EPYC, AVX-512): at 16–32 channels (resnet_fashion, batch 16) Winograd is
/// 1.13× slower forward and 1.10× slower LRP than the direct kernels; at 64–512 (VGG16, batch 1)
/// 1.91× faster forward and 1.85× faster LRP. (Forced on at 16, it also moves two
/// ill-conditioned resnet_fashion goldens past 1e-4: IG trapezoid 1.13e-4, CRP parallel 3.3e-4.)
pub(crate) const MIN_CHANNELS: usize = 64;

/// The most bytes one chunk's transformed tiles may take (each of V and M): large layers run in
/// chunks of tiles so that the scratch stays small and within the binding limit.
const CHUNK_BYTES: u64 = 64 << 20;

/// Whether a convolution's pass of `family` (forward or adjoint) runs as Winograd on this device:
/// the family's variant is subgroup+winograd (the kernels are the subgroup flavor's), the
/// convolution 3×3, stride 1, no dilation, one group, padding at most 2, and
/// wide enough in both channel counts, with its transformed weights small enough to bind whole
/// (the direct kernels, which chunk their weights, run the rest).
pub(crate) fn applies(c: &Conv2d, profile: &DeviceProfile, family: KernelFamily) -> bool {
    let w = &c.weight.shape;
    let variant = profile.kernels.get(family);
    variant.winograd
        && variant.flavor == KernelFlavor::Subgroup
        && c.groups == 1
        && w[2] == 3
        && w[3] == 3
        && c.stride == [1, 1]
        && c.dilation == [1, 1]
        && c.pads[0] <= 2
        && c.pads[1] <= 2
        && w[0] >= MIN_CHANNELS
        && w[1] >= MIN_CHANNELS
        && [false, true]
            .iter()
            .all(|&adjoint| 4 * packed_len(c, adjoint) as u64 <= profile.max_tensor_bytes())
}

/// `G g Gᵀ` of one 3×3 kernel `g` (row-major), in f64.
fn transform_kernel(g: [f64; 9]) -> [f64; 16] {
    // G = [1 0 0; ½ ½ ½; ½ −½ ½; 0 0 1] applied along the rows, then along the columns.
    let col = |a: f64, b: f64, c: f64| [a, 0.5 * (a + b + c), 0.5 * (a - b + c), c];
    let mut gg = [[0.0; 3]; 4];
    for j in 0..3 {
        let r = col(g[j], g[3 + j], g[6 + j]);
        for i in 0..4 {
            gg[i][j] = r[i];
        }
    }
    let mut u = [0.0; 16];
    for i in 0..4 {
        let r = col(gg[i][0], gg[i][1], gg[i][2]);
        u[i * 4..i * 4 + 4].copy_from_slice(&r);
    }
    u
}

/// Transformed weights `[16][k][n ↑ 4]` of the correlation whose kernel from input channel
/// `kk` to output channel `nn` is `kernel(kk, nn)`.
fn pack(k: usize, n: usize, kernel: impl Fn(usize, usize) -> [f64; 9]) -> Vec<f32> {
    let n4 = n.div_ceil(4) * 4;
    let mut out = vec![0.0; POSITIONS * k * n4];
    for kk in 0..k {
        for nn in 0..n {
            let u = transform_kernel(kernel(kk, nn));
            for (xi, v) in u.iter().enumerate() {
                out[(xi * k + kk) * n4 + nn] = *v as f32;
            }
        }
    }
    out
}

/// The forward pass's transformed weights: input channels × output channels.
pub(super) fn pack_forward(c: &Conv2d) -> Vec<f32> {
    let (cout, cin) = (c.weight.shape[0], c.weight.shape[1]);
    let w = &c.weight.data;
    pack(cin, cout, |ci, o| {
        std::array::from_fn(|r| w[(o * cin + ci) * 9 + r] as f64)
    })
}

/// The adjoint's: output channels × input channels, each kernel flipped.
pub(super) fn pack_adjoint(c: &Conv2d) -> Vec<f32> {
    let (cout, cin) = (c.weight.shape[0], c.weight.shape[1]);
    let w = &c.weight.data;
    pack(cout, cin, |o, ci| {
        std::array::from_fn(|r| w[(o * cin + ci) * 9 + 8 - r] as f64)
    })
}

/// Values in the transformed weights of a convolution (either direction).
pub(super) fn packed_len(c: &Conv2d, adjoint: bool) -> usize {
    let (cout, cin) = (c.weight.shape[0], c.weight.shape[1]);
    let n = if adjoint { cin } else { cout };
    POSITIONS * cin * cout / n * n.div_ceil(4) * 4
}

/// One Winograd correlation as the kernels see it.
pub(super) struct Correlation<'a> {
    /// The layer's name, for the scratch tensors.
    pub name: &'a str,
    /// Items.
    pub batch: usize,
    /// Input `[C, H, W]` per item.
    pub input: [usize; 3],
    /// Output `[C, H, W]` per item.
    pub output: [usize; 3],
    /// Padding (top, left).
    pub pads: [usize; 2],
    /// What is read: the input tensor and its mode (x, max(x, 0), min(x, 0)).
    pub x: TensorId,
    pub mode: Factor,
    /// The transformed weights.
    pub weight: ConstId,
    /// The epilogue.
    pub epilogue: Epilogue,
    /// Where the result goes.
    pub out: Out,
    pub accumulate: bool,
}

/// What the output transform does with a pixel's value.
pub(super) enum Epilogue {
    /// `v (+ b)` with the bias (a per-output-channel constant) when given.
    Forward { bias: Option<ConstId> },
    /// `coef · factor(x) · v`, as the adjoint kernels store it.
    Adjoint {
        x: TensorId,
        factor: Factor,
        channel_values: Option<ConstId>,
        coef: f32,
    },
}

/// Records the passes of one correlation, in as many chunks of tiles as the scratch limit asks.
pub(super) fn record(p: &mut Program, c: &Correlation) -> Result<()> {
    let [cin, h, w] = c.input;
    let [cout, oh, ow] = c.output;
    let cout4 = cout.div_ceil(4) * 4;
    let (th, tw) = (oh.div_ceil(2), ow.div_ceil(2));
    let tiles = c.batch * th * tw;
    let widest = (cin.max(cout4) * POSITIONS * 4) as u64;
    let limit = CHUNK_BYTES.min(p.profile().max_tensor_bytes());
    let per_chunk = ((limit / widest) as usize / 32 * 32).max(32).min(tiles);
    let (rows, quads, entry) = gemm_shape(cout4 / 4);
    let (adjoint, factor, coef) = match c.epilogue {
        Epilogue::Forward { .. } => (false, Factor::X, 1.0),
        Epilogue::Adjoint { factor, coef, .. } => (true, factor, coef),
    };
    let has_bias = matches!(c.epilogue, Epilogue::Forward { bias: Some(_) });
    let (aux, per_channel) = match c.epilogue {
        Epilogue::Forward { bias } => (Resource::Const(p.zero()?), bias),
        Epilogue::Adjoint {
            x, channel_values, ..
        } => (Resource::Tensor(x), channel_values),
    };
    let per_channel = match per_channel {
        Some(id) => id,
        None => p.zero()?,
    };
    let mut t0 = 0;
    while t0 < tiles {
        let tc = per_chunk.min(tiles - t0);
        let params = WinogradParams {
            n: c.batch as u32,
            cin: cin as u32,
            h: h as u32,
            w: w as u32,
            cout: cout as u32,
            oh: oh as u32,
            ow: ow as u32,
            cout4: cout4 as u32,
            pt: c.pads[0] as u32,
            pl: c.pads[1] as u32,
            th: th as u32,
            tw: tw as u32,
            t0: t0 as u32,
            tc: tc as u32,
            input: c.mode.code(),
            factor: factor.code(),
            adjoint: adjoint as u32,
            accumulate: c.accumulate as u32,
            has_bias: has_bias as u32,
            coef,
        };
        let v = p.tensor(&format!("{}.winograd_v", c.name), POSITIONS * tc * cin)?;
        let launch = Launch::Flat {
            count: (tc * cin) as u64,
            size: 64,
        };
        let bindings = vec![(1, Resource::Tensor(c.x)), (2, Resource::Tensor(v))];
        p.pass(&INPUT, "main", &params, bindings, Out::Write(v), launch)?;

        let m = p.tensor(&format!("{}.winograd_m", c.name), POSITIONS * tc * cout4)?;
        let gemm = WinogradGemmParams {
            m: tc as u32,
            n: cout4 as u32,
            k: cin as u32,
            batch: POSITIONS as u32,
        };
        let blocks = (cout4 / 4).div_ceil(quads * SUBGROUP_LANES as usize) * tc.div_ceil(rows);
        let launch = Launch::Flat {
            count: (POSITIONS * blocks) as u64 * SUBGROUP_LANES as u64,
            size: SUBGROUP_LANES,
        };
        let bindings = vec![
            (1, Resource::Tensor(v)),
            (2, Resource::Const(c.weight)),
            (3, Resource::Tensor(m)),
        ];
        p.pass(&GEMM, entry, &gemm, bindings, Out::Write(m), launch)?;

        let launch = Launch::Flat {
            count: (tc * cout) as u64,
            size: 64,
        };
        let bindings = vec![
            (1, Resource::Tensor(m)),
            (2, aux.clone()),
            (3, Resource::Const(per_channel)),
            (4, Resource::Tensor(c.out.tensor())),
        ];
        p.pass(&OUTPUT, "main", &params, bindings, c.out, launch)?;
        t0 += tc;
    }
    Ok(())
}

/// The GEMM block shape for `n4` output-channel quads: the widest whose columns the layer fills.
fn gemm_shape(n4: usize) -> (usize, usize, &'static str) {
    WINOGRAD_GEMM_SHAPES
        .iter()
        .copied()
        .find(|&(_, quads, _)| n4 >= quads * SUBGROUP_LANES as usize)
        .unwrap_or(WINOGRAD_GEMM_SHAPES[WINOGRAD_GEMM_SHAPES.len() - 1])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::KernelVariant;

    /// `G g Gᵀ` then the Winograd product and `Aᵀ · A` give the direct correlation of one tile.
    #[test]
    fn one_tile_equals_the_direct_correlation() {
        let g: [f64; 9] = std::array::from_fn(|i| (i as f64 * 0.37).sin());
        let d: [f64; 16] = std::array::from_fn(|i| (i as f64 * 0.71).cos());
        let u = transform_kernel(g);
        // V = Bᵀ d B.
        let bt = [
            [1.0, 0.0, -1.0, 0.0],
            [0.0, 1.0, 1.0, 0.0],
            [0.0, -1.0, 1.0, 0.0],
            [0.0, 1.0, 0.0, -1.0],
        ];
        let mut v = [0.0; 16];
        for i in 0..4 {
            for k in 0..4 {
                for a in 0..4 {
                    for b in 0..4 {
                        v[i * 4 + k] += bt[i][a] * d[a * 4 + b] * bt[k][b];
                    }
                }
            }
        }
        let at = [[1.0, 1.0, 1.0, 0.0], [0.0, 1.0, -1.0, -1.0]];
        for y in 0..2 {
            for x in 0..2 {
                let mut wino = 0.0;
                for i in 0..4 {
                    for k in 0..4 {
                        wino += at[y][i] * u[i * 4 + k] * v[i * 4 + k] * at[x][k];
                    }
                }
                let mut direct = 0.0;
                for a in 0..3 {
                    for b in 0..3 {
                        direct += g[a * 3 + b] * d[(y + a) * 4 + x + b];
                    }
                }
                assert!((wino - direct).abs() < 1e-12, "{y},{x}: {wino} vs {direct}");
            }
        }
    }

    #[test]
    fn packed_lengths_match_the_packs() {
        let c = Conv2d {
            weight: crate::model::Tensor::new(vec![5, 6, 3, 3], vec![0.5; 270]).unwrap(),
            bias: None,
            stride: [1, 1],
            pads: [1, 1, 1, 1],
            dilation: [1, 1],
            groups: 1,
        };
        assert_eq!(pack_forward(&c).len(), packed_len(&c, false));
        assert_eq!(pack_adjoint(&c).len(), packed_len(&c, true));
        assert_eq!(packed_len(&c, false), 16 * 6 * 8);
        assert_eq!(packed_len(&c, true), 16 * 5 * 8);
    }

    #[test]
    fn applies_to_wide_3x3_convolutions_whose_transformed_weights_bind_whole() {
        let conv = |cout: usize, cin: usize| Conv2d {
            weight: crate::model::Tensor::new(vec![cout, cin, 3, 3], vec![0.5; cout * cin * 9])
                .unwrap(),
            bias: None,
            stride: [1, 1],
            pads: [1, 1, 1, 1],
            dilation: [1, 1],
            groups: 1,
        };
        let mut profile = DeviceProfile::with_default_limits(KernelFlavor::Subgroup);
        let applies = |c: &Conv2d, p: &DeviceProfile| applies(c, p, KernelFamily::ConvForward);
        assert!(applies(&conv(64, 64), &profile));
        assert!(!applies(&conv(64, 32), &profile), "too narrow to pay");
        assert!(!applies(&conv(32, 64), &profile), "too narrow to pay");
        // 16 × 64 × 68 floats: one byte more than the binding limit and the direct kernels run.
        profile.max_binding = 16 * 64 * 68 * 4 - 1;
        assert!(!applies(&conv(66, 64), &profile));
        profile.max_binding += 1;
        assert!(applies(&conv(66, 64), &profile));
        let forward_only = profile.kernels.with(
            KernelFamily::ConvAdjoint,
            KernelVariant::of(KernelFlavor::Subgroup, false),
        );
        profile.kernels = forward_only;
        assert!(applies(&conv(64, 64), &profile));
        let adjoint =
            |c: &Conv2d, p: &DeviceProfile| super::applies(c, p, KernelFamily::ConvAdjoint);
        assert!(
            !adjoint(&conv(64, 64), &profile),
            "the adjoint family runs direct"
        );
        profile.kernels = profile.kernels.with_winograd(false);
        assert!(!applies(&conv(64, 64), &profile));
        let tiled = DeviceProfile::with_default_limits(KernelFlavor::Tiled);
        assert!(!applies(&conv(64, 64), &tiled), "subgroup flavor only");
    }
}
