//! The kernels of an activation-maximisation step (WGSL under `shaders/interpret/`).

use crate::error::Result;
use crate::plan::{binds, Launch, Out, Program, TensorId};

/// Values kept per prototype and step: the objective, the class probability, Σx², Σ|x|, TV,
/// the diversity term (the expert's log p is a tensor of its own), and the log-sum-exp the
/// objective's gradient reads.
pub const TERMS: usize = 8;
/// Slots of [`TERMS`].
pub(crate) mod slot {
    pub const OBJECTIVE: usize = 0;
    pub const PROBABILITY: usize = 1;
    pub const L2: usize = 2;
    pub const L1: usize = 3;
    pub const TV: usize = 4;
    pub const DIVERSITY: usize = 5;
}

crate::params! {
    /// Items, the start node's values per item, terms per item.
    pub struct ObjectiveParams { pub n: u32, pub features: u32, pub terms: u32, pub pad0: u32 }
}

crate::params! {
    /// Items and the `[C, H, W]` of one, the three penalties' λ, terms per item.
    pub struct PenaltyParams {
        pub n: u32, pub c: u32, pub h: u32, pub w: u32,
        pub l2: f32, pub l1: f32, pub tv: f32, pub terms: u32,
    }
}

crate::params! {
    /// Values, Adam or ascent, step size, Adam's β and ε, and the clamp range.
    pub struct UpdateParams {
        pub count: u32, pub adam: u32, pub pad0: u32, pub pad1: u32,
        pub lr: f32, pub beta1: f32, pub beta2: f32, pub eps: f32,
        pub lo: f32, pub hi: f32, pub pad2: f32, pub pad3: f32,
    }
}

crate::params! {
    /// What the counter adds.
    pub struct StepParams { pub by: f32, pub pad0: u32, pub pad1: u32, pub pad2: u32 }
}

crate::kernel!(
    /// The objective's value and the class probability per item.
    pub OBJECTIVE: ObjectiveParams = "interpret/objective"
);
crate::kernel!(
    /// The objective's gradient at its node.
    pub OBJECTIVE_GRAD: ObjectiveParams = "interpret/objective_grad"
);
crate::kernel!(
    /// The penalties' gradient (added) and values.
    pub PENALTIES: PenaltyParams = "interpret/regularize"
);
crate::kernel!(
    /// Adam or gradient ascent, then the clamp.
    pub UPDATE: UpdateParams = "interpret/adam"
);
crate::kernel!(
    /// The step counter.
    pub STEP: StepParams = "interpret/step"
);

/// Records the objective's value into `terms` and, with `grad`, its gradient at the node.
pub(crate) fn record_objective(
    p: &mut Program,
    y: TensorId,
    spec: TensorId,
    terms: TensorId,
    grad: Option<TensorId>,
    (n, features): (usize, usize),
) -> Result<()> {
    let params = ObjectiveParams {
        n: n as u32,
        features: features as u32,
        terms: TERMS as u32,
        pad0: 0,
    };
    let items = Launch::Flat {
        count: n as u64,
        size: 64,
    };
    p.pass(
        &OBJECTIVE,
        "value",
        &params,
        binds(&[y, spec], &[], terms),
        Out::Update(terms),
        items,
    )?;
    if let Some(g) = grad {
        let all = Launch::Flat {
            count: (n * features) as u64,
            size: 256,
        };
        p.pass(
            &OBJECTIVE_GRAD,
            "main",
            &params,
            binds(&[y, spec, terms], &[], g),
            Out::Write(g),
            all,
        )?;
    }
    Ok(())
}

/// The `[C, H, W]` the penalties see for an input shape (a flat code has no neighbours).
pub(crate) fn penalty_shape(shape: &[usize]) -> [usize; 3] {
    match *shape {
        [c, h, w] => [c, h, w],
        _ => [shape.iter().product(), 1, 1],
    }
}

/// Records the penalties' values into `terms` and, with `grad`, subtracts their gradient from
/// the ascent direction.
pub(crate) fn record_penalties(
    p: &mut Program,
    x: TensorId,
    terms: TensorId,
    grad: Option<TensorId>,
    n: usize,
    shape: [usize; 3],
    penalties: &super::Penalties,
) -> Result<()> {
    let params = PenaltyParams {
        n: n as u32,
        c: shape[0] as u32,
        h: shape[1] as u32,
        w: shape[2] as u32,
        l2: penalties.l2,
        l1: penalties.l1,
        tv: penalties.tv,
        terms: TERMS as u32,
    };
    let count = n * shape.iter().product::<usize>();
    if let Some(g) = grad {
        if *penalties != super::Penalties::default() {
            let launch = Launch::Flat {
                count: count as u64,
                size: 256,
            };
            p.pass(
                &PENALTIES,
                "gradient",
                &params,
                binds(&[x], &[], g),
                Out::Update(g),
                launch,
            )?;
        }
    }
    let launch = Launch::Grid([n as u32, 1, 1]);
    p.pass(
        &PENALTIES,
        "values",
        &params,
        binds(&[x], &[], terms),
        Out::Update(terms),
        launch,
    )
}

