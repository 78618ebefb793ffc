//! LRP through wide convolutions in every kernel flavor the device supports, against the f64
//! reference: the adjoint kernels (plain and `subgroup`, one and two channel quads per lane),
//! strides, dilation, groups, padding, and the terms of min(x, 0) skipped after ReLUs.

use crate::common::{assert_close, gpu, reference_relevance, Rng};
use glimpse::explain::{Bound, Composite, LrpPlan, Rule, Target};
use glimpse::layers::{Conv2d, Dense, LayerClass};
use glimpse::model::{Graph, Op, Tensor};

/// input [3, 9, 8] → conv 3→`mid` (pad 1) → ReLU → `second` → ReLU → flatten → dense → 4.
fn net(rng: &mut Rng, mid: usize, second: Conv2d) -> Graph {
    let mut g = Graph::new(vec![3, 9, 8]).unwrap();
    let c1 = Conv2d {
        weight: rng.tensor(&[mid, 3, 3, 3]),
        bias: Some(rng.vec(mid).iter().map(|v| v * 0.1).collect()),
        stride: [1, 1],
        pads: [1; 4],
        dilation: [1, 1],
        groups: 1,
    };
    let a = g.push("conv1", Op::Conv2d(c1), vec![0]).unwrap();
    let r = g.push("relu1", Op::relu(), vec![a]).unwrap();
    let b = g.push("conv2", Op::Conv2d(second), vec![r]).unwrap();
    let r = g.push("relu2", Op::relu(), vec![b]).unwrap();
    let n: usize = g.nodes[r].shape.iter().product();
    let f = g.push_reshape("flatten", r, vec![n]).unwrap();
    let d = Dense {
        weight: rng.tensor(&[4, n]),
        bias: Some(rng.vec(4)),
    };
    g.push("fc", Op::Dense(d), vec![f]).unwrap();
    g
}

fn conv(rng: &mut Rng, cout: usize, cin_g: usize, groups: usize) -> Conv2d {
    Conv2d {
        weight: rng.tensor(&[cout, cin_g, 3, 3]),
        bias: Some(rng.vec(cout).iter().map(|v| v * 0.1).collect()),
        stride: [1, 1],
        pads: [1; 4],
        dilation: [1, 1],
        groups,
    }
}

/// GPU relevance in every flavor vs the f64 reference, explaining the predicted class.
fn check(what: &str, graph: &Graph, composite: &Composite, x: &Tensor) {
    let want = reference_relevance(graph, composite, x, &[Target::Predicted]);
    let scale = want.data.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    for flavor in gpu().supported_flavors() {
        let g = gpu().with_flavor(flavor);
        let mut plan = LrpPlan::new(
            &glimpse::DeviceModel::new(&g, graph.clone()),
            composite,
            x.shape[0],
            false,
        )
        .unwrap();
        let got = plan.run(x, &[Target::Predicted]).unwrap();
        let what = format!("{what} ({flavor:?})");
        assert_close(&what, &got.map.data, &want.data, 1e-4 * scale + 1e-7, 1e-4);
    }
}

fn composites() -> Vec<(&'static str, Composite)> {
    let preset = |n| Composite::preset(n, Bound::Scalar(-1.0), Bound::Scalar(1.0)).unwrap();
    vec![
        ("epsilon-plus-flat", preset("epsilon-plus-flat")),
        ("epsilon-alpha2-beta1", preset("epsilon-alpha2-beta1")),
        ("epsilon-gamma-box", preset("epsilon-gamma-box")),
        (
            "epsilon 0.1",
            Composite::uniform(Rule::Epsilon { epsilon: 0.1 }),
        ),
    ]
}

#[test]
fn twenty_channels_one_quad_per_lane() {
    let mut rng = Rng::new(51);
    let c2 = conv(&mut rng, 12, 20, 1);
    let g = net(&mut rng, 20, c2);
    let x = rng.tensor(&[2, 3, 9, 8]);
    for (name, c) in composites() {
        check(&format!("20 channels, {name}"), &g, &c, &x);
    }
}

