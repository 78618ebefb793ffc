//! Selectivity sweeps: the GPU sweep (perturbation built on the GPU, batched forward passes,
//! scores) against its f64 mirror, over batch and submission boundaries, every baseline and
//! order; and the errors bad maps, labels and options get.

use crate::common::{assert_close, model, Rng};
use glimpse::evaluate::ranking::{broadcast, ranks, region_scores};
use glimpse::evaluate::reference::{perturbed, sweep_scores};
use glimpse::evaluate::{fill, Baseline, EvalOptions, Evaluator, Grid, Metric, Order, SweepShape};
use glimpse::layers::{Conv2d, Dense, Pool2d};
use glimpse::model::{Graph, Op, Tensor};

/// input [3, 9, 10] → conv 3→4 → ReLU → max pool 2 → flatten → dense 80→6: odd sizes, so
/// patches need Quantus's padding.
fn net(rng: &mut Rng) -> Graph {
    let mut g = Graph::new(vec![3, 9, 10]).unwrap();
    let conv = Conv2d {
        weight: rng.tensor(&[4, 3, 3, 3]),
        bias: Some(rng.vec(4)),
        stride: [1, 1],
        pads: [1; 4],
        dilation: [1, 1],
        groups: 1,
    };
    let a = g.push("conv", Op::Conv2d(conv), vec![0]).unwrap();
    let r = g.push("relu", Op::relu(), vec![a]).unwrap();
    let pool = Pool2d {
        kernel: [2, 2],
        stride: [2, 2],
        pads: [0; 4],
        count_include_pad: false,
        ceil_mode: false,
    };
    let p = g.push("pool", Op::max_pool(pool), vec![r]).unwrap();
    let f = g.push_reshape("flatten", p, vec![80]).unwrap();
    let d = Dense {
        weight: Tensor::new(vec![6, 80], rng.vec(480).iter().map(|v| v * 0.4).collect()).unwrap(),
        bias: Some(rng.vec(6)),
    };
    g.push("fc", Op::Dense(d), vec![f]).unwrap();
    g
}

/// Runs `options` on the GPU and checks every item's raw scores against the f64 sweep.
fn check(what: &str, options: EvalOptions, n: usize, map_channels: usize, batch: usize) {
    let mut rng = Rng::new(41);
    let graph = net(&mut rng);
    let m = model(&graph);
    let x = rng.tensor(&[n, 3, 9, 10]);
    let maps = rng.tensor(&[n, map_channels, 9, 10]);
    let classes: Vec<usize> = (0..n).map(|i| i % 6).collect();
    let mut ev = Evaluator::new(&m, options, batch).unwrap();
    let got = ev.evaluate(&x, &maps, Some(&classes)).unwrap();
    let grid = Grid::new(&[3, 9, 10], options.metric.regions()).unwrap();
    let shape = SweepShape {
        grid,
        per_step: options.metric.per_step(),
        steps: options.metric.steps(grid.count()).unwrap(),
        image_fill: options.baseline.is_image(),
        probability: options.probability,
    };
    let slots = shape.slots();
    assert_eq!(got.raw.shape, vec![n, slots], "{what}");
    let (numel, per_map) = (270, map_channels * 90);
    for (i, &class) in classes.iter().enumerate() {
        let xi = &x.data[i * numel..(i + 1) * numel];
        let map = broadcast(&maps.data[i * per_map..(i + 1) * per_map], &grid).unwrap();
        let r = ranks(&region_scores(&map, &grid), options.metric.order(), i);
        let fl = fill(
            xi,
            &grid,
            &r,
            shape.per_step,
            shape.steps,
            options.baseline,
            i,
        );
        let want = sweep_scores(&graph, xi, &r, &fl, &shape, class);
        let row = &got.raw.data[i * slots..(i + 1) * slots];
        assert_close(&format!("{what}, input {i}"), row, &want, 1e-5, 1e-4);
        let curve = &got.curves.data[i * slots..(i + 1) * slots];
        assert_eq!(curve, &options.metric.curve(row)[..], "{what}");
        assert_eq!(got.scores[i], options.metric.score(curve), "{what}");
    }
}

