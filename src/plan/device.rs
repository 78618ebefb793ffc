//! What recording a program needs to know of a device: its kernel flavor and the limits that
//! decide buffer sizes, chunking and launch grids. Plain data, so programs are recorded and
//! unit-tested with no GPU.

use crate::error::{Error, Result};

/// Which matmul-shaped kernel variant suits the adapter (convolution forward and adjoint, the
/// LRP z-passes that share them, dense layers and the benchmarks' matmul ceiling).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum KernelFlavor {
    /// Shared-memory tiles with barriers: what real GPUs want.
    Tiled,
    /// Register blocking, no shared memory, storage buffers only: CPU rasterisers without
    /// subgroups of at least 8 lanes (WARP).
    Registers,
    /// Register blocking where each lane of an 8-lane subgroup loads one row of one operand and
    /// `subgroupBroadcast` shares it: CPU rasterisers with subgroups (lavapipe), where every
    /// per-lane storage-buffer load is a bounds-checked scalar loop.
    Subgroup,
}

impl KernelFlavor {
    /// Every flavor, in the order of [`KernelFlavor::name`]s a user may give.
    pub const ALL: [KernelFlavor; 3] = [
        KernelFlavor::Tiled,
        KernelFlavor::Registers,
        KernelFlavor::Subgroup,
    ];

    /// The name `GLIMPSE_KERNELS` and the command line use.
    pub fn name(self) -> &'static str {
        match self {
            KernelFlavor::Tiled => "tiled",
            KernelFlavor::Registers => "registers",
            KernelFlavor::Subgroup => "subgroup",
        }
    }

    /// The flavor of a name (case-insensitive).
    pub fn parse(name: &str) -> Result<Self> {
        Self::ALL
            .into_iter()
            .find(|f| f.name().eq_ignore_ascii_case(name.trim()))
            .ok_or_else(|| {
                Error::Invalid(format!(
                    "'{name}' is not a kernel flavor; use one of {}",
                    Self::ALL.map(|f| f.name()).join(", ")
                ))
            })
    }
}

/// The smallest subgroup the `subgroup` kernels work with: they broadcast from lanes 0–7 of
/// 8-invocation workgroups.
pub const SUBGROUP_LANES: u32 = 8;

/// The families of kernels whose variant is chosen per device: each runs in its own flavor,
/// chosen by measurement (`glimpse tune`) or by the adapter's type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum KernelFamily {
    /// Convolutions' forward passes (and the LRP z-passes that share them).
    ConvForward,
    /// Convolutions' adjoints: every gradient method's and LRP rule's backward convolution.
    ConvAdjoint,
    /// Dense layers, forward and adjoint, and the matmul ceiling.
    Dense,
}

impl KernelFamily {
    /// Every family, in the order `glimpse info` prints them.
    pub const ALL: [KernelFamily; 3] = [
        KernelFamily::ConvForward,
        KernelFamily::ConvAdjoint,
        KernelFamily::Dense,
    ];

    /// The name the cache file and `glimpse info` use.
    pub fn name(self) -> &'static str {
        match self {
            KernelFamily::ConvForward => "conv-forward",
            KernelFamily::ConvAdjoint => "conv-adjoint",
            KernelFamily::Dense => "dense",
        }
    }

    /// Whether the family has Winograd kernels (the convolutions, in the subgroup flavor).
    pub fn has_winograd(self) -> bool {
        self != KernelFamily::Dense
    }
}

/// One family's kernels: a flavor, and for the convolutions whether 3×3 stride-1 layers run
/// as Winograd F(2×2, 3×3) (its kernels are the subgroup flavor's; elsewhere it is ignored).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct KernelVariant {
    /// The flavor.
    pub flavor: KernelFlavor,
    /// Winograd for the 3×3 stride-1 convolutions it pays for.
    pub winograd: bool,
}

impl KernelVariant {
    /// `flavor` with Winograd wherever the flavor has it.
    pub fn of(flavor: KernelFlavor, winograd: bool) -> Self {
        KernelVariant {
            flavor,
            winograd: winograd && flavor == KernelFlavor::Subgroup,
        }
    }

