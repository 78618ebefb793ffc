//! Experts on the GPU against their f64 references: `weight·∇ log p(x)` added into a gradient
//! that already holds values, and `log p(x)` per item, for every kind, on MNIST digits and on
//! points between them. (Precisions bound in several chunks are recorded and counted in the
//! library's unit tests: the device's own profile binds a whole test mixture at once.)

use crate::common::{gpu, Rng};
use glimpse::gpu::Executable;
use glimpse::interpret::expert::{Expert, ExpertKind, FitOptions};
use glimpse::io::npy;
use glimpse::plan::{DeviceProfile, Program};

/// The first `n` MNIST test digits, flattened (`n × 784`, values in [0, 1]).
fn mnist(n: usize) -> Vec<f32> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/assets/data/mnist_test_x.npy");
    npy::NpyReader::open(path)
        .unwrap()
        .read_rows(0, n)
        .unwrap()
        .data
}

fn fit(kind: &str, data: &[f32], d: usize, iterations: usize) -> Expert {
    let kind: ExpertKind = kind.parse().unwrap();
    let opts = FitOptions {
        seed: 1,
        iterations: Some(iterations),
        reg: 1e-2,
        ..FitOptions::default()
    };
    Expert::fit(kind, data, d, &opts, &mut |_, _| {}).unwrap().0
}

/// Runs the expert on `x` (`batch × D`) with `out` starting at `start`; returns the gradient
/// buffer and the log-densities, and the worst errors relative to max|∇| and to max|log p|.
fn run(e: &Expert, profile: &DeviceProfile, x: &[f32], start: &[f32], weight: f32) -> (f64, f64) {
    let d = e.dim();
    let batch = x.len() / d;
    let mut p = Program::new(profile);
    let xt = p.tensor("x", batch * d).unwrap();
    let gt = p.tensor("grad", batch * d).unwrap();
    let vt = p.tensor("log p", batch).unwrap();
    let vt2 = p.tensor("log p alone", batch).unwrap();
    for t in [xt, gt, vt, vt2] {
        p.keep(t);
    }
    e.record_grad_and_log_density(&mut p, xt, batch, weight, gt, Some(vt))
        .unwrap();
    e.record_log_density(&mut p, xt, batch, vt2).unwrap();
    let mut exe = Executable::standalone(gpu(), p).unwrap();
    exe.write(xt, x).unwrap();
    exe.write(gt, start).unwrap();
    let out = exe
        .run(&[(gt, batch * d), (vt, batch), (vt2, batch)])
        .unwrap();
    let mut want_g = Vec::with_capacity(batch * d);
    let mut want_v = Vec::with_capacity(batch);
    for (b, item) in x.chunks(d).enumerate() {
        let g = e.grad_log_density(item);
        want_g.extend(
            g.iter()
                .zip(&start[b * d..(b + 1) * d])
                .map(|(gi, s)| *s as f64 + weight as f64 * gi),
        );
        want_v.push(e.log_density(item));
    }
    let scale = want_g.iter().fold(1e-12f64, |a, v| a.max(v.abs()));
    let g_err = out[0]
        .iter()
        .zip(&want_g)
        .map(|(a, b)| (*a as f64 - b).abs() / scale)
        .fold(0.0, f64::max);
    let v_scale = want_v.iter().fold(1.0f64, |a, v| a.max(v.abs()));
    let v_err = out[1]
        .iter()
        .chain(&out[2])
        .zip(want_v.iter().chain(&want_v))
        .map(|(a, b)| (*a as f64 - b).abs() / v_scale)
        .fold(0.0, f64::max);
    (g_err, v_err)
}

/// Digits 60..60+batch, the first two blended with noise so the mixtures' responsibilities
/// are soft, and a start gradient of seeded values.
fn inputs(data: &[f32], batch: usize) -> (Vec<f32>, Vec<f32>) {
    let d = 784;
    let mut rng = Rng::new(5);
    let mut x = data[60 * d..(60 + batch) * d].to_vec();
    for i in 0..d {
        x[i] = 0.5 * (x[i] + data[i]) + 0.05 * rng.next();
        x[d + i] = (0.3 * x[d + i] + 0.7 * data[3 * d + i]).clamp(0.0, 1.0);
    }
    (x, rng.vec(batch * d))
}

#[test]
fn expert_gradients_and_log_densities_match_the_f64_reference() {
    let d = 784;
    let data = mnist(160);
    let train = &data[..50 * d];
    let (x, start) = inputs(&data, 5);
    let profile = gpu().profile();
    for (kind, iters) in [
        ("gaussian", 1),
        ("gaussian-diag", 1),
        ("gmm:3", 5),
        ("gmm-diag:4", 5),
        ("grbm:16", 3),
        ("grbm-sigma:40", 3),
    ] {
        let e = fit(kind, train, d, iters);
        let (g_err, v_err) = run(&e, &profile, &x, &start, 0.7);
        println!(
            "{kind}: gradient error {g_err:.2e} of max|∇|, log p error {v_err:.2e} of max|log p|"
        );
        assert!(g_err < 1e-4, "{kind}: gradient error {g_err:.2e}");
        assert!(v_err < 1e-4, "{kind}: log-density error {v_err:.2e}");
    }
}
