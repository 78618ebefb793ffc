//! Clip: bounds as inputs (opset 11+) and as attributes (before).

use super::builder::{af, B};
use super::check::{assert_close, forward, kinds};
use crate::model::{Graph, Op};
use crate::onnx::import::import_model;

#[test]
fn clip_inputs_and_attributes() {
    let clip = |g: &Graph| match g.nodes[1].op {
        Op::Elementwise(e) if e.func == crate::layers::Func::Clip => (e.a, e.b),
        _ => panic!("{:?}", kinds(g)),
    };
    let g = B::new(&[2])
        .init("lo", &[], &[0.0])
        .init("hi", &[], &[6.0])
        .node("Clip", "relu6", &["x", "lo", "hi"], &["y"], vec![])
        .import()
        .unwrap();
    assert_eq!(clip(&g), (0.0, 6.0));
    assert_close(&forward(&g, 1, &[-1.0, 7.0]), &[0.0, 6.0]);
    let g = B::new(&[2])
        .init("hi", &[1], &[1.0])
        .node("Clip", "c", &["x", "", "hi"], &["y"], vec![])
        .import()
        .unwrap();
    assert_eq!(clip(&g), (f32::NEG_INFINITY, 1.0));
    let g = B::new(&[2])
        .node("Clip", "c", &["x"], &["y"], vec![])
        .opset(11)
        .import()
        .unwrap();
    assert_eq!(clip(&g), (f32::NEG_INFINITY, f32::INFINITY));
    // Clip bounds given by Constant nodes.
    let g = B::new(&[2])
        .node("Constant", "k", &[], &["lo"], vec![af("value_float", -1.0)])
        .node("Clip", "c", &["x", "lo"], &["y"], vec![])
        .import()
        .unwrap();
    assert_eq!(clip(&g), (-1.0, f32::INFINITY));
    // Before opset 11 the bounds are attributes (the importer maps it; `from_bytes` accepts 11+).
    let m = B::new(&[2])
        .node(
            "Clip",
            "c",
            &["x"],
            &["y"],
            vec![af("min", -2.0), af("max", 3.0)],
        )
        .opset(10)
        .model();
    let g = import_model(&m, 10, None).unwrap();
    assert_eq!(clip(&g), (-2.0, 3.0));
}

/// Each element-wise operator maps onto its row, with its attributes.
#[test]
fn element_wise_operators_and_their_attributes() {
    use super::builder::astr;
    let x: [f64; 5] = [-2.5, -0.3, 0.0, 0.7, 4.0];
    for (op, attrs, want) in [
        ("Sigmoid", vec![], "Sigmoid"),
        ("Tanh", vec![], "Tanh"),
        (
            "HardSigmoid",
            vec![af("alpha", 0.25), af("beta", 0.4)],
            "HardSigmoid",
        ),
        ("HardSwish", vec![], "HardSwish"),
        ("Gelu", vec![], "Gelu"),
        ("Gelu", vec![astr("approximate", "tanh")], "GeluTanh"),
    ] {
        let g = B::new(&[5])
            .node(op, "f", &["x"], &["y"], attrs)
            .opset(20)
            .import()
            .unwrap();
        assert_eq!(kinds(&g), ["Input", want], "{op}");
        let Op::Elementwise(e) = &g.nodes[1].op else {
            unreachable!()
        };
        let y = forward(&g, 1, &x);
        let want: Vec<f64> = x.iter().map(|&v| e.f(v)).collect();
        assert_close(&y, &want);
    }
    let g = B::new(&[1])
        .node(
            "HardSigmoid",
            "h",
            &["x"],
            &["y"],
            vec![af("alpha", 0.25), af("beta", 0.4)],
        )
        .import()
        .unwrap();
    assert_close(&forward(&g, 1, &[1.0]), &[0.65]);
    let e = super::check::err_text(
        B::new(&[1])
            .node(
                "Gelu",
                "g",
                &["x"],
                &["y"],
                vec![astr("approximate", "erf")],
            )
            .opset(20)
            .import(),
    );
    assert!(e.contains("approximate"), "{e}");
}

