//! The experts on the CPU: closed forms, finite differences, EM's monotonicity, the RBM's free
//! energy and partition function by brute force, the file format, recording without a GPU.

use nalgebra::{DMatrix, DVector};

use super::*;
use crate::plan::{DeviceProfile, KernelFlavor, Program};

/// `n` items of `d` values around `centres` well-separated centres.
fn clustered(n: usize, d: usize, centres: usize, seed: u64) -> Vec<f32> {
    let mut rng = rng(seed);
    let means: Vec<f64> = (0..centres * d).map(|_| 3.0 * rng.normal()).collect();
    let mut out = Vec::with_capacity(n * d);
    for r in 0..n {
        let c = r % centres;
        for i in 0..d {
            let scale = 0.5 + 0.1 * i as f64;
            out.push((means[c * d + i] + scale * rng.normal()) as f32);
        }
    }
    out
}

fn fit(kind: &str, data: &[f32], d: usize) -> Expert {
    let opts = FitOptions {
        seed: 3,
        reg: 1e-3,
        iterations: Some(40),
        ..FitOptions::default()
    };
    Expert::fit(kind.parse().unwrap(), data, d, &opts, &mut |_, _| {})
        .unwrap()
        .0
}

/// Central differences of `log_density` against `grad_log_density`, relative to max|∇|.
fn check_gradient(e: &Expert, x: &[f32], tol: f64) {
    let g = e.grad_log_density(x);
    let scale = g.iter().fold(0.0f64, |a, v| a.max(v.abs())).max(1e-12);
    for i in 0..x.len() {
        let (mut hi, mut lo) = (x.to_vec(), x.to_vec());
        hi[i] += 1e-3;
        lo[i] -= 1e-3;
        let fd = (e.log_density(&hi) - e.log_density(&lo)) / (hi[i] as f64 - lo[i] as f64);
        let err = (fd - g[i]).abs() / scale;
        assert!(
            err < tol,
            "{:?} ∂{i}: {fd} by differences, {} analytic (error {err:.2e})",
            e.kind(),
            g[i]
        );
    }
}

#[test]
fn gaussian_log_pdf_matches_the_direct_formula() {
    let (n, d, reg) = (300, 5, 1e-3);
    let data = clustered(n, d, 2, 1);
    let e = fit("gaussian", &data, d);
    let x = DMatrix::from_row_slice(n, d, &data.iter().map(|&v| v as f64).collect::<Vec<_>>());
    let mean: DVector<f64> = x.row_mean().transpose();
    let mut cov = DMatrix::zeros(d, d);
    for r in 0..n {
        let c = x.row(r).transpose() - &mean;
        cov += &c * c.transpose() / n as f64;
    }
    cov += DMatrix::identity(d, d) * reg;
    let inv = cov.clone().try_inverse().unwrap();
    let det = cov.determinant();
    for r in [0, 7, 100] {
        let c = x.row(r).transpose() - &mean;
        let want = -0.5 * (c.transpose() * &inv * &c)[(0, 0)]
            - 0.5 * (std::f64::consts::TAU.powi(d as i32) * det).ln();
        let got = e.log_density(&data[r * d..(r + 1) * d]);
        assert!(
            (got - want).abs() < 1e-4 * want.abs().max(1.0),
            "{got} vs {want}"
        );
    }
    // Diagonal: a product of one-dimensional normals.
    let e = fit("gaussian-diag", &data, d);
    let xr = &data[..d];
    let want: f64 = (0..d)
        .map(|i| {
            let v = cov[(i, i)];
            -0.5 * (xr[i] as f64 - mean[i]).powi(2) / v - 0.5 * (std::f64::consts::TAU * v).ln()
        })
        .sum();
    assert!((e.log_density(xr) - want).abs() < 1e-4 * want.abs().max(1.0));
}

#[test]
fn a_mixture_of_one_component_is_the_gaussian() {
    let d = 6;
    let data = clustered(200, d, 3, 2);
    for (g, m) in [("gaussian", "gmm:1"), ("gaussian-diag", "gmm-diag:1")] {
        let (g, m) = (fit(g, &data, d), fit(m, &data, d));
        for x in data.chunks(d).take(5) {
            let (a, b) = (g.log_density(x), m.log_density(x));
            assert!((a - b).abs() < 1e-5 * a.abs().max(1.0), "{a} vs {b}");
            for (u, v) in g.grad_log_density(x).iter().zip(m.grad_log_density(x)) {
                assert!((u - v).abs() < 1e-5 * u.abs().max(1.0));
            }
        }
    }
}

