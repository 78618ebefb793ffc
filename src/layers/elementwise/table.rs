//! The element-wise functions, one row each: the WGSL function pair it runs on the GPU, its f64
//! function and derivative for the references, and how the gradient family's modes treat it.
//! LRP passes relevance through every one unchanged (the identity rule, as Zennit and LXT treat
//! activations).
//!
//! Adding a function is one variant of [`Func`], one row of [`FUNCTIONS`] (in the same order),
//! the two WGSL functions `<name>` and `<name>_grad` in `shaders/layers/elementwise/elementwise.wgsl`,
//! and its ONNX entry in `onnx.rs` (or a pattern in `src/onnx/import/fuse.rs`).

use crate::plan::WgslEnum;

crate::wgsl_enum! {
    /// An element-wise function (the kernel's `FUNC` override constant).
    pub enum Func("FUNC") {
        /// `max(x, 0)`.
        Relu = 0,
        /// `min(max(x, a), b)` (ReLU6: a = 0, b = 6).
        Clip = 1,
        /// `1 / (1 + e^−x)`.
        Sigmoid = 2,
        /// `tanh x`.
        Tanh = 3,
        /// `min(max(a·x + b, 0), 1)` (ONNX's α = a, β = b).
        HardSigmoid = 4,
        /// `x · min(max(a·x + b, 0), 1)` (ONNX: a = 1/6, b = 1/2).
        HardSwish = 5,
        /// `x · Φ(x) = x/2 · (1 + erf(x/√2))`.
        Gelu = 6,
        /// GELU's tanh approximation `x/2 · (1 + tanh(√(2/π)(x + 0.044715 x³)))`.
        GeluTanh = 7,
        /// `x · sigmoid(x)` (SiLU, Swish).
        Silu = 8,
        /// `1 / x` (ONNX Reciprocal; the divisor of a Div of two activations).
        Reciprocal = 9,
    }
}

/// One function of the table.
pub struct Row {
    /// The function.
    pub func: Func,
    /// Its name in plans and messages.
    pub kind: &'static str,
    /// The WGSL functions `<wgsl>(x, a, b)` and `<wgsl>_grad(x, a, b)`.
    pub wgsl: &'static str,
    /// f64 value at x with parameters (a, b).
    pub f: fn(f64, f64, f64) -> f64,
    /// f64 derivative.
    pub df: fn(f64, f64, f64) -> f64,
    /// Deconvnet and guided backprop rectify what flows back through it (ReLU-like functions);
    /// the other functions pass the gradient in those modes, as Captum's hooks on `nn.ReLU` do.
    pub rectifier: bool,
    /// Whether every output is ≥ 0, given (a, b).
    pub nonnegative: fn(f32, f32) -> bool,
}

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

fn indicator(c: bool) -> f64 {
    if c {
        1.0
    } else {
        0.0
    }
}

const SQRT_2_OVER_PI: f64 = 0.797_884_560_802_865_4;
const GELU_CUBIC: f64 = 0.044_715;