/// Records one update of `x` along `g` and counts the step.
pub(crate) fn record_update(
    p: &mut Program,
    (x, g, step, moments): (TensorId, TensorId, TensorId, TensorId),
    count: usize,
    optimizer: &super::Optimizer,
    range: (f32, f32),
) -> Result<()> {
    let (adam, lr, beta1, beta2, eps) = match *optimizer {
        super::Optimizer::Adam {
            lr,
            beta1,
            beta2,
            eps,
        } => (1, lr, beta1, beta2, eps),
        super::Optimizer::Ascent { lr } => (0, lr, 0.0, 0.0, 0.0),
    };
    let params = UpdateParams {
        count: count as u32,
        adam,
        lr,
        beta1,
        beta2,
        eps,
        lo: range.0.max(-f32::MAX),
        hi: range.1.min(f32::MAX),
        ..UpdateParams::default()
    };
    let launch = Launch::Flat {
        count: count as u64,
        size: 256,
    };
    let bindings = binds(&[g, step, moments], &[], x);
    p.pass(&UPDATE, "main", &params, bindings, Out::Update(x), launch)?;
    let one = StepParams {
        by: 1.0,
        ..StepParams::default()
    };
    let bindings = binds(&[], &[], step);
    p.pass(
        &STEP,
        "main",
        &one,
        bindings,
        Out::Update(step),
        Launch::Grid([1, 1, 1]),
    )
}

crate::params! {
    /// Items, `[C, H, W]`, largest shift, scale range and seed.
    pub struct TransformParams {
        pub n: u32, pub c: u32, pub h: u32, pub w: u32,
        pub jitter: f32, pub scale_lo: f32, pub scale_hi: f32, pub seed: u32,
    }
}

crate::params! {
    /// Items, `[C, H, W]`, window half width, period and σ.
    pub struct BlurParams {
        pub n: u32, pub c: u32, pub h: u32, pub w: u32,
        pub radius: u32, pub every: u32, pub sigma: f32, pub pad0: u32,
    }
}

crate::kernel!(
    /// Random shift and scale per step and item, and its adjoint.
    pub TRANSFORM: TransformParams = "interpret/transform"
);
crate::kernel!(
    /// A Gaussian blur every few steps.
    pub BLUR: BlurParams = "interpret/blur"
);

/// Records `dst = T(src)` (`entry` "forward") or `dst = Tᵀ(src)` ("adjoint") for this step's
/// draws.
pub(crate) fn record_transform(
    p: &mut Program,
    entry: &'static str,
    (src, step, dst): (TensorId, TensorId, TensorId),
    n: usize,
    [c, h, w]: [usize; 3],
    t: &super::Transforms,
) -> Result<()> {
    let params = TransformParams {
        n: n as u32,
        c: c as u32,
        h: h as u32,
        w: w as u32,
        jitter: t.jitter,
        scale_lo: t.scale.0,
        scale_hi: t.scale.1,
        seed: t.seed,
    };
    let launch = Launch::Flat {
        count: (n * c * h * w) as u64,
        size: 256,
    };
    let bindings = binds(&[src, step], &[], dst);
    p.pass(
        &TRANSFORM,
        entry,
        &params,
        bindings,
        Out::Write(dst),
        launch,
    )
}

/// Records the blur of `x` through `tmp` on the steps it falls on.
pub(crate) fn record_blur(
    p: &mut Program,
    (x, tmp, step): (TensorId, TensorId, TensorId),
    n: usize,
    [c, h, w]: [usize; 3],
    blur: &super::Blur,
) -> Result<()> {
    let params = BlurParams {
        n: n as u32,
        c: c as u32,
        h: h as u32,
        w: w as u32,
        radius: blur.radius() as u32,
        every: blur.every as u32,
        sigma: blur.sigma,
        pad0: 0,
    };
    let launch = Launch::Flat {
        count: (n * c * h * w) as u64,
        size: 256,
    };
    // `tmp` is read only on the steps that write it.
    p.pass(
        &BLUR,
        "blur",
        &params,
        binds(&[x, step], &[], tmp),
        Out::Write(tmp),
        launch,
    )?;
    p.pass(
        &BLUR,
        "copy",
        &params,
        binds(&[tmp, step], &[], x),
        Out::Update(x),
        launch,
    )
}

/// The `k`-th uniform draw of `item` at `step` (the WGSL `draw`, bit for bit).
pub(crate) fn draw(seed: u32, step: u32, item: u32, k: u32) -> f32 {
    fn pcg(v: u32) -> u32 {
        let s = v.wrapping_mul(747_796_405).wrapping_add(2_891_336_453);
        let w = ((s >> ((s >> 28) + 4)) ^ s).wrapping_mul(277_803_737);
        (w >> 22) ^ w
    }
    let h = pcg(seed
        ^ pcg(step
            .wrapping_mul(4)
            .wrapping_add(k)
            .wrapping_add(pcg(item.wrapping_add(0x9e37_79b9)))));
    (h >> 8) as f32 / 16_777_216.0
}
