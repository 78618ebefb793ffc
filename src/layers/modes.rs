//! The modes layers' backward kernels switch on, shared with WGSL (`FACTOR_*`, `GRAD_*`).

crate::wgsl_enum! {
    /// The factor a backward pass multiplies its result by before storing it — LRP's modified
    /// input `x''` in `x'' ⊙ c` — and the modified input `x'` a forward pass feeds (`X`,
    /// `Positive`, `Negative`).
    pub enum Factor("FACTOR") {
        /// 1: the plain VJP (gradients; flat and w², whose relevance is the adjoint itself).
        One = 0,
        /// `x`.
        X = 1,
        /// `max(x, 0)`.
        Positive = 2,
        /// `min(x, 0)`.
        Negative = 3,
        /// A per-channel constant (zᴮ's bounds; BatchNorm's scale).
        Channel = 4,
        /// `x` times a per-channel constant (the proportional rule through BatchNorm's scale).
        XTimesChannel = 5,
    }
}

crate::wgsl_enum! {
    /// How the non-linear layers pass what flows back: the gradient family's modes. Linear
    /// layers ignore the mode; each non-linear kind says what each mode means for it.
    pub enum GradMode("GRAD") {
        /// The true gradient (PyTorch's: zero at the kinks, the first maximum of a pool window).
        Gradient = 0,
        /// Zeiler & Fergus' deconvnet: rectifiers pass `max(ḡ, 0)`, ignoring their forward mask.
        Deconvnet = 1,
        /// Springenberg et al.'s guided backprop: rectifiers pass `max(ḡ, 0)` where their input
        /// was positive.
        GuidedBackprop = 2,
        /// DeepLIFT's rescale rule: `Δy / Δx` against a reference run whose items follow the
        /// explained ones in every forward tensor (Captum's multiplier for max pooling).
        Rescale = 3,
        /// The gradient with a pool window's value split equally among tied maxima (LRP's
        /// winner-take-all); the gradient elsewhere.
        SplitTies = 4,
        /// Lucid's redirected rectifier gradient (the first steps of activation maximisation):
        /// where a rectifier blocks, the part of ḡ that would move its input back into the open
        /// range passes (`max(ḡ, 0)` below, `min(ḡ, 0)` above a clip), so that ascent can start
        /// at dead units; the gradient elsewhere.
        Redirected = 5,
        /// The gradient with a normalisation's statistics held constant (LayerNorm's standard
        /// deviation): what AttnLRP's identity rule for LayerNorm multiplies by `x` in LXT;
        /// the gradient elsewhere.
        ConstantStatistics = 6,
    }
}
