//! The GPU tests, in one binary sharing one device: kernels against f64 references, LRP and the
//! gradient family against the references and the peers' golden files, programs and the device
//! model. No adapter is a failure, never a skip.

mod adjoint_kernels;
mod attention;
mod common;
mod conv_transpose;
mod device_faults;
mod elementwise;
mod evaluate;
mod experts;
mod filtering;
mod fixtures_gpu;
mod forward_kernels;
mod golden_captum;
mod golden_convnext_swin;
mod golden_crp;
mod golden_crp_atlas;
mod golden_faithfulness;
mod golden_families;
mod golden_interpret;
mod golden_lucid;
mod golden_models;
mod golden_occlusion;
mod golden_quantus;
mod golden_robustness;
mod golden_vit;
mod golden_zennit;
mod golden_zennit_zoo;
mod gradient_methods;
mod interpret;
mod interpret_lucid;
mod large_weights;
mod layer_norm;
mod lrp_hand_cases;
mod lrp_rules;
mod method_errors;
mod products;
mod programs;
mod robustness;
mod select;
mod translate;
mod tuning;
mod windows;
mod winograd;
