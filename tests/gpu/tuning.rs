//! Kernels chosen per family: devices whose families run different flavors agree with the f64
//! reference (their weights are packed per family on one model), and a measurement times every
//! candidate, keeps the fastest, and is what a device opened on its cache runs.

use crate::common::{assert_close, gpu, reference_relevance, Rng};
use glimpse::explain::{Bound, Composite, LrpPlan, Target};
use glimpse::gpu::GpuOptions;
use glimpse::layers::{reference_forward, Conv2d, Dense};
use glimpse::model::{Graph, Op, Tensor};
use glimpse::plan::{KernelChoice, KernelFamily, KernelVariant};
use glimpse::tune::{tune, KernelSource, TuneCache};
use glimpse::{DeviceModel, Gpu, Predictor};

/// input [64, 9, 10] → conv 64→64 → ReLU → conv 64→68 → ReLU → dense → 6: both convolutions
/// wide enough for Winograd.
fn net(rng: &mut Rng) -> Graph {
    let mut g = Graph::new(vec![64, 9, 10]).unwrap();
    let mut at = 0;
    for (i, (cin, cout)) in [(64, 64), (64, 68)].into_iter().enumerate() {
        let c = Conv2d {
            weight: Tensor::new(
                vec![cout, cin, 3, 3],
                rng.vec(cout * cin * 9).iter().map(|v| v * 0.3).collect(),
            )
            .unwrap(),
            bias: Some(rng.vec(cout).iter().map(|v| v * 0.1).collect()),
            stride: [1, 1],
            pads: [1; 4],
            dilation: [1, 1],
            groups: 1,
        };
        at = g.push(format!("conv{i}"), Op::Conv2d(c), vec![at]).unwrap();
        at = g.push(format!("relu{i}"), Op::relu(), vec![at]).unwrap();
    }
    let fc = Dense {
        weight: rng.tensor(&[6, 68 * 90]),
        bias: Some(rng.vec(6)),
    };
    g.push("fc", Op::Dense(fc), vec![at]).unwrap();
    g
}

fn variant(name: &str) -> KernelVariant {
    KernelVariant::parse(name).unwrap()
}

/// Three choices that give each family each of three flavors once.
fn mixed_choices() -> Vec<KernelChoice> {
    let mix = |f: &str, a: &str, d: &str| KernelChoice {
        conv_forward: variant(f),
        conv_adjoint: variant(a),
        dense: variant(d),
    };
    vec![
        mix("tiled", "subgroup+winograd", "registers"),
        mix("subgroup+winograd", "registers", "tiled"),
        mix("registers", "tiled", "subgroup"),
    ]
}

#[test]
fn mixed_families_match_the_reference_on_one_model() {
    let mut rng = Rng::new(151);
    let g = net(&mut rng);
    let x = rng.tensor(&[2, 64, 9, 10]);
    let mut want_out = reference_forward(&g, &x.to_f64());
    let want_out = std::mem::take(&mut want_out[g.output].data);
    let composite =
        Composite::preset("epsilon-plus-flat", Bound::Scalar(-1.0), Bound::Scalar(1.0)).unwrap();
    let want = reference_relevance(&g, &composite, &x, &[Target::Predicted]);
    let scale = want.data.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    // One model shared by every choice: each family's packed weights are its own.
    let shared = DeviceModel::new(gpu(), g.clone());
    let supported = gpu().supported_flavors();
    let runnable = mixed_choices()
        .into_iter()
        .filter(|c| c.flavors().iter().all(|f| supported.contains(f)));
    for choice in runnable {
        let device = gpu().with_kernels(choice);
        let model = DeviceModel::new(&device, g.clone());
        let what = choice.describe();
        let out = Predictor::new(&model, 2).unwrap().run(&x).unwrap();
        assert_close(
            &format!("forward, {what}"),
            &out.data,
            &want_out,
            1e-5,
            1e-4,
        );
        let mut plan = LrpPlan::new(&model, &composite, 2, false).unwrap();
        let got = plan.run(&x, &[Target::Predicted]).unwrap().map.data;
        assert_close(
            &format!("LRP, {what}"),
            &got,
            &want.data,
            1e-4 * scale + 1e-7,
            1e-4,
        );
        assert_eq!(
            shared.profile().kernels,
            gpu().kernels(),
            "the shared model is untouched"
        );
    }
}

#[test]
fn a_measurement_times_every_candidate_and_a_device_opened_on_its_cache_runs_it() {
    let mut rng = Rng::new(152);
    let g = net(&mut rng);
    let t = tune(gpu(), Some(("net", &g)), 1, 1).unwrap();
    let flavors = gpu().supported_flavors();
    for family in KernelFamily::ALL {
        let timed: Vec<_> = t.timings.iter().filter(|r| r.0 == family).collect();
        let mut candidates = KernelVariant::candidates(family, &flavors);
        candidates.retain(|v| !v.winograd || gpu().winograd_allowed());
        assert_eq!(
            timed.len(),
            candidates.len(),
            "{family:?}: every candidate timed once"
        );
        let fastest = timed.iter().min_by(|a, b| a.2.total_cmp(&b.2)).unwrap();
        assert_eq!(
            t.choice.get(family),
            fastest.1,
            "{family:?}: the fastest is kept"
        );
        assert!(timed.iter().all(|r| r.2 > 0.0 && r.2.is_finite()));
    }
    assert!(
        t.workload.contains("net") && t.workload.contains("batch 1"),
        "{}",
        t.workload
    );
    assert_eq!(t.table().lines().count(), 3, "{}", t.table());

    let dir = std::env::temp_dir().join(format!("glimpse-tuning-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let open = |cache: TuneCache| {
        Gpu::with_options(&GpuOptions {
            tune_cache: cache,
            ..GpuOptions::default()
        })
        .unwrap()
    };
    if std::env::var("GLIMPSE_KERNELS").is_ok_and(|k| !k.trim().is_empty()) {
        // The variable outranks any measurement: that is all there is to check then.
        let named = open(TuneCache::At(dir.clone()));
        assert_eq!(named.kernel_source(), &KernelSource::Environment);
        return;
    }
    let before = open(TuneCache::At(dir.clone()));
    assert!(
        before.kernel_source().wants_measurement(),
        "{}",
        before.kernel_source()
    );
    let path = t.save(gpu(), Some(dir.clone())).unwrap();
    assert!(path.starts_with(&dir));
    let after = open(TuneCache::At(dir.clone()));
    assert_eq!(after.kernels(), t.choice);
    match after.kernel_source() {
        KernelSource::Measured { entry, .. } => assert_eq!(entry.timings, t.timings),
        other => panic!("not read from the cache: {other}"),
    }
    assert!(
        after.describe().contains("measured"),
        "{}",
        after.describe()
    );
    let off = open(TuneCache::Off);
    assert!(!off.kernel_source().wants_measurement());
    let want = KernelChoice::uniform(off.preferred_flavor(), off.winograd_allowed());
    assert_eq!(off.kernels(), want, "by adapter type with the cache off");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_zero_batch_is_refused() {
    let e = tune(gpu(), None, 0, 1).unwrap_err().to_string();
    assert!(e.contains("batch"), "{e}");
}