/// The table, in the order of [`Func`].
pub const FUNCTIONS: &[Row] = &[
    Row {
        func: Func::Relu,
        kind: "Relu",
        wgsl: "relu",
        f: |x, _, _| x.max(0.0),
        df: |x, _, _| indicator(x > 0.0),
        rectifier: true,
        nonnegative: |_, _| true,
    },
    Row {
        func: Func::Clip,
        kind: "Clip",
        wgsl: "clip",
        f: |x, a, b| x.max(a).min(b),
        df: |x, a, b| indicator(x > a && x < b),
        rectifier: true,
        nonnegative: |a, _| a >= 0.0,
    },
    Row {
        func: Func::Sigmoid,
        kind: "Sigmoid",
        wgsl: "sigmoid",
        f: |x, _, _| sigmoid(x),
        df: |x, _, _| sigmoid(x) * (1.0 - sigmoid(x)),
        rectifier: false,
        nonnegative: |_, _| true,
    },
    Row {
        func: Func::Tanh,
        kind: "Tanh",
        wgsl: "tanh_",
        f: |x, _, _| x.tanh(),
        df: |x, _, _| 1.0 - x.tanh() * x.tanh(),
        rectifier: false,
        nonnegative: |_, _| false,
    },
    Row {
        func: Func::HardSigmoid,
        kind: "HardSigmoid",
        wgsl: "hard_sigmoid",
        f: |x, a, b| (a * x + b).clamp(0.0, 1.0),
        df: |x, a, b| a * indicator(a * x + b > 0.0 && a * x + b < 1.0),
        rectifier: false,
        nonnegative: |_, _| true,
    },
    Row {
        func: Func::HardSwish,
        kind: "HardSwish",
        wgsl: "hard_swish",
        f: |x, a, b| x * (a * x + b).clamp(0.0, 1.0),
        df: |x, a, b| {
            let h = a * x + b;
            h.clamp(0.0, 1.0) + x * a * indicator(h > 0.0 && h < 1.0)
        },
        rectifier: false,
        nonnegative: |_, _| false,
    },
    Row {
        func: Func::Gelu,
        kind: "Gelu",
        wgsl: "gelu",
        f: |x, _, _| 0.5 * x * (1.0 + libm::erf(x / std::f64::consts::SQRT_2)),
        df: |x, _, _| {
            let cdf = 0.5 * (1.0 + libm::erf(x / std::f64::consts::SQRT_2));
            let pdf = (-0.5 * x * x).exp() / (2.0 * std::f64::consts::PI).sqrt();
            cdf + x * pdf
        },
        rectifier: false,
        nonnegative: |_, _| false,
    },
    Row {
        func: Func::GeluTanh,
        kind: "GeluTanh",
        wgsl: "gelu_tanh",
        f: |x, _, _| 0.5 * x * (1.0 + (SQRT_2_OVER_PI * (x + GELU_CUBIC * x * x * x)).tanh()),
        df: |x, _, _| {
            let t = (SQRT_2_OVER_PI * (x + GELU_CUBIC * x * x * x)).tanh();
            0.5 * (1.0 + t)
                + 0.5 * x * (1.0 - t * t) * SQRT_2_OVER_PI * (1.0 + 3.0 * GELU_CUBIC * x * x)
        },
        rectifier: false,
        nonnegative: |_, _| false,
    },
    Row {
        func: Func::Silu,
        kind: "Silu",
        wgsl: "silu",
        f: |x, _, _| x * sigmoid(x),
        df: |x, _, _| {
            let s = sigmoid(x);
            s * (1.0 + x * (1.0 - s))
        },
        rectifier: false,
        nonnegative: |_, _| false,
    },
    Row {
        func: Func::Reciprocal,
        kind: "Reciprocal",
        wgsl: "reciprocal",
        f: |x, _, _| 1.0 / x,
        df: |x, _, _| -1.0 / (x * x),
        rectifier: false,
        nonnegative: |_, _| false,
    },
];

impl Func {
    /// Its row of the table.
    pub fn row(self) -> &'static Row {
        &FUNCTIONS[self.code() as usize]
    }
}

/// The WGSL the element-wise kernel is compiled with besides its file: `elementwise_f`,
/// `elementwise_df` and `elementwise_rectifier`, dispatching on a `FUNC_*` value to each row's
/// functions (the constants themselves are generated like every enum's).
pub fn wgsl_dispatch() -> String {
    let cases = |suffix: &str| -> String {
        FUNCTIONS
            .iter()
            .map(|r| {
                let c = crate::plan::wgsl_constant_name(Func::PREFIX, func_name(r.func));
                format!(
                    "        case {c}: {{ return {}{suffix}(x, a, b); }}\n",
                    r.wgsl
                )
            })
            .collect()
    };
    let rectifiers: Vec<String> = FUNCTIONS
        .iter()
        .filter(|r| r.rectifier)
        .map(|r| {
            format!(
                "func == {}",
                crate::plan::wgsl_constant_name(Func::PREFIX, func_name(r.func))
            )
        })
        .collect();
    format!(
        "// GENERATED from src/layers/elementwise/table.rs.\n\
         fn elementwise_f(func: u32, x: f32, a: f32, b: f32) -> f32 {{\n    switch func {{\n{}        default: {{ return x; }}\n    }}\n}}\n\
         fn elementwise_df(func: u32, x: f32, a: f32, b: f32) -> f32 {{\n    switch func {{\n{}        default: {{ return 1.0; }}\n    }}\n}}\n\
         fn elementwise_rectifier(func: u32) -> bool {{\n    return {};\n}}\n",
        cases(""),
        cases("_grad"),
        rectifiers.join(" || ")
    )
}

fn func_name(f: Func) -> &'static str {
    Func::VARIANTS[f.code() as usize].0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_follow_the_enum() {
        for (i, r) in FUNCTIONS.iter().enumerate() {
            assert_eq!(r.func.code() as usize, i, "{}", r.kind);
            assert_eq!(Func::VARIANTS[i].1 as usize, i);
        }
        assert_eq!(FUNCTIONS.len(), Func::VARIANTS.len());
    }

    #[test]
    fn derivatives_match_central_differences() {
        for r in FUNCTIONS {
            let (a, b) = match r.func {
                Func::Clip => (-0.5, 1.5),
                Func::HardSigmoid | Func::HardSwish => (1.0 / 6.0, 0.5),
                _ => (0.0, 0.0),
            };
            for &x in &[-4.1, -1.3, -0.2, 0.37, 0.9, 2.2, 3.7] {
                let h = 1e-6;
                let fd = ((r.f)(x + h, a, b) - (r.f)(x - h, a, b)) / (2.0 * h);
                let d = (r.df)(x, a, b);
                assert!((fd - d).abs() < 1e-6, "{} at {x}: {d} vs {fd}", r.kind);
            }
        }
    }
}
