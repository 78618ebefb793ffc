//! Held-out quality of the experts on MNIST: fit on the first 400 digits of
//! assets/data/mnist_test_x.npy, report the mean log p per item on the last 112, with fitting
//! times. With `--timing`, also time fits on 10,000 items (the 512 digits tiled, each copy with
//! a little seeded noise).
//!
//! `cargo run --release --example expert_quality [-- --timing]`

use std::time::Instant;

use glimpse::interpret::expert::{Expert, FitOptions};

fn main() -> glimpse::Result<()> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/assets/data/mnist_test_x.npy");
    let x = glimpse::io::npy::read_f32(path)?;
    let d = 784;
    let (train, test) = x.data.split_at(400 * d);
    println!("| expert | train mean log p | held-out mean log p | fit (s) |");
    println!("| --- | ---: | ---: | ---: |");
    for kind in [
        "gaussian",
        "gaussian-diag",
        "gmm:1",
        "gmm-diag:1",
        "gmm:10",
        "gmm-diag:10",
        "grbm:16",
        "grbm:256",
    ] {
        let start = Instant::now();
        let opts = FitOptions::default();
        let (e, report) = Expert::fit(kind.parse()?, train, d, &opts, &mut |_, _| {})?;
        let secs = start.elapsed().as_secs_f64();
        let held_out = e.mean_log_density(test)?;
        println!(
            "| {kind} | {:.1} | {held_out:.1} | {secs:.1} |",
            report.log_likelihood
        );
    }
    if std::env::args().any(|a| a == "--timing") {
        let mut state = 1u64;
        let big: Vec<f32> = (0..10_000 * d)
            .map(|i| {
                state = state
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                let noise = ((state >> 40) as f32 / (1u64 << 24) as f32 - 0.5) * 0.04;
                (x.data[i % x.data.len()] + noise).clamp(0.0, 1.0)
            })
            .collect();
        println!("\n10,000 × 784:");
        for (kind, iterations) in [
            ("gaussian", None),
            ("gmm-diag:10", Some(20)),
            ("gmm:10", Some(5)),
            ("grbm:256", Some(5)),
        ] {
            let start = Instant::now();
            let opts = FitOptions {
                iterations,
                ..FitOptions::default()
            };
            let (_, report) = Expert::fit(kind.parse()?, &big, d, &opts, &mut |_, _| {})?;
            println!(
                "{kind} ({} iterations): {:.1} s, train mean log p {:.1}",
                report.progress.len(),
                start.elapsed().as_secs_f64(),
                report.log_likelihood
            );
        }
    }
    Ok(())
}
