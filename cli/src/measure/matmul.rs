//! The device's ceiling: the engine's own matmul kernel on square matrices, timed like every
//! other plan.

use glimpse::error::Result;
use glimpse::gpu::Executable;
use glimpse::gpu::Gpu;
use glimpse::plan::matmul_program;

/// A planned `n³` matmul with seeded inputs, ready to be run repeatedly.
pub struct MatmulBench {
    plan: Executable,
    n: usize,
}

impl MatmulBench {
    /// Plans an `n³` matmul (`n` rounded up to a multiple of 4) on `gpu` in its flavor.
    pub fn new(gpu: &Gpu, n: usize) -> Result<Self> {
        let n = n.div_ceil(4).max(1) * 4;
        let (program, [ta, tb, _]) = matmul_program(&gpu.profile(), n, n, n)?;
        let plan = Executable::standalone(gpu, program)?;
        let values: Vec<f32> = (0..n * n)
            .map(|i| ((i * 7919) % 13) as f32 / 13.0 - 0.5)
            .collect();
        plan.write(ta, &values)?;
        plan.write(tb, &values)?;
        Ok(MatmulBench { plan, n })
    }

    /// Runs the matmul once and waits for it.
    pub fn run(&mut self) -> Result<()> {
        self.plan.run(&[]).map(|_| ())
    }

    /// Floating-point operations of one run (`2n³`).
    pub fn flops(&self) -> f64 {
        2.0 * (self.n as f64).powi(3)
    }
}
