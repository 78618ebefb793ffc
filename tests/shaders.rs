//! Every WGSL kernel parses and validates with naga (no GPU needed), and every .wgsl file
//! under shaders/ is referenced by the kernel registry.

use glimpse::gpu::kernels::{source, validate, KERNELS, PRELUDE};
use std::path::Path;

#[test]
fn every_kernel_validates_with_naga() {
    validate("prelude", PRELUDE).expect("prelude");
    for (name, _) in KERNELS {
        let src = source(name).unwrap();
        if let Err(e) = validate(name, &src) {
            panic!("{e}");
        }
    }
}

#[test]
fn every_wgsl_file_is_referenced() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("shaders");
    let mut files = Vec::new();
    collect(&root, &root, &mut files);
    assert!(files.len() >= KERNELS.len(), "found {files:?}");
    for f in files {
        if f == "prelude" {
            continue;
        }
        assert!(
            KERNELS.iter().any(|(n, _)| *n == f),
            "shaders/{f}.wgsl is referenced by nothing: add it to the registry in src/gpu/kernels.rs or delete it"
        );
    }
}

#[test]
fn a_broken_shader_is_a_clear_error() {
    let err = validate("broken", "fn main( {").unwrap_err().to_string();
    assert!(err.contains("broken"), "{err}");
}

fn collect(root: &Path, dir: &Path, out: &mut Vec<String>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            collect(root, &path, out);
        } else if path.extension().is_some_and(|e| e == "wgsl") {
            let rel = path.strip_prefix(root).unwrap().with_extension("");
            out.push(rel.to_string_lossy().replace('\\', "/"));
        }
    }
}
