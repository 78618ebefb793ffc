//! Dense weights larger than one storage binding are bound in row chunks (VGG16's first
//! classifier layer needs it on lavapipe): forward against the f64 reference, LRP against the
//! same plan on a device that binds the weight whole.

use crate::common::{assert_close, gpu, Rng};
use glimpse::explain::{Bound, Composite, LrpPlan, Target};
use glimpse::layers::{reference_forward, Dense};
use glimpse::model::{Graph, Op};
use glimpse::{Gpu, Predictor};

/// 70 inputs → dense 300 (84 000-byte weight) → ReLU → dense 10.
fn wide_dense(rng: &mut Rng) -> Graph {
    let mut g = Graph::new(vec![70]).unwrap();
    let d1 = Dense {
        weight: rng.tensor(&[300, 70]),
        bias: Some(rng.vec(300)),
    };
    let a = g.push("fc1", Op::Dense(d1), vec![0]).unwrap();
    let r = g.push("relu", Op::relu(), vec![a]).unwrap();
    let d2 = Dense {
        weight: rng.tensor(&[10, 300]),
        bias: Some(rng.vec(10)),
    };
    g.push("fc2", Op::Dense(d2), vec![r]).unwrap();
    g
}

/// A device binding at most 20 KiB: fc1's weight needs five chunks.
fn small_binding() -> Gpu {
    crate::common::limited(20 * 1024)
}

#[test]
fn chunked_dense_forward_matches_the_reference() {
    let mut rng = Rng::new(31);
    let g = wide_dense(&mut rng);
    let x = rng.tensor(&[5, 70]);
    let small = small_binding();
    let mut plan = Predictor::new(&glimpse::DeviceModel::new(&small, g.clone()), 5).unwrap();
    assert!(
        plan.executable().pass_count()
            > Predictor::new(&crate::common::model(&g), 5)
                .unwrap()
                .executable()
                .pass_count()
    );
    let got = plan.run(&x).unwrap();
    let want = reference_forward(&g, &x.to_f64());
    assert_close("chunked dense", &got.data, &want[g.output].data, 1e-5, 1e-4);
}

#[test]
fn chunked_dense_lrp_matches_the_whole_weight() {
    let mut rng = Rng::new(32);
    let g = wide_dense(&mut rng);
    let x = rng.tensor(&[3, 70]);
    let composite =
        Composite::preset("epsilon-plus-flat", Bound::Scalar(0.0), Bound::Scalar(1.0)).unwrap();
    let targets = [Target::parse("pred").unwrap()];
    let explain = |gpu: &Gpu| {
        let mut plan = LrpPlan::new(
            &glimpse::DeviceModel::new(gpu, g.clone()),
            &composite,
            3,
            false,
        )
        .unwrap();
        plan.run(&x, &targets).unwrap().map
    };
    let want = explain(gpu());
    let got = explain(&small_binding());
    let want: Vec<f64> = want.data.iter().map(|&v| v as f64).collect();
    assert_close("chunked dense LRP", &got.data, &want, 1e-5, 1e-4);
}

#[test]
fn batches_beyond_the_binding_limit_split_evenly() {
    // One item's output is 8·16·16·4 = 8 KiB; a 33 KiB limit fits 4 items, so 5 run as 3 + 2
    // (two submissions either way, but no padded items beyond the second's one).
    let mut rng = Rng::new(33);
    let mut g = Graph::new(vec![2, 16, 16]).unwrap();
    let c = glimpse::layers::Conv2d {
        weight: rng.tensor(&[8, 2, 3, 3]),
        bias: None,
        stride: [1, 1],
        pads: [1; 4],
        dilation: [1, 1],
        groups: 1,
    };
    g.push("conv", Op::Conv2d(c), vec![0]).unwrap();
    let limited = crate::common::limited(33 * 1024);
    let mut plan = Predictor::new(&glimpse::DeviceModel::new(&limited, g.clone()), 5).unwrap();
    assert_eq!(plan.batch(), 3);
    assert_eq!(
        Predictor::new(&glimpse::DeviceModel::new(&limited, g.clone()), 4)
            .unwrap()
            .batch(),
        4
    );
    let x = rng.tensor(&[5, 2, 16, 16]);
    let want = reference_forward(&g, &x.to_f64());
    assert_close(
        "even split",
        &plan.run(&x).unwrap().data,
        &want[1].data,
        1e-5,
        1e-4,
    );
}
