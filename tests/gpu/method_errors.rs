//! Bad input to the gradient and CAM methods is an error naming the problem, never a panic; Captum's
//! Riemann points reproduced bit for bit.

use crate::gradient_methods::{fixture, mnist};
use glimpse::explain::cam::{CamKind, CamPlan};
use glimpse::explain::gradient::{
    Baseline, DeepLiftPlan, GradientMap, GradientPlan, IntegratedGradients, Riemann, RootPoint,
    SmoothGrad, SmoothOptions, TaylorPlan,
};
use glimpse::explain::{LayerRef, Target};
use glimpse::model::Tensor;
use glimpse::Error;

fn is_error<T>(what: &str, r: glimpse::Result<T>) -> String {
    match r {
        Ok(_) => panic!("{what}: expected an error"),
        Err(e) => {
            let msg = e.to_string();
            println!("{what}: {msg}");
            assert!(!msg.is_empty());
            msg
        }
    }
}

#[test]
fn bad_input_is_an_error_not_a_panic() {
    let lenet = fixture("lenet_mnist");
    let x = mnist(2);
    let t = [Target::Predicted];
    let grad_cam = |layer: LayerRef| {
        CamPlan::new(
            &crate::common::model(&lenet),
            CamKind::GradCam,
            Some(&layer),
            2,
        )
    };
    let m = is_error(
        "unknown layer",
        grad_cam(LayerRef::Name("/conv9/Conv".into())),
    );
    assert!(
        m.contains("/conv9/Conv") && m.contains("/conv1/Conv"),
        "{m}"
    );
    is_error("layer index past the end", grad_cam(LayerRef::Index(99)));
    let m = is_error("dense layer", grad_cam(LayerRef::Name("/fc1/Gemm".into())));
    assert!(m.contains("not a convolutional feature map"), "{m}");
    is_error("the input", grad_cam(LayerRef::Index(0)));
    let m = is_error(
        "CAM without a GAP head",
        CamPlan::new(&crate::common::model(&lenet), CamKind::Cam, None, 2),
    );
    assert!(m.contains("global-average-pool"), "{m}");
    is_error(
        "IG with 0 steps",
        IntegratedGradients::new(
            &crate::common::model(&lenet),
            Baseline::Zero,
            0,
            Riemann::Middle,
            2,
        ),
    );
    is_error("riemann name", Riemann::parse("simpson"));
    let bad = Baseline::Tensor(Tensor::zeros(vec![1, 27, 28]));
    is_error(
        "baseline shape (IG)",
        IntegratedGradients::new(
            &crate::common::model(&lenet),
            bad.clone(),
            8,
            Riemann::Middle,
            2,
        ),
    );
    is_error(
        "baseline shape (DeepLIFT)",
        DeepLiftPlan::new(&crate::common::model(&lenet), bad.clone(), 2),
    );
    is_error(
        "root point shape",
        TaylorPlan::new(&crate::common::model(&lenet), RootPoint::Given(bad), 2),
    );
    // A per-item baseline for a different number of inputs.
    let three = Baseline::Tensor(Tensor::zeros(vec![3, 1, 28, 28]));
    let mut dl = DeepLiftPlan::new(&crate::common::model(&lenet), three, 2).unwrap();
    is_error("baseline count", dl.run(&x, &t));
    let no_samples = SmoothOptions {
        samples: 0,
        ..SmoothOptions::default()
    };
    is_error(
        "SmoothGrad with 0 samples",
        SmoothGrad::new(&crate::common::model(&lenet), no_samples, 2),
    );
    let bad_sigma = SmoothOptions {
        sigma: f32::NAN,
        ..SmoothOptions::default()
    };
    is_error(
        "σ = NaN",
        SmoothGrad::new(&crate::common::model(&lenet), bad_sigma, 2),
    );
    let bad_noise = SmoothOptions {
        samples: 2,
        noise: Some(Tensor::zeros(vec![2, 5, 1, 28, 28])),
        ..SmoothOptions::default()
    };
    is_error(
        "noise for 5 inputs",
        SmoothGrad::new(&crate::common::model(&lenet), bad_noise, 2)
            .unwrap()
            .run(&x, &t),
    );
    let mut plan =
        GradientPlan::new(&crate::common::model(&lenet), GradientMap::Saliency, 2).unwrap();
    is_error(
        "input shape",
        plan.run(&Tensor::zeros(vec![2, 1, 27, 28]), &t),
    );
    is_error("target class", plan.run(&x, &[Target::Class(10)]));
    is_error("target count", plan.run(&x, &vec![Target::Predicted; 3]));
    let mut nan = x.clone();
    nan.data[5] = f32::NAN;
    assert!(matches!(plan.run(&nan, &t), Err(Error::NonFinite { .. })));
}

/// IG's path points and step sizes, bit for bit as Captum 0.9 computes them (tests/data/
/// captum_riemann.json, written by Captum's `approximation_parameters`).
#[test]
fn riemann_points_are_captums_bit_for_bit() {
    use glimpse::explain::gradient::riemann_alphas;
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/captum_riemann.json");
    let data: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    for (name, method) in [
        ("riemann_left", Riemann::Left),
        ("riemann_right", Riemann::Right),
        ("riemann_middle", Riemann::Middle),
        ("riemann_trapezoid", Riemann::Trapezoid),
    ] {
        assert_eq!(Riemann::parse(name).unwrap(), method);
        for (n, want) in data["methods"][name].as_object().unwrap() {
            let (alphas, sizes) = riemann_alphas(method, n.parse().unwrap()).unwrap();
            let bits: Vec<u64> = alphas.iter().map(|a| a.to_bits() as u64).collect();
            let want_bits: Vec<u64> = want["alpha_bits"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_u64().unwrap())
                .collect();
            assert_eq!(bits, want_bits, "{name}, {n} steps: alphas");
            let want_sizes: Vec<f32> = want["step_sizes"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_f64().unwrap() as f32)
                .collect();
            assert_eq!(sizes, want_sizes, "{name}, {n} steps: step sizes");
        }
    }
}