#[test]
fn region_perturbation_on_the_gpu_equals_the_f64_sweep() {
    for (order, baseline) in [
        (Order::Morf, Baseline::Mean),
        (Order::Lerf, Baseline::Blur { sigma: 1.5 }),
        (
            Order::Random { seed: 5 },
            Baseline::Uniform {
                low: -0.5,
                high: 0.5,
                seed: 2,
            },
        ),
    ] {
        let metric = Metric::RegionPerturbation {
            patch: 4,
            order,
            regions: 9,
        };
        let options = EvalOptions {
            metric,
            baseline,
            probability: true,
        };
        check(&format!("{order:?} {baseline:?}"), options, 5, 3, 7);
    }
}

#[test]
fn pixel_flipping_over_many_submissions_equals_the_f64_sweep() {
    // 9 inputs × 55 points in batches of 7: 71 forward batches, two submissions.
    let options = EvalOptions {
        metric: Metric::PixelFlipping {
            features_in_step: 5,
        },
        baseline: Baseline::Black,
        probability: false,
    };
    check("pixel flipping, one-channel maps", options, 9, 1, 7);
    let options = EvalOptions {
        metric: Metric::Selectivity { patch: 3 },
        baseline: Baseline::White,
        probability: true,
    };
    check("selectivity", options, 3, 3, 16);
}

#[test]
fn a_perturbed_input_replaces_exactly_the_top_regions() {
    let grid = Grid::new(&[4], glimpse::evaluate::Regions::Features).unwrap();
    let shape = SweepShape {
        grid,
        per_step: 2,
        steps: 2,
        image_fill: false,
        probability: false,
    };
    let x = [1.0, 2.0, 3.0, 4.0];
    let r = ranks(&[0.1, 0.9, 0.5, -1.0], Order::Morf, 0);
    assert_eq!(perturbed(&x, &r, &[7.0, 8.0], &shape, 0), x);
    assert_eq!(
        perturbed(&x, &r, &[7.0, 8.0], &shape, 1),
        [1.0, 7.0, 7.0, 4.0]
    );
    assert_eq!(
        perturbed(&x, &r, &[7.0, 8.0], &shape, 2),
        [8.0, 7.0, 7.0, 8.0]
    );
}

#[test]
fn bad_maps_labels_and_options_are_named() {
    let mut rng = Rng::new(3);
    let graph = net(&mut rng);
    let m = model(&graph);
    let options = EvalOptions {
        metric: Metric::RegionPerturbation {
            patch: 4,
            order: Order::Morf,
            regions: 9,
        },
        baseline: Baseline::Black,
        probability: true,
    };
    let mut ev = Evaluator::new(&m, options, 4).unwrap();
    let x = rng.tensor(&[2, 3, 9, 10]);
    let err = |r: glimpse::Result<glimpse::Evaluation>| r.expect_err("an error").to_string();
    let e = err(ev.evaluate(&x, &rng.tensor(&[2, 2, 9, 10]), None));
    assert!(e.contains("fit neither"), "{e}");
    let e = err(ev.evaluate(&x, &rng.tensor(&[3, 3, 9, 10]), None));
    assert!(e.contains("2 inputs but maps"), "{e}");
    let mut nan = rng.tensor(&[2, 1, 9, 10]);
    nan.data[17] = f32::NAN;
    let e = err(ev.evaluate(&x, &nan, None));
    assert!(e.contains("maps") && e.contains("non-finite"), "{e}");
    let maps = rng.tensor(&[2, 1, 9, 10]);
    let e = err(ev.evaluate(&x, &maps, Some(&[1])));
    assert!(e.contains("1 labels for 2 inputs"), "{e}");
    let e = err(ev.evaluate(&x, &maps, Some(&[1, 6])));
    assert!(e.contains("class 6"), "{e}");
    let too_many = EvalOptions {
        metric: Metric::RegionPerturbation {
            patch: 4,
            order: Order::Morf,
            regions: 10,
        },
        ..options
    };
    let e = Evaluator::new(&m, too_many, 4).err().unwrap().to_string();
    assert!(e.contains("10 regions") && e.contains("into 9"), "{e}");
    // Predicted classes when no labels are given: the sweep's first point is the input's score.
    let got = ev.evaluate(&x, &maps, None).unwrap();
    assert_eq!(got.classes.len(), 2);
    assert!(got.curves.data.iter().step_by(10).all(|&v| v == 0.0));
}
