//! The translation trick against a plain loop: each shifted copy explained alone for the
//! unshifted input's class, shifted back by hand and averaged over the copies that kept each
//! pixel — for LRP, gradient × input and Grad-CAM on LeNet.

use glimpse::explain::translate::{explain_translated, Translation};
use glimpse::explain::{Explainer, Method, Target};
use glimpse::model::Tensor;

fn digits(n: usize) -> Tensor {
    let all = glimpse::io::npy::read_f32(crate::common::asset("data/mnist_test_x.npy")).unwrap();
    Tensor::new(vec![n, 1, 28, 28], all.data[..n * 784].to_vec()).unwrap()
}

/// The average the trick should give, one copy at a time.
fn by_hand(e: &mut Explainer, x: &Tensor, t: Translation) -> Vec<f64> {
    let n = x.shape[0];
    let plain = e.explain(x, &[Target::Predicted]).unwrap();
    let c = plain.map.shape[1];
    let mut out = Vec::new();
    for i in 0..n {
        let input = &x.data[i * 784..(i + 1) * 784];
        let mut sum = vec![0.0f64; c * 784];
        let mut count = vec![0.0f64; 784];
        for (dy, dx) in t.offsets() {
            let mut copy = vec![0.0f32; 784];
            for y in 0..28isize {
                for xx in 0..28isize {
                    let (sy, sx) = (y - dy, xx - dx);
                    if (0..28).contains(&sy) && (0..28).contains(&sx) {
                        copy[(y * 28 + xx) as usize] = input[(sy * 28 + sx) as usize];
                    }
                }
            }
            let copy = Tensor::new(vec![1, 1, 28, 28], copy).unwrap();
            let m = e
                .explain(&copy, &[Target::Class(plain.classes[i])])
                .unwrap()
                .map;
            for y in 0..28isize {
                for xx in 0..28isize {
                    let (sy, sx) = (y + dy, xx + dx);
                    if (0..28).contains(&sy) && (0..28).contains(&sx) {
                        count[(y * 28 + xx) as usize] += 1.0;
                        for ch in 0..c as isize {
                            sum[(ch * 784 + y * 28 + xx) as usize] +=
                                m.data[(ch * 784 + sy * 28 + sx) as usize] as f64;
                        }
                    }
                }
            }
        }
        out.extend(sum.iter().enumerate().map(|(k, s)| s / count[k % 784]));
    }
    out
}

#[test]
fn translated_explanations_equal_the_loop_over_shifted_copies() {
    let graph = glimpse::load_model(crate::common::asset("models/lenet_mnist.onnx")).unwrap();
    let unfolded = glimpse::load_model_with(
        crate::common::asset("models/lenet_mnist.onnx"),
        &glimpse::LoadOptions {
            fold_batch_norm: false,
        },
    )
    .unwrap();
    let x = digits(3);
    for (name, method, g) in [
        ("lrp", "lrp:epsilon-plus-flat", &graph),
        ("gradient-x-input", "gradient-x-input", &graph),
        ("grad-cam", "grad-cam", &unfolded),
    ] {
        let method: Method = method.parse().unwrap();
        let model = crate::common::model(g);
        let mut e = Explainer::new(&model, &method, 8).unwrap();
        let plain = e.explain(&x, &[Target::Predicted]).unwrap();
        let one = Translation::parse("1").unwrap();
        let same = explain_translated(&mut e, &x, &[Target::Predicted], one).unwrap();
        assert_eq!(
            same.map.data, plain.map.data,
            "{name}: N = 1 is the plain map"
        );
        for spec in ["3,2", "2"] {
            let t = Translation::parse(spec).unwrap();
            let got = explain_translated(&mut e, &x, &[Target::Predicted], t).unwrap();
            assert_eq!(got.classes, plain.classes, "{name}");
            assert_eq!(got.scores, plain.scores, "{name}");
            let want = by_hand(&mut e, &x, t);
            let scale = want.iter().fold(0.0f64, |m, v| m.max(v.abs()));
            let err = got
                .map
                .data
                .iter()
                .zip(&want)
                .fold(0.0f64, |m, (&a, &b)| m.max((a as f64 - b).abs()));
            println!("{name} --translate {spec}: {:.2e} of max |R|", err / scale);
            assert!(err <= 1e-6 * scale, "{name} {spec}: {err} of {scale}");
            // The average differs from the plain map (the trick does something).
            let moved = got
                .map
                .data
                .iter()
                .zip(&plain.map.data)
                .any(|(a, b)| (a - b).abs() > 1e-3 * scale as f32);
            assert!(moved, "{name} {spec}");
        }
    }
}

#[test]
fn translations_that_leave_nothing_are_refused() {
    let graph = glimpse::load_model(crate::common::asset("models/lenet_mnist.onnx")).unwrap();
    let model = crate::common::model(&graph);
    let mut e = Explainer::new(&model, &"gradient".parse().unwrap(), 8).unwrap();
    let t = Translation::parse("8,4").unwrap();
    let err = explain_translated(&mut e, &digits(1), &[Target::Predicted], t).unwrap_err();
    assert!(
        err.to_string().contains("leave nothing of a 28×28 input"),
        "{err}"
    );
}
