//! The kernel registry: every WGSL file, embedded, and a pipeline cache keyed by
//! (kernel, entry point, override constants).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::Gpu;
use crate::error::{Error, Result};
use crate::explain::backward;
use crate::layers;
use crate::plan::{self, wgsl_constants, KernelInfo, WgslEnum};

/// Helpers every kernel may use; prepended to each source.
pub const PRELUDE: &str = include_str!("../../shaders/prelude.wgsl");

/// Every kernel of the engine: its path, source and parameter struct. A `.wgsl` file missing
/// here fails the test suite, as does a `Params` struct that disagrees with its Rust twin.
pub const KERNELS: &[KernelInfo] = &[
    layers::conv2d::FORWARD.info(),
    layers::conv2d::FORWARD_SUBGROUP.info(),
    layers::conv2d::DEPTHWISE.info(),
    layers::conv2d::VJP.info(),
    layers::conv2d::VJP_REGISTERS.info(),
    layers::conv2d::VJP_SUBGROUP.info(),
    layers::conv2d::DEPTHWISE_VJP.info(),
    layers::conv2d::WINOGRAD_INPUT.info(),
    layers::conv2d::WINOGRAD_GEMM.info(),
    layers::conv2d::WINOGRAD_OUTPUT.info(),
    layers::conv_transpose::FORWARD.info(),
    layers::conv_transpose::VJP.info(),
    layers::dense::FORWARD.info(),
    layers::dense::FORWARD_SUBGROUP.info(),
    layers::dense::VJP.info(),
    layers::dense::VJP_SUBGROUP.info(),
    layers::elementwise::KERNEL.info(),
    layers::batch_norm::FORWARD.info(),
    layers::layer_norm::KERNEL.info(),
    layers::pool::FORWARD.info(),
    layers::pool::GLOBAL_FORWARD.info(),
    layers::pool::VJP.info(),
    layers::add::FORWARD.info(),
    layers::mul::KERNEL.info(),
    layers::matmul::KERNEL.info(),
    layers::constant::KERNEL.info(),
    layers::strided::KERNEL.info(),
    layers::softmax::FORWARD.info(),
    layers::softmax::VJP.info(),
    layers::scale::SCALE.info(),
    backward::SEED.info(),
    backward::DIVIDE.info(),
    backward::ITEM_SUMS.info(),
    crate::explain::engine::COMBINE.info(),
    plan::MATMUL.info(),
    plan::MATMUL_SUBGROUP.info(),
    plan::ASCENT.info(),
    crate::interpret::OBJECTIVE.info(),
    crate::interpret::OBJECTIVE_GRAD.info(),
    crate::interpret::PENALTIES.info(),
    crate::interpret::UPDATE.info(),
    crate::interpret::STEP.info(),
    crate::interpret::TRANSFORM.info(),
    crate::interpret::BLUR.info(),
    crate::interpret::FOURIER.info(),
    crate::interpret::DIVERSITY.info(),
    crate::evaluate::PERTURB.info(),
    crate::evaluate::SCORE.info(),
    crate::interpret::expert::MIXTURE_PROJECT.info(),
    crate::interpret::expert::MIXTURE_LOGITS.info(),
    crate::interpret::expert::MIXTURE_LSE.info(),
    crate::interpret::expert::MIXTURE_GRAD.info(),
    crate::interpret::expert::MIXTURE_GRAD_DIAG.info(),
    crate::interpret::expert::GRBM_HIDDEN.info(),
    crate::interpret::expert::GRBM_DENSITY.info(),
    crate::interpret::expert::GRBM_GRAD.info(),
];

/// The WGSL constants of every mode enum shared with the kernels.
fn enum_constants() -> String {
    use crate::explain::backward::{Mask, ZConst};
    use crate::explain::engine::SampleMap;
    use crate::layers::{Factor, Func, GradMode};
    fn of<E: WgslEnum>() -> String {
        wgsl_constants(E::PREFIX, E::VARIANTS)
    }
    [
        of::<Factor>(),
        of::<GradMode>(),
        of::<Func>(),
        of::<Mask>(),
        of::<ZConst>(),
        of::<SampleMap>(),
        of::<crate::interpret::ObjectiveMode>(),
    ]
    .concat()
}

/// The full source of a kernel: generated constants, prelude, its file, its generated part.
pub fn source(name: &str) -> Result<String> {
    let k = KERNELS
        .iter()
        .find(|k| k.path == name)
        .ok_or_else(|| Error::Shader {
            name: name.into(),
            message: "no such kernel".into(),
        })?;
    let generated = k.generated.map(|g| g()).unwrap_or_default();
    Ok(format!(
        "// Generated constants (src/gpu/kernels.rs)\n{}\n{PRELUDE}\n{}\n{generated}",
        enum_constants(),
        k.source
    ))
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

/// One member of a kernel's WGSL `Params` struct as naga reflects it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WgslMember {
    /// Its name.
    pub name: String,
    /// Byte offset.
    pub offset: usize,
    /// Bytes.
    pub size: usize,
    /// Its scalar type (`u32`, `f32`, `i32`), or what else it is.
    pub ty: String,
}

/// The members of the uniform struct bound at group 0, binding 0 of WGSL `src` (a kernel's
/// `Params`), reflected with naga: what its Rust twin must repeat.
pub fn reflect_params(name: &str, src: &str) -> Result<Vec<WgslMember>> {
    let module = naga::front::wgsl::parse_str(src).map_err(|e| Error::Shader {
        name: name.into(),
        message: e.emit_to_string(src),
    })?;
    let mut layouter = naga::proc::Layouter::default();
    layouter
        .update(module.to_ctx())
        .map_err(|e| Error::Shader {
            name: name.into(),
            message: e.to_string(),
        })?;
    let var = module
        .global_variables
        .iter()
        .map(|(_, v)| v)
        .find(|v| {
            v.space == naga::AddressSpace::Uniform
                && v.binding
                    .as_ref()
                    .is_some_and(|b| b.group == 0 && b.binding == 0)
        })
        .ok_or_else(|| Error::Shader {
            name: name.into(),
            message: "no uniform at group 0, binding 0".into(),
        })?;
    let naga::TypeInner::Struct { members, .. } = &module.types[var.ty].inner else {
        return Err(Error::Shader {
            name: name.into(),
            message: "the uniform at binding 0 is not a struct".into(),
        });
    };
    Ok(members
        .iter()
        .map(|m| {
            let inner = &module.types[m.ty].inner;
            let ty = match inner {
                naga::TypeInner::Scalar(s) => match (s.kind, s.width) {
                    (naga::ScalarKind::Uint, 4) => "u32".to_string(),
                    (naga::ScalarKind::Sint, 4) => "i32".to_string(),
                    (naga::ScalarKind::Float, 4) => "f32".to_string(),
                    other => format!("{other:?}"),
                },
                other => format!("{other:?}"),
            };
            WgslMember {
                name: m.name.clone().unwrap_or_default(),
                offset: m.offset as usize,
                size: layouter[m.ty].size as usize,
                ty,
            }
        })
        .collect())
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