    /// The name the cache file and `glimpse info` use: the flavor's, `+winograd` when on.
    pub fn name(self) -> String {
        match self.winograd {
            true => format!("{}+winograd", self.flavor.name()),
            false => self.flavor.name().to_string(),
        }
    }

    /// The variant of a [`KernelVariant::name`].
    pub fn parse(name: &str) -> Result<Self> {
        let name = name.trim();
        let (flavor, winograd) = match name.strip_suffix("+winograd") {
            Some(f) => (KernelFlavor::parse(f)?, true),
            None => (KernelFlavor::parse(name)?, false),
        };
        if winograd && flavor != KernelFlavor::Subgroup {
            return Err(Error::Invalid(format!(
                "'{name}': Winograd runs in the subgroup flavor only"
            )));
        }
        Ok(Self::of(flavor, winograd))
    }

    /// The candidates a family has among `flavors` (those a device supports).
    pub fn candidates(family: KernelFamily, flavors: &[KernelFlavor]) -> Vec<Self> {
        let mut out = Vec::new();
        for &f in flavors {
            out.push(Self::of(f, false));
            if family.has_winograd() && f == KernelFlavor::Subgroup {
                out.push(Self::of(f, true));
            }
        }
        out
    }
}

/// The variant each kernel family runs on a device.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct KernelChoice {
    /// Convolutions' forward passes.
    pub conv_forward: KernelVariant,
    /// Convolutions' adjoints.
    pub conv_adjoint: KernelVariant,
    /// Dense layers and the matmul.
    pub dense: KernelVariant,
}

impl KernelChoice {
    /// Every family in `flavor`, with Winograd where the flavor has it and `winograd` allows.
    pub fn uniform(flavor: KernelFlavor, winograd: bool) -> Self {
        KernelChoice {
            conv_forward: KernelVariant::of(flavor, winograd),
            conv_adjoint: KernelVariant::of(flavor, winograd),
            dense: KernelVariant::of(flavor, false),
        }
    }

    /// One family's variant.
    pub fn get(&self, family: KernelFamily) -> KernelVariant {
        match family {
            KernelFamily::ConvForward => self.conv_forward,
            KernelFamily::ConvAdjoint => self.conv_adjoint,
            KernelFamily::Dense => self.dense,
        }
    }

    /// The choice with one family's variant replaced.
    pub fn with(mut self, family: KernelFamily, variant: KernelVariant) -> Self {
        let v = KernelVariant::of(variant.flavor, variant.winograd && family.has_winograd());
        match family {
            KernelFamily::ConvForward => self.conv_forward = v,
            KernelFamily::ConvAdjoint => self.conv_adjoint = v,
            KernelFamily::Dense => self.dense = v,
        }
        self
    }

    /// The choice with Winograd on or off in both convolution families (where subgroup).
    pub fn with_winograd(self, winograd: bool) -> Self {
        KernelChoice {
            conv_forward: KernelVariant::of(self.conv_forward.flavor, winograd),
            conv_adjoint: KernelVariant::of(self.conv_adjoint.flavor, winograd),
            dense: self.dense,
        }
    }

    /// The choice as it is where Winograd is `allowed`, with it off everywhere where not.
    pub fn with_winograd_allowed(self, allowed: bool) -> Self {
        match allowed {
            true => self,
            false => self.with_winograd(false),
        }
    }

    /// Whether every family runs one flavor (then that flavor).
    pub fn single_flavor(&self) -> Option<KernelFlavor> {
        let f = self.conv_forward.flavor;
        (self.conv_adjoint.flavor == f && self.dense.flavor == f).then_some(f)
    }

    /// Every flavor the choice uses.
    pub fn flavors(&self) -> Vec<KernelFlavor> {
        KernelFlavor::ALL
            .into_iter()
            .filter(|&f| KernelFamily::ALL.iter().any(|&k| self.get(k).flavor == f))
            .collect()
    }

    /// `conv-forward=tiled conv-adjoint=subgroup+winograd dense=tiled`.
    pub fn describe(&self) -> String {
        KernelFamily::ALL
            .map(|k| format!("{}={}", k.name(), self.get(k).name()))
            .join(" ")
    }
}

