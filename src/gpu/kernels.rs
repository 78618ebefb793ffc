//! The kernel registry: every WGSL file, embedded, and a pipeline cache keyed by
//! (kernel, entry point, override constants).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::Gpu;
use crate::error::{Error, Result};

/// Helpers every kernel may use; prepended to each source.
pub const PRELUDE: &str = include_str!("../../shaders/prelude.wgsl");

macro_rules! kernels {
    ($($name:literal),* $(,)?) => {
        /// Every kernel: its path under `shaders/` (without `.wgsl`) and its source.
        pub const KERNELS: &[(&str, &str)] = &[
            $(($name, include_str!(concat!("../../shaders/", $name, ".wgsl")))),*
        ];
    };
}

kernels!(
    "layers/conv2d_depthwise",
    "layers/conv2d_depthwise_transpose",
    "layers/conv2d_forward",
    "layers/conv2d_forward_subgroup",
    "layers/conv2d_transpose",
    "layers/conv2d_transpose_registers",
    "layers/conv2d_transpose_subgroup",
    "layers/dense_forward",
    "layers/dense_forward_subgroup",
    "layers/dense_transpose",
    "layers/dense_transpose_subgroup",
    "layers/clip_forward",
    "layers/batch_norm_forward",
    "layers/pool_forward",
    "layers/global_avg_pool_forward",
    "layers/add_forward",
    "layers/concat_forward",
    "layers/softmax_forward",
    "layers/pool_transpose",
    "layers/relu_backward",
    "layers/matmul",
    "layers/matmul_subgroup",
    "relevance/stabilized_divide",
    "relevance/multiply_accumulate",
    "relevance/slice_accumulate",
    "relevance/item_sums",
    "relevance/seed",
    "gradient/sample_moments",
);

/// The full source of a kernel: prelude + file.
pub fn source(name: &str) -> Result<String> {
    KERNELS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, src)| format!("{PRELUDE}\n{src}"))
        .ok_or_else(|| Error::Shader {
            name: name.into(),
            message: "no such kernel".into(),
        })
}

/// Parses and validates WGSL with naga, as wgpu would.
pub fn validate(name: &str, src: &str) -> Result<()> {
    let module = naga::front::wgsl::parse_str(src).map_err(|e| Error::Shader {
        name: name.into(),
        message: e.emit_to_string(src),
    })?;
    naga::valid::Validator::new(
        naga::valid::ValidationFlags::all(),
        naga::valid::Capabilities::all(),
    )
    .validate(&module)
    .map_err(|e| Error::Shader {
        name: name.into(),
        message: e.emit_to_string(src),
    })?;
    Ok(())
}

type Key = (String, String, Vec<(String, u64)>);

/// Compiled shader modules and pipelines, built on first use.
#[derive(Default)]
pub struct KernelCache {
    modules: Mutex<HashMap<String, Arc<wgpu::ShaderModule>>>,
    pipelines: Mutex<HashMap<Key, Arc<wgpu::ComputePipeline>>>,
}

impl Gpu {
    /// The pipeline for `kernel`'s `entry`, specialised by override `constants`; compiled once.
    pub fn pipeline(
        &self,
        kernel: &str,
        entry: &str,
        constants: &[(&str, f64)],
    ) -> Result<Arc<wgpu::ComputePipeline>> {
        let key: Key = (
            kernel.into(),
            entry.into(),
            constants
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_bits()))
                .collect(),
        );
        if let Some(p) = lock(&self.kernels.pipelines).get(&key) {
            return Ok(p.clone());
        }
        let module = self.module(kernel)?;
        let pipeline = self.scoped(&format!("compiling {kernel}::{entry}"), || {
            self.device
                .create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
                    label: Some(kernel),
                    layout: None,
                    module: &module,
                    entry_point: Some(entry),
                    compilation_options: wgpu::PipelineCompilationOptions {
                        constants,
                        zero_initialize_workgroup_memory: false,
                    },
                    cache: None,
                })
        })?;
        let pipeline = Arc::new(pipeline);
        lock(&self.kernels.pipelines).insert(key, pipeline.clone());
        Ok(pipeline)
    }

    fn module(&self, kernel: &str) -> Result<Arc<wgpu::ShaderModule>> {
        if let Some(m) = lock(&self.kernels.modules).get(kernel) {
            return Ok(m.clone());
        }
        let src = source(kernel)?;
        let module = self.scoped(&format!("loading shader {kernel}"), || {
            self.device
                .create_shader_module(wgpu::ShaderModuleDescriptor {
                    label: Some(kernel),
                    source: wgpu::ShaderSource::Wgsl(src.into()),
                })
        })?;
        let module = Arc::new(module);
        lock(&self.kernels.modules).insert(kernel.into(), module.clone());
        Ok(module)
    }
}

/// Locks a mutex, recovering from poisoning (the caches hold no invariants a panic could break).
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
