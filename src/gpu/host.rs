//! The machine's CPU by name, for `glimpse info` and every benchmark header: on a software
//! driver (lavapipe) it is the device, and its speed depends strongly on which CPU it is.

/// The CPU's model name and its hardware threads, e.g. "AMD EPYC 7B13 (2 threads)".
pub fn host_cpu() -> String {
    let threads = std::thread::available_parallelism().map_or(0, |n| n.get());
    let name = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|text| {
            text.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_else(|| std::env::consts::ARCH.to_string());
    format!("{name} ({threads} threads)")
}