/// A device as recording sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeviceProfile {
    /// The kernel variant of each family passes are recorded for.
    pub kernels: KernelChoice,
    /// `max_storage_buffer_binding_size`: no binding of a pass may exceed it.
    pub max_binding: u64,
    /// `max_buffer_size`: no buffer may exceed it.
    pub max_buffer: u64,
    /// `min_storage_buffer_offset_alignment`: chunks of a buffer start at multiples of it.
    pub offset_alignment: u64,
    /// `max_compute_workgroups_per_dimension`.
    pub max_workgroups: u32,
}

impl DeviceProfile {
    /// A profile with wgpu's default limits (128 MiB bindings, 256 MiB buffers), every family
    /// in `flavor` (Winograd on where it has it): for recording and testing programs without a
    /// device.
    pub fn with_default_limits(flavor: KernelFlavor) -> Self {
        let l = wgpu::Limits::default();
        DeviceProfile {
            kernels: KernelChoice::uniform(flavor, true),
            max_binding: l.max_storage_buffer_binding_size,
            max_buffer: l.max_buffer_size,
            offset_alignment: l.min_storage_buffer_offset_alignment as u64,
            max_workgroups: l.max_compute_workgroups_per_dimension,
        }
    }

    /// The largest tensor a pass can bind whole: the smaller of the binding and buffer limits.
    pub fn max_tensor_bytes(&self) -> u64 {
        self.max_binding.min(self.max_buffer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variants_parse_their_names_and_winograd_is_the_subgroup_flavors() {
        for v in KernelVariant::candidates(KernelFamily::ConvAdjoint, &KernelFlavor::ALL) {
            assert_eq!(KernelVariant::parse(&v.name()).unwrap(), v);
        }
        let e = KernelVariant::parse("tiled+winograd")
            .unwrap_err()
            .to_string();
        assert!(e.contains("subgroup flavor only"), "{e}");
        assert!(KernelVariant::parse("fast").is_err());
        let conv = KernelVariant::candidates(KernelFamily::ConvForward, &KernelFlavor::ALL);
        assert_eq!(conv.len(), 4, "three flavors and subgroup+winograd");
        let dense = KernelVariant::candidates(KernelFamily::Dense, &KernelFlavor::ALL);
        assert!(dense.iter().all(|v| !v.winograd) && dense.len() == 3);
        let no_subgroups = [KernelFlavor::Tiled, KernelFlavor::Registers];
        assert_eq!(
            KernelVariant::candidates(KernelFamily::ConvForward, &no_subgroups).len(),
            2
        );
    }

    #[test]
    fn a_choice_changes_one_family_at_a_time() {
        let base = KernelChoice::uniform(KernelFlavor::Subgroup, true);
        assert_eq!(base.single_flavor(), Some(KernelFlavor::Subgroup));
        assert!(base.conv_forward.winograd && base.conv_adjoint.winograd && !base.dense.winograd);
        let tiled = KernelVariant::of(KernelFlavor::Tiled, false);
        let mixed = base.with(KernelFamily::ConvForward, tiled);
        assert_eq!(mixed.conv_forward, tiled);
        assert_eq!(mixed.conv_adjoint, base.conv_adjoint);
        assert_eq!(mixed.single_flavor(), None);
        assert_eq!(
            mixed.flavors(),
            vec![KernelFlavor::Tiled, KernelFlavor::Subgroup]
        );
        let winograd = KernelVariant::of(KernelFlavor::Subgroup, true);
        assert!(
            !base.with(KernelFamily::Dense, winograd).dense.winograd,
            "dense has none"
        );
        let off = base.with_winograd_allowed(false);
        assert!(!off.conv_forward.winograd && !off.conv_adjoint.winograd);
        assert_eq!(base.with_winograd_allowed(true), base);
        assert_eq!(
            mixed.describe(),
            "conv-forward=tiled conv-adjoint=subgroup+winograd dense=subgroup"
        );
        assert!(
            !KernelChoice::uniform(KernelFlavor::Tiled, true)
                .conv_forward
                .winograd
        );
    }
}
