use std::path::Path;

use serde_json::Value;

use super::*;

/// Zennit's reference values, written by scripts/zennit_palettes.py.
fn zennit_reference() -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/zennit_palettes.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn palette_of(v: &Value) -> Vec<[u8; 3]> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|rgb| {
            let c: Vec<u8> = rgb
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_u64().unwrap() as u8)
                .collect();
            [c[0], c[1], c[2]]
        })
        .collect()
}

#[test]
fn builtin_palettes_match_zennit_exactly() {
    let reference = zennit_reference();
    let palettes = reference["palettes"].as_object().unwrap();
    let names: Vec<&str> = palettes.keys().map(|k| k.as_str()).collect();
    let mut sorted_ours = CMAP_NAMES.to_vec();
    sorted_ours.sort();
    assert_eq!(
        names, sorted_ours,
        "the same set of names as zennit.image.CMAPS"
    );
    for (name, want) in palettes {
        let ours = Cmap::from_name(name).unwrap().palette(1.0);
        assert_eq!(ours.to_vec(), palette_of(want), "palette {name}");
    }
}

#[test]
fn palettes_at_other_levels_match_zennit() {
    for case in zennit_reference()["levels"].as_array().unwrap() {
        let name = case["cmap"].as_str().unwrap();
        let level = case["level"].as_f64().unwrap();
        let ours = Cmap::from_name(name).unwrap().palette(level);
        assert_eq!(
            ours.to_vec(),
            palette_of(&case["palette"]),
            "{name} at level {level}"
        );
    }
}

#[test]
fn compiled_sources_match_zennit() {
    for case in zennit_reference()["sources"].as_array().unwrap() {
        let source = case["source"].as_str().unwrap();
        let ours = Cmap::from_source(source).unwrap().palette(1.0);
        assert_eq!(
            ours.to_vec(),
            palette_of(&case["palette"]),
            "source '{source}'"
        );
    }
}

#[test]
fn sources_zennit_rejects_are_rejected() {
    for source in zennit_reference()["invalid"].as_array().unwrap() {
        let source = source.as_str().unwrap();
        match Cmap::from_source(source) {
            Err(Error::Invalid(m)) => assert!(m.contains("colour map"), "{m}"),
            other => panic!("'{source}' should fail: {other:?}"),
        }
    }
    for source in ["f00,0f0\u{1}", "f00,\u{e9}", "f00,0f0,8"] {
        assert!(Cmap::from_source(source).is_err(), "{source}");
    }
    // Python's \s also covers these separators and Unicode spaces.
    assert!(Cmap::from_source("f00,\u{1c}0f0\u{a0}").is_ok());
}

#[test]
fn unknown_name_lists_valid_names() {
    let err = Cmap::from_name("viridis").unwrap_err().to_string();
    assert!(err.contains("viridis"), "{err}");
    for name in CMAP_NAMES {
        assert!(err.contains(name), "{err} lacks {name}");
    }
}

#[test]
fn stops_and_continuous_values() {
    let c = Cmap::from_name("coldnhot").unwrap();
    assert_eq!(c.name(), "coldnhot");
    // 0ff, 00f, 80:000, f00, ff0, fff: unindexed colours spread between 0x80 and 0xff.
    assert_eq!(c.indices, vec![0, 64, 128, 170, 212, 255, 256]);
    assert_eq!(c.map(0.0), [0.0, 1.0, 1.0]);
    assert_eq!(c.map(128.0 / 255.0), [0.0, 0.0, 0.0]);
    assert_eq!(c.map(2.0), [1.0, 1.0, 1.0]);
    assert_eq!(c.map(-1.0), [0.0, 1.0, 1.0]);
    let bwr = Cmap::from_name("bwr").unwrap();
    let mid = bwr.map(0.25);
    assert!(
        (mid[0] - 63.75 / 128.0).abs() < 1e-12 && mid[2] == 1.0,
        "{mid:?}"
    );
    let short = Cmap::from_source("c:f80, abcdef").unwrap();
    assert_eq!(short.indices, vec![0, 0xcc, 255, 256]);
    assert_eq!(short.colors[0], [0xff, 0x88, 0x00]);
    assert_eq!(short.colors[2], [0xab, 0xcd, 0xef]);
}
