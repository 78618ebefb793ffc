//! Programs beyond one pass over a batch: a step (forward, backward, update) repeated in one
//! submission with only what was asked read back; reading a tensor that was not kept; one
//! device model's weights shared by every plan built on it.

use crate::common::{assert_close, gpu, model, Rng};
use glimpse::explain::backward::{
    gradient_rules, record_backward, reference_backward, BackwardSpec, Seed,
};
use glimpse::explain::gradient::{
    Baseline, GradientMap, GradientPlan, IntegratedGradients, Riemann,
};
use glimpse::explain::{Bound, Composite, LrpPlan, Target};
use glimpse::gpu::Executable;
use glimpse::layers::{reference_forward, Conv2d, Dense, GradMode, Pool2d};
use glimpse::model::{Graph, Op, Tensor};
use glimpse::plan::{record_ascent, record_forward, Program};

/// input [2, 6, 6] → conv 2→3 → ReLU → max pool 2 → flatten → dense 27→4.
fn net(rng: &mut Rng) -> Graph {
    let mut g = Graph::new(vec![2, 6, 6]).unwrap();
    let c = Conv2d {
        weight: rng.tensor(&[3, 2, 3, 3]),
        bias: Some(rng.vec(3)),
        stride: [1, 1],
        pads: [1; 4],
        dilation: [1, 1],
        groups: 1,
    };
    let a = g.push("conv", Op::Conv2d(c), vec![0]).unwrap();
    let r = g.push("relu", Op::relu(), vec![a]).unwrap();
    let pool = Pool2d {
        kernel: [2, 2],
        stride: [2, 2],
        pads: [0; 4],
        count_include_pad: false,
        ceil_mode: false,
    };
    let p = g.push("pool", Op::max_pool(pool), vec![r]).unwrap();
    let f = g.push_reshape("flatten", p, vec![27]).unwrap();
    let d = Dense {
        weight: rng.tensor(&[4, 27]),
        bias: Some(rng.vec(4)),
    };
    g.push("fc", Op::Dense(d), vec![f]).unwrap();
    g
}

/// `steps` of projected gradient ascent on the input towards class `class`, in f64.
fn ascent_f64(g: &Graph, x: &Tensor, class: usize, steps: usize, lr: f64) -> Vec<Vec<f64>> {
    let rules = gradient_rules(g, GradMode::Gradient);
    let mut xs = x.to_f64();
    let n = x.shape[0];
    let mut history = Vec::new();
    for _ in 0..steps {
        let out = &reference_forward(g, &xs)[g.output];
        let mut seed = Tensor::zeros(out.shape.clone());
        for i in 0..n {
            seed.data[i * 4 + class] = 1.0;
        }
        let grad = reference_backward(g, &rules, &xs, g.output, &seed, None)[0]
            .clone()
            .unwrap();
        for (v, d) in xs.data.iter_mut().zip(&grad.data) {
            *v = (*v + lr * d).clamp(-1.0, 1.0);
        }
        history.push(xs.data.clone());
    }
    history
}

#[test]
fn a_repeated_step_runs_in_one_submission_and_records_every_m_steps() {
    let mut rng = Rng::new(21);
    let g = net(&mut rng);
    let x = rng.tensor(&[2, 2, 6, 6]);
    let m = model(&g);
    let (steps, every, lr) = (12, 4, 0.05f32);
    let mut p = Program::new(&m.profile());
    p.begin_repeat().unwrap();
    let values = record_forward(&mut p, &g, 2).unwrap();
    let rules = gradient_rules(&g, GradMode::Gradient);
    let spec = BackwardSpec {
        batch: 2,
        start: g.output,
        stop: 0,
        rules: &rules,
        seed: Seed::Gradient,
        sums: false,
        label: "grad",
        joins: &[],
        masks: &[],
        exclude_parallel: false,
    };
    let t = record_backward(&mut p, &g, &values, &spec).unwrap();
    let grad = t.flow[0].unwrap();
    record_ascent(&mut p, values[0], grad, 2 * 72, lr, (-1.0, 1.0)).unwrap();
    p.end_repeat(steps, every, &[values[0]]).unwrap();
    let passes = p.pass_count();
    let logits = values[g.output];
    let mut exe = Executable::new(&m, p).unwrap();
    exe.write(values[0], &x.data).unwrap();
    let (mode, w) = Target::Class(3).encode(4).unwrap();
    let mut target = vec![mode; 2];
    target.extend(w.iter().chain(&w));
    exe.write(t.target, &target).unwrap();
    let (reads, history) = exe.run_recorded(&[(values[0], 144)]).unwrap();
    assert_eq!(exe.pass_count(), passes);
    assert_eq!(history.len(), steps / every);
    let want = ascent_f64(&g, &x, 3, steps, lr as f64);
    for (r, h) in history.iter().enumerate() {
        let step = (r + 1) * every - 1;
        assert_close(
            &format!("x after step {}", step + 1),
            &h[0],
            &want[step],
            1e-4,
            1e-3,
        );
    }
    assert_close("final x", &reads[0], &want[steps - 1], 1e-4, 1e-3);
    // The logits of the last step were not kept: reading them is an error, never other bytes.
    let err = exe.run(&[(logits, 8)]).unwrap_err().to_string();
    assert!(err.contains("not kept") && err.contains("fc"), "{err}");
}

#[test]
fn plans_on_one_device_model_share_its_weights() {
    let mut rng = Rng::new(22);
    let g = net(&mut rng);
    let x = rng.tensor(&[2, 2, 6, 6]);
    let m = model(&g);
    let t = [Target::Predicted];
    let mut saliency = GradientPlan::new(&m, GradientMap::Saliency, 2).unwrap();
    saliency.run(&x, &t).unwrap();
    let after_gradient = m.weight_bytes();
    // The forward weights, the plain adjoint layout of the convolution, and the dense weight.
    assert!(after_gradient > 0);
    let mut ig = IntegratedGradients::new(&m, Baseline::Zero, 8, Riemann::Middle, 16).unwrap();
    ig.run(&x, &t).unwrap();
    assert_eq!(
        m.weight_bytes(),
        after_gradient,
        "IG and its scorer upload nothing new"
    );
    let c =
        Composite::preset("epsilon-plus-flat", Bound::Scalar(-1.0), Bound::Scalar(1.0)).unwrap();
    let mut lrp = LrpPlan::new(&m, &c, 2, false).unwrap();
    lrp.run(&x, &t).unwrap();
    let after_lrp = m.weight_bytes();
    assert!(
        after_lrp > after_gradient,
        "z⁺ and flat add modified weights"
    );
    let count = m.weight_count();
    LrpPlan::new(&m, &c, 2, false).unwrap().run(&x, &t).unwrap();
    assert_eq!(
        (m.weight_bytes(), m.weight_count()),
        (after_lrp, count),
        "a second LRP plan uploads nothing"
    );
    // A program recorded for another device profile is refused, not misread.
    let other = gpu().with_flavor(glimpse::gpu::KernelFlavor::Registers);
    if other.profile() != gpu().profile() {
        let p = Program::new(&other.profile());
        assert!(Executable::new(&m, p).is_err());
    }
}