/// SiLU and HardSwish written as x · gate(x), and GELU in the Erf form exporters write below
/// opset 20, fuse into one element-wise node; a gate read by anything else is not fused.
#[test]
fn element_wise_patterns_fuse() {
    let x: [f64; 5] = [-2.5, -0.3, 0.0, 0.7, 4.0];
    let silu = B::new(&[5])
        .node("Sigmoid", "s", &["x"], &["g"], vec![])
        .node("Mul", "m", &["x", "g"], &["y"], vec![])
        .import()
        .unwrap();
    assert_eq!(kinds(&silu), ["Input", "Silu"]);
    let want: Vec<f64> = x.iter().map(|&v| v / (1.0 + (-v).exp())).collect();
    assert_close(&forward(&silu, 1, &x), &want);
    let hswish = B::new(&[5])
        .node(
            "HardSigmoid",
            "h",
            &["x"],
            &["g"],
            vec![af("alpha", 1.0 / 6.0)],
        )
        .node("Mul", "m", &["g", "x"], &["y"], vec![])
        .import()
        .unwrap();
    assert_eq!(kinds(&hswish), ["Input", "HardSwish"]);
    let want: Vec<f64> = x
        .iter()
        .map(|&v| v * (v / 6.0 + 0.5f64).clamp(0.0, 1.0))
        .collect();
    assert_close(&forward(&hswish, 1, &x), &want);
    let gelu_want: Vec<f64> = x
        .iter()
        .map(|&v| 0.5 * v * (1.0 + libm::erf(v / std::f64::consts::SQRT_2)))
        .collect();
    // TorchScript's form: Div, Erf, Add, Mul(x, ·), Mul(·, 0.5).
    let torch = B::new(&[5])
        .init("sqrt2", &[], &[std::f32::consts::SQRT_2])
        .init("one", &[], &[1.0])
        .init("half", &[], &[0.5])
        .node("Div", "d", &["x", "sqrt2"], &["t"], vec![])
        .node("Erf", "e", &["t"], &["er"], vec![])
        .node("Add", "a", &["er", "one"], &["p"], vec![])
        .node("Mul", "m1", &["x", "p"], &["q"], vec![])
        .node("Mul", "m2", &["q", "half"], &["y"], vec![])
        .import()
        .unwrap();
    assert_eq!(kinds(&torch), ["Input", "Gelu"]);
    assert_close(&forward(&torch, 1, &x), &gelu_want);
    // (x · ½) · (1 + erf(x · 1/√2)).
    let other = B::new(&[5])
        .init("isqrt2", &[], &[std::f32::consts::FRAC_1_SQRT_2])
        .init("one", &[], &[1.0])
        .init("half", &[], &[0.5])
        .node("Mul", "h", &["x", "half"], &["hx"], vec![])
        .node("Mul", "d", &["isqrt2", "x"], &["t"], vec![])
        .node("Erf", "e", &["t"], &["er"], vec![])
        .node("Add", "a", &["one", "er"], &["p"], vec![])
        .node("Mul", "m", &["hx", "p"], &["y"], vec![])
        .import()
        .unwrap();
    assert_eq!(kinds(&other), ["Input", "Gelu"]);
    assert_close(&forward(&other, 1, &x), &gelu_want);
    // A gate with a second reader is not fused: the product of two activations stays a Mul.
    let unfused = B::new(&[5])
        .node("Sigmoid", "s", &["x"], &["g"], vec![])
        .node("Mul", "m", &["x", "g"], &["p"], vec![])
        .node("Add", "a", &["p", "g"], &["y"], vec![])
        .import()
        .unwrap();
    assert_eq!(kinds(&unfused), ["Input", "Sigmoid", "Mul", "Add"]);
    let want: Vec<f64> = x.iter().map(|&v| (v + 1.0) / (1.0 + (-v).exp())).collect();
    assert_close(&forward(&unfused, 1, &x), &want);
}

#[test]
fn keras_hard_sigmoid_and_hard_swish_fuse() {
    // tf2onnx's `relu6(t + 3) · ⅙` (or `/ 6`), alone a HardSigmoid, times t a HardSwish.
    let x = [-4.0, -1.0, 0.0, 2.0, 5.0];
    let hs = |v: f64| (v / 6.0 + 0.5f64).clamp(0.0, 1.0);
    let keras = |b: B, by_div: bool, swish: bool| {
        let b = b
            .init("three", &[], &[3.0])
            .init("zero", &[], &[0.0])
            .init("six", &[], &[6.0])
            .init("sixth", &[], &[1.0 / 6.0])
            .node("Add", "a", &["x", "three"], &["t"], vec![])
            .node("Clip", "c", &["t", "zero", "six"], &["r"], vec![]);
        let b = if by_div {
            b.node("Div", "d", &["r", "six"], &["h"], vec![])
        } else {
            b.node("Mul", "d", &["sixth", "r"], &["h"], vec![])
        };
        if swish {
            b.node("Mul", "m", &["x", "h"], &["y"], vec![])
        } else {
            b
        }
    };
    for by_div in [false, true] {
        let g = keras(B::new(&[5]), by_div, true).import().unwrap();
        assert_eq!(kinds(&g), ["Input", "HardSwish"]);
        let want: Vec<f64> = x.iter().map(|&v| v * hs(v)).collect();
        assert_close(&forward(&g, 1, &x), &want);
        let g = keras(B::new(&[5]), by_div, false).import().unwrap();
        assert_eq!(kinds(&g), ["Input", "HardSigmoid"]);
        let want: Vec<f64> = x.iter().map(|&v| hs(v)).collect();
        assert_close(&forward(&g, 1, &x), &want);
    }
    // Another bound is a clipped shift, not a hard sigmoid: left to the plain mappings.
    let g = B::new(&[5])
        .init("three", &[], &[3.0])
        .init("zero", &[], &[0.0])
        .init("five", &[], &[5.0])
        .init("sixth", &[], &[1.0 / 6.0])
        .node("Add", "a", &["x", "three"], &["t"], vec![])
        .node("Clip", "c", &["t", "zero", "five"], &["r"], vec![])
        .node("Mul", "d", &["r", "sixth"], &["h"], vec![])
        .import()
        .unwrap();
    assert_eq!(kinds(&g)[0], "Input");
    assert!(!kinds(&g).contains(&"HardSigmoid"), "{:?}", kinds(&g));
}
