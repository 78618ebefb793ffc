//! The backward recorder's own kernels: the seed, the stabilised division, per-item sums.

crate::wgsl_enum! {
    /// Which outputs a division serves (the γ rule splits them by the sign of the plain output).
    pub enum Mask("MASK") {
        /// All outputs.
        All = 0,
        /// Outputs whose unmodified pre-activation is positive.
        WherePositive = 1,
        /// Outputs whose unmodified pre-activation is negative.
        WhereNegative = 2,
    }
}

crate::wgsl_enum! {
    /// How a division's denominator uses the input-independent part of z.
    pub enum ZConst("ZCONST") {
        /// z alone.
        None = 0,
        /// z plus the constant part.
        Added = 1,
        /// The constant part alone (every term of the rule is input-independent).
        Only = 2,
    }
}

crate::params! {
    /// `n` items of `features` outputs.
    pub struct SeedParams { pub n: u32, pub features: u32, pub pad0: u32, pub pad1: u32 }
}

crate::params! {
    /// `count` values, `item` per item (for the constant part), stabiliser, mask, constant part.
    pub struct DivideParams {
        pub count: u32, pub item: u32, pub eps: f32, pub mask: u32,
        pub has_const: u32, pub pad0: u32, pub pad1: u32, pub pad2: u32,
    }
}

crate::params! {
    /// `n` items of `item` values summed into row `slot`.
    pub struct ItemSumsParams { pub n: u32, pub item: u32, pub slot: u32, pub pad0: u32 }
}

crate::kernel!(pub(crate) SEED: SeedParams = "backward/seed");
crate::kernel!(pub(crate) DIVIDE: DivideParams = "backward/divide");
crate::kernel!(pub(crate) ITEM_SUMS: ItemSumsParams = "backward/item_sums");