#[test]
fn em_never_decreases_the_regularised_log_likelihood() {
    let d = 4;
    let data = clustered(240, d, 4, 3);
    for kind in ["gmm:4", "gmm-diag:4", "gmm:7"] {
        for seed in 0..3 {
            let opts = FitOptions {
                seed,
                iterations: Some(25),
                tolerance: -1.0,
                reg: 1e-2,
                ..FitOptions::default()
            };
            let (_, report) =
                Expert::fit(kind.parse().unwrap(), &data, d, &opts, &mut |_, _| {}).unwrap();
            assert_eq!(report.progress.len(), 25);
            for w in report.progress.windows(2) {
                assert!(
                    w[1] >= w[0] - 1e-9 * w[0].abs(),
                    "{kind} seed {seed}: {:?}",
                    report.progress
                );
            }
        }
    }
}

#[test]
fn gradients_match_central_differences() {
    let d = 5;
    let data = clustered(200, d, 3, 4);
    for kind in [
        "gaussian",
        "gaussian-diag",
        "gmm:3",
        "gmm-diag:3",
        "grbm:6",
        "grbm-sigma:6",
    ] {
        let e = fit(kind, &data, d);
        for r in [0usize, 11, 57] {
            check_gradient(&e, &data[r * d..(r + 1) * d], 1e-4);
        }
        // Between the clusters, where the responsibilities are soft.
        let mid: Vec<f32> = (0..d).map(|i| 0.5 * (data[i] + data[d + i])).collect();
        check_gradient(&e, &mid, 1e-4);
    }
}

/// A random RBM of `d` visible and `h` hidden units.
fn tiny_rbm(d: usize, h: usize, seed: u64) -> Grbm {
    let mut rng = rng(seed);
    let mut v = |s: f64, n: usize| {
        (0..n)
            .map(|_| (s * rng.normal()) as f32)
            .collect::<Vec<_>>()
    };
    Grbm {
        dim: d,
        hidden: h,
        sigma_mode: SigmaMode::Learned,
        weights: v(0.7, d * h),
        visible_bias: v(1.0, d),
        hidden_bias: v(1.0, h),
        sigma: v(0.3, d).iter().map(|s| 0.6 + s.abs()).collect(),
        log_partition: 0.0,
    }
}

#[test]
#[allow(clippy::needless_range_loop)]
fn grbm_free_energy_is_minus_log_sum_over_hidden_states() {
    let (d, h) = (4, 5);
    let r = tiny_rbm(d, h, 5);
    let x = [0.3f32, -1.2, 0.8, 2.0];
    let energies: Vec<f64> = (0..1u32 << h)
        .map(|s| {
            let hs: Vec<f64> = (0..h).map(|j| ((s >> j) & 1) as f64).collect();
            let mut e = 0.0;
            for i in 0..d {
                let sig = r.sigma[i] as f64;
                e += (x[i] as f64 - r.visible_bias[i] as f64).powi(2) / (2.0 * sig * sig);
                for j in 0..h {
                    e -= x[i] as f64 / sig * r.weights[i * h + j] as f64 * hs[j];
                }
            }
            e - (0..h).map(|j| r.hidden_bias[j] as f64 * hs[j]).sum::<f64>()
        })
        .collect();
    let neg: Vec<f64> = energies.iter().map(|e| -e).collect();
    let want = -log_sum_exp(&neg);
    assert!(
        (r.free_energy(&x) - want).abs() < 1e-10,
        "{} vs {want}",
        r.free_energy(&x)
    );
}

#[test]
fn grbm_partition_function_integrates_the_density() {
    // D = 2: ∫∫ exp(−F(x)) dx by the midpoint rule on a wide grid equals the enumerated Z.
    let r = tiny_rbm(2, 3, 6);
    let exact = r.log_partition_exact().unwrap();
    let (lo, step, n) = (-14.0f64, 0.02f64, 1400);
    let mut terms = Vec::with_capacity(n * n);
    for a in 0..n {
        for b in 0..n {
            let x = [
                (lo + (a as f64 + 0.5) * step) as f32,
                (lo + (b as f64 + 0.5) * step) as f32,
            ];
            terms.push(-r.free_energy(&x));
        }
    }
    let numeric = log_sum_exp(&terms) + 2.0 * step.ln();
    assert!((numeric - exact).abs() < 1e-3, "{numeric} vs {exact}");
    // AIS agrees with the enumeration on a model with more hidden units.
    let r = tiny_rbm(8, 12, 7);
    let exact = r.log_partition_exact().unwrap();
    let ais = r.log_partition_ais(100, 1000, 1);
    assert!((ais - exact).abs() < 0.2, "AIS {ais} vs exact {exact}");
}

