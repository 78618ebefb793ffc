//! The contract between Rust and WGSL, checked with no GPU: every kernel parses and validates
//! with naga, every `.wgsl` file is registered, every kernel's WGSL `Params` struct has its Rust
//! twin's fields (names, order, offsets, sizes, types), generated kernels are not stale, and the
//! README's operator table is the one the registrations generate.

use std::path::Path;

use glimpse::gpu::kernels::{reflect_params, source, validate, KERNELS, PRELUDE};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn every_kernel_validates_with_naga() {
    assert!(
        validate("prelude", PRELUDE).is_err(),
        "the prelude alone lacks the generated constants"
    );
    for k in KERNELS {
        let src = source(k.path).unwrap();
        if let Err(e) = validate(k.path, &src) {
            panic!("{e}");
        }
    }
}

#[test]
fn every_params_struct_matches_its_rust_twin() {
    let mut wrong = Vec::new();
    for k in KERNELS {
        let wgsl = reflect_params(k.path, &source(k.path).unwrap()).unwrap();
        let rust: Vec<(String, usize, usize, String)> = k
            .params
            .iter()
            .map(|f| (f.name.to_string(), f.offset, f.size, f.ty.to_string()))
            .collect();
        let wgsl: Vec<(String, usize, usize, String)> = wgsl
            .into_iter()
            .map(|m| (m.name, m.offset, m.size, m.ty))
            .collect();
        if rust != wgsl {
            wrong.push(format!("{}:\n  Rust {rust:?}\n  WGSL {wgsl:?}", k.path));
        }
    }
    assert!(
        wrong.is_empty(),
        "Rust params vs WGSL Params:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn a_params_mismatch_is_caught() {
    let src = "struct Params { n: u32, eps: u32 }\n@group(0) @binding(0) var<uniform> p: Params;\n@compute @workgroup_size(1) fn main() { let a = p.n; }";
    let m = reflect_params("test", src).unwrap();
    assert_eq!(m[1].name, "eps");
    assert_eq!(
        m[1].ty, "u32",
        "a float passed as bits would not match an f32 field"
    );
}

#[test]
fn every_wgsl_file_is_registered() {
    let shaders = root().join("shaders");
    let mut files = Vec::new();
    collect(&shaders, &shaders, &mut files);
    assert!(files.len() >= KERNELS.len(), "found {files:?}");
    for f in files {
        if f == "prelude" {
            continue;
        }
        assert!(
            KERNELS.iter().any(|k| k.path == f),
            "shaders/{f}.wgsl is referenced by nothing: register it in src/gpu/kernels.rs or delete it"
        );
    }
}

#[test]
fn a_broken_shader_is_a_clear_error() {
    let err = validate("broken", "fn main( {").unwrap_err().to_string();
    assert!(err.contains("broken"), "{err}");
}

/// The generated kernels and the tile sizes the Rust side launches them with are what
/// scripts/gen_kernels.py writes (needs python3, standard library only).
#[test]
fn generated_kernels_are_not_stale() {
    let out = std::process::Command::new("python3")
        .arg(root().join("scripts/gen_kernels.py"))
        .arg("--check")
        .output()
        .expect("python3 runs scripts/gen_kernels.py --check");
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The README's table of ONNX operators is the one the registrations generate.
#[test]
fn the_readme_operator_table_is_generated() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let table = glimpse::onnx::markdown_table();
    assert!(
        readme.contains(&table),
        "README.md's operator table is stale; replace it with:\n{table}"
    );
    let header = table.lines().next().unwrap();
    assert_eq!(
        readme.matches(header).count(),
        1,
        "README.md has more than one operator table"
    );
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
