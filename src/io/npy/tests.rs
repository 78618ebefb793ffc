use std::path::{Path, PathBuf};

use super::*;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/npy")
        .join(name)
}

/// A `.npy` file from a raw header string and data bytes (version 1.0, unpadded).
fn with_header(header: &str, data: &[u8]) -> Vec<u8> {
    let mut out = MAGIC.to_vec();
    out.extend_from_slice(&[1, 0]);
    out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(data);
    out
}

fn header(descr: &str, shape: &str) -> String {
    format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}\n")
}

/// The message of an [`Error::Npy`], checking it names `origin`.
fn npy_message(r: Result<impl std::fmt::Debug>, origin: &str) -> String {
    match r {
        Err(Error::Npy { path, message }) => {
            assert_eq!(path, Path::new(origin));
            message
        }
        other => panic!("expected Error::Npy, got {other:?}"),
    }
}

fn origin() -> &'static Path {
    Path::new("test.npy")
}

#[test]
fn round_trip_shapes() {
    for shape in [vec![], vec![0], vec![3], vec![2, 3], vec![1, 2, 3, 4]] {
        let n: usize = shape.iter().product();
        let data: Vec<f32> = (0..n).map(|i| i as f32 * 0.37 - 1.5).collect();
        let t = Tensor::new(shape, data).unwrap();
        let bytes = f32_to_bytes(&t).unwrap();
        let header_end = 10 + u16::from_le_bytes([bytes[8], bytes[9]]) as usize;
        assert_eq!(header_end % 64, 0, "data is 64-byte aligned");
        assert_eq!(bytes[header_end - 1], b'\n');
        assert_eq!(f32_from_bytes(&bytes, origin()).unwrap(), t);
    }
}

