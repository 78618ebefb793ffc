//! The ONNX loader from bytes: protobuf decoding, the import (every operator mapping, shape
//! inference, validation) and the default canonizers (BatchNorm folding) — what
//! `glimpse --model M.onnx` runs before anything reaches the GPU. Any input must give `Ok` or
//! `Err`, never a panic, a hang or an allocation the bytes do not back.
#![no_main]

use glimpse::model::{load_model_from_bytes, LoadOptions};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(graph) = load_model_from_bytes(data, &LoadOptions::default()) {
        // What the planner and `glimpse bench` read of a loaded graph first.
        let _ = graph.macs_per_item();
        let _ = graph.output_len();
    }
});
