//! The `.npy` reader from bytes: the prefix, the header dictionary, the dtype and the shape
//! checked against the bytes present, then the conversion to f32 and to i64 labels. Any input
//! must give `Ok` or `Err`, never a panic or an allocation the bytes do not back; what is read
//! as f32 must survive a write and a second read.
#![no_main]

use std::path::Path;

use glimpse::io::npy::{f32_from_bytes, f32_to_bytes, i64_from_bytes};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let origin = Path::new("fuzz.npy");
    if let Ok(t) = f32_from_bytes(data, origin) {
        assert_eq!(t.shape.iter().product::<usize>(), t.data.len());
        let bytes = f32_to_bytes(&t).expect("a tensor just read writes back");
        let again = f32_from_bytes(&bytes, origin).expect("what was written reads back");
        assert_eq!(again.shape, t.shape);
        assert!(again
            .data
            .iter()
            .zip(&t.data)
            .all(|(a, b)| a.to_bits() == b.to_bits()));
    }
    if let Ok(t) = i64_from_bytes(data, origin) {
        assert_eq!(t.shape.iter().product::<usize>(), t.data.len());
    }
});