#[test]
fn seventy_two_channels_strided_dilated_two_quads_per_lane() {
    let mut rng = Rng::new(52);
    let mut c2 = conv(&mut rng, 6, 72, 1);
    c2.stride = [2, 3];
    c2.pads = [1, 0, 2, 1];
    c2.dilation = [2, 1];
    let g = net(&mut rng, 72, c2);
    let x = rng.tensor(&[2, 3, 9, 8]);
    for (name, c) in composites() {
        check(&format!("72 channels strided, {name}"), &g, &c, &x);
    }
}

#[test]
fn depthwise_convolutions_every_size_and_stride() {
    let mut rng = Rng::new(54);
    for (k, stride, pads) in [
        (3, 1, [1, 1, 1, 1]),
        (3, 2, [0, 0, 1, 1]),
        (5, 1, [2, 1, 2, 3]),
        (5, 2, [1, 2, 2, 1]),
    ] {
        let mut c2 = conv(&mut rng, 12, 1, 12);
        c2.weight = rng.tensor(&[12, 1, k, k]);
        c2.stride = [stride, stride];
        c2.pads = pads;
        let g = net(&mut rng, 12, c2);
        let x = rng.tensor(&[2, 3, 9, 8]);
        for (name, c) in composites() {
            check(
                &format!("depthwise {k}×{k} stride {stride}, {name}"),
                &g,
                &c,
                &x,
            );
        }
    }
}

#[test]
fn grouped_wide_convolution() {
    let mut rng = Rng::new(53);
    let c2 = conv(&mut rng, 10, 34, 2);
    let g = net(&mut rng, 68, c2);
    let x = rng.tensor(&[3, 3, 9, 8]);
    let (name, c) = &composites()[0];
    check(&format!("2 groups of 34 channels, {name}"), &g, c, &x);
}

#[test]
fn max_pool_winner_takes_all_tiling_overlapping_and_ragged() {
    use glimpse::layers::Pool2d;
    let tiling = Pool2d {
        kernel: [2, 2],
        stride: [2, 2],
        pads: [0; 4],
        count_include_pad: false,
        ceil_mode: false,
    };
    let overlapping = Pool2d {
        kernel: [3, 3],
        pads: [1; 4],
        ..tiling.clone()
    };
    // 2×2 windows on 8×7 inputs leave the last column outside every window.
    for (what, pool, hw) in [
        ("tiling", tiling.clone(), [8, 8]),
        ("overlapping", overlapping, [8, 8]),
        ("ragged", tiling, [8, 7]),
    ] {
        let mut rng = Rng::new(54);
        let mut g = Graph::new(vec![3, hw[0], hw[1]]).unwrap();
        let c = conv(&mut rng, 4, 3, 1);
        let a = g.push("conv", Op::Conv2d(c), vec![0]).unwrap();
        let r = g.push("relu", Op::relu(), vec![a]).unwrap();
        let p = g.push("pool", Op::max_pool(pool), vec![r]).unwrap();
        let n: usize = g.nodes[p].shape.iter().product();
        let f = g.push_reshape("flatten", p, vec![n]).unwrap();
        let d = Dense {
            weight: rng.tensor(&[3, n]),
            bias: None,
        };
        g.push("fc", Op::Dense(d), vec![f]).unwrap();
        // Rounded inputs make ties inside windows likely.
        let mut x = rng.tensor(&[2, 3, hw[0], hw[1]]);
        x.data
            .iter_mut()
            .for_each(|v| *v = (*v * 2.0).round() * 0.5);
        let preset =
            Composite::preset("epsilon-plus", Bound::Scalar(-1.0), Bound::Scalar(1.0)).unwrap();
        for rule in [Rule::WinnerTakeAll, Rule::ArgMax] {
            let c = preset
                .clone()
                .with(LayerClass::MaxPool, rule.clone())
                .unwrap();
            check(&format!("max pool {what}, {rule:?}"), &g, &c, &x);
        }
    }
}
