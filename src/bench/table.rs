//! The tables benchmarks print, as Markdown (they go into BENCHMARKS.md as they are).

use std::fmt::Write;

use super::kernels::{KernelRow, CEILING_N};
use super::measure::Row;
use crate::gpu::KernelFlavor;

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
        "| model | batch | per submission | forward ms | images/s | GFLOP/s | ÷ ceiling | LRP ms | LRP ÷ forward |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for r in rows {
        let (lrp_ms, ratio) = match (r.lrp, r.lrp_ratio()) {
            (Some(l), Some(q)) => (format!("{:.1}", l.as_secs_f64() * 1e3), format!("{q:.2}")),
            _ => ("–".into(), "–".into()),
        };
        let _ = writeln!(
            s,
            "| {} | {} | {} | {:.1} | {:.1} | {:.2} | {:.3} | {lrp_ms} | {ratio} |",
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