#[test]
fn every_kind_saves_and_loads() {
    let d = 4;
    let data = clustered(60, d, 2, 8);
    let dir = std::env::temp_dir().join(format!("glimpse-expert-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for kind in [
        "gaussian",
        "gaussian-diag",
        "gmm:2",
        "gmm-diag:3",
        "grbm:3",
        "grbm-sigma:2",
    ] {
        let e = fit(kind, &data, d);
        let path = dir.join(format!("{kind}.expert").replace(':', "_"));
        e.save(&path).unwrap();
        let back = Expert::load(&path).unwrap();
        assert_eq!(back, e, "{kind}");
        assert_eq!(back.kind().to_string(), kind);
        // Truncation, trailing bytes and a bad magic are named.
        let bytes = e.to_bytes();
        let err = Expert::from_bytes(&bytes[..bytes.len() - 3]).unwrap_err();
        assert!(err.contains("truncated"), "{err}");
        let mut long = bytes.clone();
        long.extend([0, 0, 0, 0]);
        assert!(Expert::from_bytes(&long)
            .unwrap_err()
            .contains("follow the last array"));
        assert!(Expert::from_bytes(&bytes[..20])
            .unwrap_err()
            .contains("truncated"));
        assert!(Expert::from_bytes(b"PK\x03\x04 not an expert")
            .unwrap_err()
            .contains("magic"));
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// An expert's bytes with its header rewritten by `edit`.
fn with_header(e: &Expert, edit: impl Fn(&mut serde_json::Value)) -> Vec<u8> {
    let bytes = e.to_bytes();
    let n = u32::from_le_bytes(bytes[8..12].try_into().unwrap()) as usize;
    let mut h: serde_json::Value = serde_json::from_slice(&bytes[12..12 + n]).unwrap();
    edit(&mut h);
    let text = h.to_string();
    let mut out = bytes[..8].to_vec();
    out.extend((text.len() as u32).to_le_bytes());
    out.extend(text.as_bytes());
    out.extend(&bytes[12 + n..]);
    out
}

#[test]
fn malformed_headers_are_clear_errors() {
    let d = 3;
    let e = fit("gmm-diag:2", &clustered(40, d, 2, 9), d);
    type Edit = Box<dyn Fn(&mut serde_json::Value)>;
    let cases: [(&str, Edit); 5] = [
        (
            "unknown kind 'flow'",
            Box::new(|h| h["kind"] = "flow".into()),
        ),
        ("version 7", Box::new(|h| h["version"] = 7.into())),
        (
            "shape [2, 3]; the header's sizes need [2, 4]",
            Box::new(|h| h["dim"] = 4.into()),
        ),
        (
            "no integer field 'components'",
            Box::new(|h| h["components"] = "two".into()),
        ),
        (
            "unknown covariance 'banded'",
            Box::new(|h| h["covariance"] = "banded".into()),
        ),
    ];
    for (want, edit) in cases {
        let err = Expert::from_bytes(&with_header(&e, edit)).unwrap_err();
        assert!(err.contains(want), "{err}");
    }
    let err = e.check_dim(784).unwrap_err().to_string();
    assert!(
        err.contains("inputs of 3 values") && err.contains("784"),
        "{err}"
    );
    let err = Expert::load("/nonexistent/x.expert")
        .unwrap_err()
        .to_string();
    assert!(err.contains("/nonexistent/x.expert"), "{err}");
}

#[test]
fn kinds_parse_and_print() {
    for k in [
        "gaussian",
        "gaussian-diag",
        "gmm:10",
        "gmm-diag:3",
        "grbm:16",
        "grbm-sigma:256",
    ] {
        assert_eq!(k.parse::<ExpertKind>().unwrap().to_string(), k);
    }
    for bad in ["gmm", "gmm:0", "grbm:x", "flow:3", ""] {
        let err = bad.parse::<ExpertKind>().unwrap_err().to_string();
        assert!(err.contains("gmm-diag:K"), "{err}");
    }
}

#[test]
fn recording_chunks_precisions_and_checks_sizes() {
    let d = 4;
    let e = fit("gmm:5", &clustered(50, d, 5, 10), d);
    let mut profile = DeviceProfile::with_default_limits(KernelFlavor::Registers);
    // Two components' precisions per binding: chunks of 2, 2, 1.
    profile.max_binding = 2 * (d * d * 4) as u64;
    let mut p = Program::new(&profile);
    let x = p.tensor("x", d).unwrap();
    let g = p.tensor("g", d).unwrap();
    let v = p.tensor("v", 1).unwrap();
    e.record_grad_and_log_density(&mut p, x, 1, 0.5, g, Some(v))
        .unwrap();
    let kernels: Vec<&str> = p.passes().iter().map(|s| s.kernel).collect();
    let project = "interpret/expert/mixture_project";
    assert_eq!(kernels.iter().filter(|k| **k == project).count(), 3);
    assert_eq!(kernels.last(), Some(&"interpret/expert/mixture_grad"));
    let err = e
        .record_grad_log_density(&mut p, x, 2, 1.0, g)
        .unwrap_err()
        .to_string();
    assert!(err.contains("holds 4 values; 8 expected"), "{err}");
    let r = fit("grbm:3", &clustered(50, d, 2, 11), d);
    let mut p = Program::new(&profile);
    let (x, g) = (p.tensor("x", d).unwrap(), p.tensor("g", d).unwrap());
    r.record_grad_log_density(&mut p, x, 1, 1.0, g).unwrap();
    assert_eq!(p.pass_count(), 2);
}
