//! Replays what the fuzzers (scripts/fuzz.sh) keep: every crash, timeout or out-of-memory input
//! they ever found (tests/fuzz_regressions/TARGET/, one file per bug, committed with its fix) and
//! the hand-made seeds, through the same checks the fuzz targets make — a result, never a
//! panic; what reads as f32 writes back and reads again bit for bit. The shipped models and every
//! cut of one must load or fail with a message, without the fuzzer's build.

use std::fs;
use std::path::{Path, PathBuf};

use glimpse::io::npy::{f32_from_bytes, f32_to_bytes, i64_from_bytes};
use glimpse::model::{load_model_from_bytes, LoadOptions};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The files of a folder (none when it is absent: a target that never crashed has no folder).
fn files(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out: Vec<PathBuf> = entries
        .map(|e| e.expect("a readable folder entry").path())
        .filter(|p| p.is_file() && p.extension().is_none_or(|e| e != "md"))
        .collect();
    out.sort();
    out
}

/// The npy target's checks; whether the bytes read as f32.
fn check_npy(data: &[u8], name: &Path) -> bool {
    let read = f32_from_bytes(data, name);
    if let Ok(t) = &read {
        assert_eq!(t.shape.iter().product::<usize>(), t.data.len(), "{name:?}");
        let bytes = f32_to_bytes(t).expect("a tensor just read writes back");
        let again = f32_from_bytes(&bytes, name).expect("what was written reads back");
        assert_eq!(again.shape, t.shape, "{name:?}");
        assert!(
            again
                .data
                .iter()
                .zip(&t.data)
                .all(|(a, b)| a.to_bits() == b.to_bits()),
            "{name:?} does not read back bit for bit"
        );
    }
    if let Err(e) = &read {
        assert!(!e.to_string().is_empty(), "{name:?}: an empty error");
    }
    if let Ok(t) = i64_from_bytes(data, name) {
        assert_eq!(t.shape.iter().product::<usize>(), t.data.len(), "{name:?}");
    }
    read.is_ok()
}

/// The onnx target's checks; whether the bytes load.
fn check_onnx(data: &[u8], name: &Path) -> bool {
    match load_model_from_bytes(data, &LoadOptions::default()) {
        Ok(graph) => {
            let _ = graph.macs_per_item();
            let _ = graph.output_len();
            true
        }
        Err(e) => {
            assert!(!e.to_string().is_empty(), "{name:?}: an empty error");
            false
        }
    }
}

#[test]
fn every_npy_crash_and_seed_reads_or_errors() {
    let seeds = files(&root().join("fuzz/seeds/npy_reader"));
    // The seeds cover every dtype the reader takes and the layouts it refuses.
    assert!(seeds.len() >= 10, "the npy seeds are missing: {seeds:?}");
    let refused: Vec<_> = seeds
        .iter()
        .filter(|f| !check_npy(&fs::read(f).unwrap(), f))
        .map(|f| f.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    let read = seeds.len() - refused.len();
    // Big-endian data and Fortran order may be refused (by name); the other dtypes read.
    assert!(
        read >= 8,
        "only {read} of the seeds read; refused {refused:?}"
    );
    for f in files(&root().join("tests/fuzz_regressions/npy_reader")) {
        check_npy(&fs::read(&f).unwrap(), &f);
    }
}

#[test]
fn every_onnx_crash_replays_and_cut_models_are_errors() {
    for f in files(&root().join("tests/fuzz_regressions/onnx_loader")) {
        check_onnx(&fs::read(&f).unwrap(), &f);
    }
    for name in [
        "ops_zoo.onnx",
        "mlp_breast_cancer.onnx",
        "convtranspose_attrs.onnx",
    ] {
        let path = root().join("assets/models").join(name);
        let bytes = fs::read(&path).unwrap();
        assert!(check_onnx(&bytes, &path), "{name} does not load");
        // Every cut of the file is a clear error (a cut protobuf is truncated mid-field).
        let step = (bytes.len() / 97).max(1);
        for n in (0..bytes.len()).step_by(step) {
            assert!(
                !check_onnx(&bytes[..n], &path),
                "{name} cut to {n} of {} bytes loaded",
                bytes.len()
            );
        }
    }
}
