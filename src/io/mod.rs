//! Reading inputs and labels: NumPy `.npy` arrays, PNG/JPEG images, and lists of either.

pub mod npy;
