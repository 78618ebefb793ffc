//! Occlusion against Captum 0.9's `Occlusion` (assets/golden/captum_*_occlusion_*.npy, made by
//! scripts/golden_occlusion.py): windows over every channel, a last window cut at the edge, a
//! fill of 0.5, and the ImageNet model on two photographs; each map within 1e-4 of its largest
//! |value|, per input.

use glimpse::explain::occlusion::{OcclusionFill, OcclusionOptions, OcclusionPlan};
use glimpse::explain::Target;
use glimpse::model::Tensor;

use super::golden_captum::{check, golden, inputs, model, targets};

fn occlusion(
    name: &str,
    x: &Tensor,
    targets: &[Target],
    window: [usize; 3],
    stride: [usize; 3],
    fill: f32,
) -> Tensor {
    let options = OcclusionOptions {
        window: Some(window.to_vec()),
        strides: Some(stride.to_vec()),
        fill: OcclusionFill::Value(fill),
    };
    let graph = model(name);
    let mut plan = OcclusionPlan::new(&crate::common::model(&graph), &options, 16).unwrap();
    plan.run(x, targets).unwrap().map
}

#[test]
fn occlusion_equals_captum_on_lenet_and_the_residual_net() {
    for (name, tag, window, stride, fill) in [
        ("lenet_mnist", "w4s2", [1, 4, 4], [1, 2, 2], 0.0),
        ("lenet_mnist", "w5s3_half", [1, 5, 5], [1, 3, 3], 0.5),
        ("resnet_fashion", "w6s4", [1, 6, 6], [1, 4, 4], 0.0),
    ] {
        let got = occlusion(name, &inputs(name), &targets(name), window, stride, fill);
        let file = format!("captum_{name}_occlusion_{tag}");
        check(&file, &got, &golden(&file));
    }
}

#[test]
fn occlusion_equals_captum_on_efficientnet_lite0_photographs() {
    let all = glimpse::io::npy::read_f32(crate::common::asset("data/photos_x.npy")).unwrap();
    let item: usize = all.shape[1..].iter().product();
    let x = Tensor::new(vec![2, 3, 224, 224], all.data[..2 * item].to_vec()).unwrap();
    // The golden's targets: the predicted classes of the reference logits.
    let reference = glimpse::io::npy::read_f32(crate::common::asset(
        "reference/efficientnet_lite0_logits.npy",
    ))
    .unwrap();
    let f = reference.shape[1];
    let t: Vec<Target> = (0..2)
        .map(|i| {
            Target::Class(glimpse::explain::argmax(
                &reference.data[i * f..(i + 1) * f],
            ))
        })
        .collect();
    let got = occlusion("efficientnet_lite0", &x, &t, [3, 32, 32], [3, 16, 16], 0.0);
    let file = "captum_efficientnet_lite0_occlusion_w32s16";
    check(file, &got, &golden(file));
}
