//! Reading inputs and labels: NumPy `.npy` arrays, PNG/JPEG images, and lists of either.

pub mod image;
pub mod inputs;
pub mod npy;

pub use self::image::{load_image, ImageOptions};
pub use self::inputs::{load_inputs, NamedInput};

/// A fresh, empty scratch folder for one test, unique to this process.
#[cfg(test)]
pub(crate) fn test_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("glimpse-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create test folder");
    dir
}
