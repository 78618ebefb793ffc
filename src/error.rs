//! The one error type of glimpse. Every failure a user can cause is a value here, never a panic.

use std::path::PathBuf;

/// Everything that can go wrong in glimpse.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No GPU adapter (not even a software one) could be found.
    #[error("no GPU adapter found for backend(s) {backends}: install a Vulkan driver (on Debian: `apt-get install mesa-vulkan-drivers`, Mesa 25 from backports for speed) or pick another backend with GLIMPSE_BACKEND=vulkan|metal|dx12|gl")]
    NoAdapter { backends: String },
    /// The adapter refused to create a device.
    #[error("could not create a GPU device: {0}")]
    Device(String),
    /// A wgpu validation or out-of-memory error caught by an error scope.
    #[error("GPU error during {during}: {message}")]
    Gpu { during: String, message: String },
    /// A WGSL shader failed to parse or validate.
    #[error("shader {name} is invalid: {message}")]
    Shader { name: String, message: String },
    /// A file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The ONNX file is malformed or describes something impossible.
    #[error("invalid ONNX model: {0}")]
    Onnx(String),
    /// The ONNX model uses an operator (or an operator form) glimpse does not support.
    #[error("unsupported operator {op} at node '{node}': {why}. Supported: {supported}")]
    UnsupportedOp {
        op: String,
        node: String,
        why: String,
        supported: String,
    },
    /// The graph is not well formed (dangling input, cycle, shape mismatch).
    #[error("invalid graph: {0}")]
    Graph(String),
    /// A tensor or input has the wrong shape.
    #[error("shape mismatch: {0}")]
    Shape(String),
    /// An input contains NaN or infinity.
    #[error("input {what} contains a non-finite value at index {index}")]
    NonFinite { what: String, index: usize },
    /// A buffer would exceed what the device can bind.
    #[error("tensor '{tensor}' needs {bytes} bytes per batch item but the device binds at most {limit} bytes per storage buffer; use a smaller input or a device with a larger max_storage_buffer_binding_size")]
    TooLarge {
        tensor: String,
        bytes: u64,
        limit: u64,
    },
    /// A bad option or argument.
    #[error("{0}")]
    Invalid(String),
    /// An image could not be decoded or encoded.
    #[error("image {}: {message}", path.display())]
    Image { path: PathBuf, message: String },
    /// A .npy file is malformed or has an unsupported dtype.
    #[error("npy {}: {message}", path.display())]
    Npy { path: PathBuf, message: String },
}

/// Result with glimpse's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// Wraps an I/O error with the path it concerns.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }
}