#[test]
fn round_trip_file() {
    let dir = crate::io::test_dir("npy-round-trip");
    let path = dir.join("t.npy");
    let t = Tensor::new(vec![2, 2], vec![1.0, -0.0, f32::MAX, f32::MIN_POSITIVE]).unwrap();
    write_f32(&path, &t).unwrap();
    let back = read_f32(&path).unwrap();
    assert_eq!(back.shape, t.shape);
    assert_eq!(
        back.data.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
        t.data.iter().map(|v| v.to_bits()).collect::<Vec<_>>()
    );
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn writer_matches_numpy_bytes() {
    let t = Tensor::new(vec![2, 3], vec![-1.0, -0.5, 0.0, 0.5, 1.0, 1.5]).unwrap();
    let numpy = fs::read(fixture("f4.npy")).unwrap();
    assert_eq!(f32_to_bytes(&t).unwrap(), numpy);
}

#[test]
fn write_rejects_inconsistent_tensor() {
    let t = Tensor {
        shape: vec![2, 2],
        data: vec![1.0],
    };
    assert!(matches!(f32_to_bytes(&t), Err(Error::Shape(_))));
}

#[test]
fn reads_numpy_files_of_every_dtype() {
    let f = |name: &str| read_f32(fixture(name)).unwrap();
    let t = f("f4.npy");
    assert_eq!(t.shape, vec![2, 3]);
    assert_eq!(t.data, vec![-1.0, -0.5, 0.0, 0.5, 1.0, 1.5]);
    assert_eq!(f("f8.npy").data, vec![0.0, 0.25, 0.5, 0.75, 1.0, 1.25]);
    assert_eq!(f("f2.npy").data, vec![-2.5, -1.5, -0.5, 0.5, 1.5, 2.5]);
    assert_eq!(
        f("i8.npy").data,
        vec![-2000.0, -1000.0, 0.0, 1000.0, 2000.0, 3000.0]
    );
    assert_eq!(f("i4.npy").data, vec![-3.0, -2.0, -1.0, 0.0, 1.0, 2.0]);
    assert_eq!(
        f("u1.npy").data,
        vec![0.0, 50.0, 100.0, 150.0, 200.0, 250.0]
    );
    let s = f("scalar.npy");
    assert_eq!((s.shape.clone(), s.data.clone()), (vec![], vec![7.25]));
    for v in ["v2.npy", "v3.npy"] {
        let t = f(v);
        assert_eq!((t.shape, t.data), (vec![3], vec![1.5, -2.0, 3.25]), "{v}");
    }
    let b = f("batch.npy");
    assert_eq!(b.shape, vec![2, 1, 2, 2]);
    assert_eq!(b.data[7], 0.875);
}

#[test]
fn reads_labels_as_i64() {
    let g = |name: &str| read_i64(fixture(name)).unwrap().data;
    assert_eq!(g("i8.npy"), vec![-2000, -1000, 0, 1000, 2000, 3000]);
    assert_eq!(g("i4.npy"), vec![-3, -2, -1, 0, 1, 2]);
    assert_eq!(g("u1.npy"), vec![0, 50, 100, 150, 200, 250]);
}

#[test]
fn i64_rejects_fractional_floats() {
    // f4.npy holds -0.5: not a label.
    let m = npy_message(
        read_i64(fixture("f4.npy")),
        fixture("f4.npy").to_str().unwrap(),
    );
    assert!(m.contains("integer labels"), "{m}");
    // Whole floats are fine.
    let bytes = f32_to_bytes(&Tensor::new(vec![2], vec![3.0, -1.0]).unwrap()).unwrap();
    assert_eq!(i64_from_bytes(&bytes, origin()).unwrap().data, vec![3, -1]);
    let bytes = f32_to_bytes(&Tensor::new(vec![1], vec![f32::NAN]).unwrap()).unwrap();
    assert!(i64_from_bytes(&bytes, origin()).is_err());
}

#[test]
fn small_integer_types_from_bytes() {
    let bytes = with_header(&header("|i1", "(3,)"), &[0xff, 0x00, 0x7f]);
    assert_eq!(
        f32_from_bytes(&bytes, origin()).unwrap().data,
        vec![-1.0, 0.0, 127.0]
    );
    assert_eq!(
        i64_from_bytes(&bytes, origin()).unwrap().data,
        vec![-1, 0, 127]
    );
    // Other spellings NumPy accepts for byte-sized and native little-endian types.
    let bytes = with_header(&header(">u1", "(1,)"), &[9]);
    assert_eq!(f32_from_bytes(&bytes, origin()).unwrap().data, vec![9.0]);
    let bytes = with_header(&header("=f4", "(1,)"), &2.5f32.to_le_bytes());
    assert_eq!(f32_from_bytes(&bytes, origin()).unwrap().data, vec![2.5]);
}

#[test]
fn f16_conversion() {
    assert_eq!(f16_to_f32(0x3c00), 1.0);
    assert_eq!(f16_to_f32(0xc000), -2.0);
    assert_eq!(f16_to_f32(0x7bff), 65504.0);
    assert_eq!(f16_to_f32(0x0001), 2f32.powi(-24));
    assert_eq!(f16_to_f32(0xfc00), f32::NEG_INFINITY);
    assert!(f16_to_f32(0x7e00).is_nan());
}

#[test]
fn python2_long_suffix_and_double_quotes() {
    let h = "{\"descr\": \"<f4\", \"fortran_order\": False, \"shape\": (1L, 2L)}";
    let bytes = with_header(h, &[0; 8]);
    assert_eq!(f32_from_bytes(&bytes, origin()).unwrap().shape, vec![1, 2]);
}

#[test]
fn error_fortran_order() {
    let p = fixture("fortran.npy");
    let m = npy_message(read_f32(&p), p.to_str().unwrap());
    assert!(m.contains("Fortran"), "{m}");
}

#[test]
fn error_big_endian() {
    let p = fixture("big_endian.npy");
    let m = npy_message(read_f32(&p), p.to_str().unwrap());
    assert!(m.contains("big-endian"), "{m}");
}

#[test]
fn error_missing_file() {
    match read_f32("/nonexistent/glimpse/x.npy") {
        Err(Error::Io { path, .. }) => assert_eq!(path, Path::new("/nonexistent/glimpse/x.npy")),
        other => panic!("{other:?}"),
    }
}

#[test]
fn error_bad_magic_and_version() {
    let m = npy_message(f32_from_bytes(b"PK\x03\x04 not npy", origin()), "test.npy");
    assert!(m.contains("magic"), "{m}");
    let m = npy_message(f32_from_bytes(b"", origin()), "test.npy");
    assert!(m.contains("magic"), "{m}");
    let mut bytes = with_header(&header("<f4", "(1,)"), &[0; 4]);
    bytes[6] = 4;
    let m = npy_message(f32_from_bytes(&bytes, origin()), "test.npy");
    assert!(m.contains("version 4.0"), "{m}");
    let m = npy_message(
        f32_from_bytes(b"\x93NUMPY\x02\x00\x01\x00", origin()),
        "test.npy",
    );
    assert!(m.contains("truncated"), "{m}");
}

#[test]
fn error_truncated_header_and_data() {
    let full = with_header(&header("<f4", "(2, 3)"), &[0; 24]);
    let h_end = full.len() - 24;
    let m = npy_message(f32_from_bytes(&full[..h_end - 5], origin()), "test.npy");
    assert!(m.contains("truncated"), "{m}");
    let m = npy_message(
        f32_from_bytes(&full[..full.len() - 1], origin()),
        "test.npy",
    );
    assert!(m.contains("needs 24 bytes") && m.contains("23"), "{m}");
    let mut long = full.clone();
    long.push(0);
    let m = npy_message(f32_from_bytes(&long, origin()), "test.npy");
    assert!(m.contains("trailing"), "{m}");
}

#[test]
fn error_shape_larger_than_data_is_checked_before_allocating() {
    // 2^40 floats would need 4 TiB; this must fail fast, not allocate.
    let bytes = with_header(&header("<f8", "(1048576, 1048576)"), &[0; 16]);
    let m = npy_message(f32_from_bytes(&bytes, origin()), "test.npy");
    assert!(m.contains("needs"), "{m}");
}

#[test]
fn error_absurd_dims() {
    let huge = format!("({}, {})", usize::MAX, usize::MAX);
    let m = npy_message(
        f32_from_bytes(&with_header(&header("<f4", &huge), &[]), origin()),
        "test.npy",
    );
    assert!(m.contains("overflows"), "{m}");
    let m = npy_message(
        f32_from_bytes(
            &with_header(&header("<f4", &format!("({}, 4)", usize::MAX / 2)), &[]),
            origin(),
        ),
        "test.npy",
    );
    assert!(m.contains("overflows"), "{m}");
    let m = npy_message(
        f32_from_bytes(
            &with_header(&header("<f4", "(99999999999999999999999,)"), &[]),
            origin(),
        ),
        "test.npy",
    );
    assert!(m.contains("absurdly large"), "{m}");
    let m = npy_message(
        f32_from_bytes(&with_header(&header("<f4", "(-1,)"), &[]), origin()),
        "test.npy",
    );
    assert!(m.contains("non-negative"), "{m}");
    let many = format!("({})", vec!["1"; 100].join(", "));
    let m = npy_message(
        f32_from_bytes(&with_header(&header("<f4", &many), &[0; 4]), origin()),
        "test.npy",
    );
    assert!(m.contains("dimensions"), "{m}");
}

#[test]
fn error_non_utf8_header() {
    let mut bytes = with_header(&header("<f4", "(1,)"), &[0; 4]);
    bytes[12] = 0xff;
    let m = npy_message(f32_from_bytes(&bytes, origin()), "test.npy");
    assert!(m.contains("UTF-8"), "{m}");
}

#[test]
fn error_malformed_headers() {
    let cases = [
        ("{'descr': '<f4', 'shape': (1,)}", "lacks 'fortran_order'"),
        ("{'descr': '<f4', 'fortran_order': False}", "lacks 'shape'"),
        ("{'fortran_order': False, 'shape': (1,)}", "lacks 'descr'"),
        (
            "{'descr': '<f4', 'fortran_order': Maybe, 'shape': (1,)}",
            "Maybe",
        ),
        (
            "{'descr': '<f4', 'fortran_order': 'no', 'shape': (1,)}",
            "True or False",
        ),
        (
            "{'descr': '<f4', 'fortran_order': False, 'shape': 1}",
            "unexpected '1'",
        ),
        (
            "{'descr': '<f4', 'fortran_order': False, 'shape': (1,), 'x': 1}",
            "'x'",
        ),
        (
            "{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (1,)}",
            "twice",
        ),
        (
            "{'descr': '<f4, 'fortran_order': False, 'shape': (1,)}",
            "malformed header",
        ),
        (
            "{'descr': '<f4', 'fortran_order': False, 'shape': (1,",
            "shape entry ''",
        ),
        (
            "{'descr': '<f4', 'fortran_order': False, 'shape': (1,)} junk",
            "after the header",
        ),
        (
            "{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (1,)}",
            "structured",
        ),
        (
            "{'descr': '<c8', 'fortran_order': False, 'shape': (1,)}",
            "unsupported dtype '<c8'",
        ),
        (
            "{'descr': '<U3', 'fortran_order': False, 'shape': (1,)}",
            "unsupported dtype",
        ),
        (
            "{'descr': '', 'fortran_order': False, 'shape': (1,)}",
            "unsupported dtype",
        ),
        (
            "{'descr': '<f4', 'fortran_order': False, 'shape': (1,), ",
            "expected a string",
        ),
        ("'descr'", "expected '{'"),
        (
            "{'descr': 'é', 'fortran_order': False, 'shape': (1,)}",
            "unsupported dtype",
        ),
    ];
    for (h, want) in cases {
        let bytes = with_header(h, &[0; 8]);
        let m = npy_message(f32_from_bytes(&bytes, origin()), "test.npy");
        assert!(m.contains(want), "header {h}: message '{m}' lacks '{want}'");
    }
}

#[test]
fn error_display_names_file() {
    let e = f32_from_bytes(b"nope", Path::new("dir/labels.npy")).unwrap_err();
    assert!(e.to_string().contains("dir/labels.npy"), "{e}");
}

#[test]
fn fuzz_prefixes_never_panic() {
    let bytes = fs::read(fixture("v3.npy")).unwrap();
    for n in 0..bytes.len() {
        assert!(f32_from_bytes(&bytes[..n], origin()).is_err());
        assert!(i64_from_bytes(&bytes[..n], origin()).is_err());
    }
    // Flip every byte of the header: errors or values, never a panic.
    for i in 0..bytes.len() {
        let mut b = bytes.clone();
        b[i] ^= 0xa5;
        let _ = f32_from_bytes(&b, origin());
    }
}
