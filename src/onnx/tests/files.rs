//! Loading from files: a missing file, external tensor data.

use std::path::{Path, PathBuf};

use super::builder::B;
use crate::error::Error;
use crate::model::Op;
use crate::onnx::proto::{DataLocation, DataType, StringStringEntryProto, TensorProto};
use crate::onnx::{from_bytes, load};

fn temp_dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("glimpse_onnx_{tag}_{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn missing_file_is_io_error_naming_the_path() {
    let p = Path::new("/nonexistent/dir/model.onnx");
    let e = load(p).unwrap_err();
    assert!(matches!(&e, Error::Io { path, .. } if path == p), "{e}");
    assert!(e.to_string().contains("/nonexistent/dir/model.onnx"));
}

fn external_model(location: &str) -> Vec<u8> {
    let w = TensorProto {
        name: "W".into(),
        dims: vec![2, 1, 1, 1],
        data_type: DataType::Float as i32,
        data_location: DataLocation::External as i32,
        external_data: vec![
            StringStringEntryProto {
                key: "location".into(),
                value: location.into(),
            },
            StringStringEntryProto {
                key: "offset".into(),
                value: "4".into(),
            },
            StringStringEntryProto {
                key: "length".into(),
                value: "8".into(),
            },
        ],
        ..Default::default()
    };
    B::new(&[1, 1, 1])
        .init_t(w)
        .node("Conv", "conv", &["x", "W"], &["y"], vec![])
        .bytes()
}

#[test]
fn external_data_through_load() {
    let dir = temp_dir("ext");
    let mut data = vec![0u8; 4];
    data.extend([3.0f32, -1.0].iter().flat_map(|v| v.to_le_bytes()));
    std::fs::write(dir.join("weights.bin"), &data).unwrap();
    std::fs::write(dir.join("ok.onnx"), external_model("weights.bin")).unwrap();
    std::fs::write(dir.join("missing.onnx"), external_model("gone.bin")).unwrap();
    std::fs::write(dir.join("escape.onnx"), external_model("../weights.bin")).unwrap();
    std::fs::write(dir.join("abs.onnx"), external_model("/etc/hostname")).unwrap();

    let g = load(&dir.join("ok.onnx")).unwrap();
    let Op::Conv2d(c) = &g.nodes[1].op else {
        panic!()
    };
    assert_eq!(c.weight.data, [3.0, -1.0]);
    let e = load(&dir.join("missing.onnx")).unwrap_err();
    assert!(
        matches!(&e, Error::Io { path, .. } if path.ends_with("gone.bin")),
        "{e}"
    );
    let e = load(&dir.join("escape.onnx")).unwrap_err().to_string();
    assert!(e.contains("'..'"), "{e}");
    let e = load(&dir.join("abs.onnx")).unwrap_err().to_string();
    assert!(e.contains("absolute"), "{e}");
    // From bytes without a directory, external data cannot be found.
    let e = from_bytes(&external_model("weights.bin"), None)
        .unwrap_err()
        .to_string();
    assert!(e.contains("external"), "{e}");
    std::fs::remove_dir_all(&dir).unwrap();
}
