//! The tables benchmarks print, as Markdown (they go into BENCHMARKS.md as they are).

use std::fmt::Write;

use super::kernels::{KernelRow, CEILING_N};
use super::timing::Row;
use glimpse::gpu::KernelFlavor;

/// Kernel rates per flavor; `current` marks the device's own.
pub fn kernel_table(rows: &[KernelRow], current: KernelFlavor) -> String {
    let mut s = format!(
        "| kernels | matmul {CEILING_N}³ GFLOP/s | VGG conv3 (3136×256×2304) GFLOP/s |\n|---|---:|---:|\n"
    );
    for r in rows {
        let mark = if r.flavor == current { " (used)" } else { "" };
        let _ = writeln!(
            s,
            "| {}{mark} | {:.1} | {:.1} |",
            r.flavor.name(),
            r.matmul_gflops,
            r.conv_gflops
        );
    }
    s
}

/// Forward and LRP numbers per model and batch; `ceiling` is the matmul's GFLOP/s.
pub fn model_table(rows: &[Row], ceiling: f64) -> String {
    let mut s = String::from(
        "| model | batch | per submission | forward ms | images/s | GFLOP/s | ÷ ceiling | LRP ms | LRP ÷ forward | floor | ÷ floor |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for r in rows {
        let (lrp_ms, ratio) = match (r.lrp, r.lrp_ratio()) {
            (Some(l), Some(q)) => (format!("{:.1}", l.as_secs_f64() * 1e3), format!("{q:.2}")),
            _ => ("–".into(), "–".into()),
        };
        let (floor, over) = match (r.floor, r.lrp_ratio()) {
            (Some(f), Some(q)) => (format!("{f:.2}"), format!("{:.2}", q / f)),
            (Some(f), None) => (format!("{f:.2}"), "–".into()),
            _ => ("–".into(), "–".into()),
        };
        let _ = writeln!(
            s,
            "| {} | {} | {} | {:.1} | {:.1} | {:.2} | {:.3} | {lrp_ms} | {ratio} | {floor} | {over} |",
            r.model,
            r.batch,
            r.per_submission,
            r.forward.as_secs_f64() * 1e3,
            r.images_per_s(),
            r.gflops(),
            r.gflops() / ceiling,
        );
    }
    s
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn rows_show_throughput_rate_ceiling_share_and_lrp_ratio() {
        let row = Row {
            model: "m".into(),
            batch: 4,
            per_submission: 2,
            macs_per_item: 1_000_000_000,
            forward: Duration::from_millis(200),
            lrp: Some(Duration::from_millis(500)),
            floor: Some(2.0),
        };
        // 4 items / 0.2 s = 20 images/s; 2·1e9·4 / 0.2 s = 40 GFLOP/s, half a ceiling of 80.
        let t = model_table(std::slice::from_ref(&row), 80.0);
        assert!(
            t.contains("| m | 4 | 2 | 200.0 | 20.0 | 40.00 | 0.500 | 500.0 | 2.50 | 2.00 | 1.25 |"),
            "{t}"
        );
        let t = model_table(&[Row { lrp: None, ..row }], 80.0);
        assert!(t.contains("| – | – | 2.00 | – |"), "{t}");
    }

    #[test]
    fn kernel_rows_mark_the_flavor_in_use() {
        let rows = [
            KernelRow {
                flavor: KernelFlavor::Registers,
                matmul_gflops: 18.0,
                conv_gflops: 9.0,
            },
            KernelRow {
                flavor: KernelFlavor::Subgroup,
                matmul_gflops: 70.0,
                conv_gflops: 50.0,
            },
        ];
        let t = kernel_table(&rows, KernelFlavor::Subgroup);
        assert!(t.contains("| registers | 18.0 | 9.0 |"), "{t}");
        assert!(t.contains("| subgroup (used) | 70.0 | 50.0 |"), "{t}");
    }
}
