//! Measurement shared by the criterion benches (`benches/`) and `glimpse bench`: the matmul
//! ceiling and kernel rates per flavor, forward and LRP timings of a model, and the tables.

pub mod first;
pub mod interpret;
pub mod kernels;
pub mod matmul;
pub mod methods;
pub mod metrics;
pub mod models;
pub mod pipeline;
pub mod soak;
pub mod table;
pub mod timing;

pub use first::{first_table, measure_first, FirstRow};
pub use interpret::{interpret_table, measure_interpret, InterpretRow, AM_STEPS};
pub use kernels::{ceiling_gflops, measure_kernels, KernelRow};
pub use matmul::MatmulBench;
pub use methods::{measure_methods, method_table, MethodRow};
pub use metrics::{measure_metrics, metric_table, MetricRow};
pub use models::{named_model, BenchModel, DEFAULT_MODELS};
pub use pipeline::{measure_pipeline, photo_folder, pipeline_table, PipelineRow};
pub use timing::{bench_composite, bench_input, measure, ForwardBench, LrpBench, Row};
