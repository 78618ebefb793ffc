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
    /// A wgpu validation or internal error caught by an error scope or the device's handler.
    #[error("GPU error during {during}: {message}")]
    Gpu { during: String, message: String },
    /// The device reported that it ran out of memory.
    #[error("the GPU ran out of memory during {during}: {message}; use a smaller --batch (or a device with more memory)")]
    OutOfMemory { during: String, message: String },
    /// The device was lost (driver reset, GPU removed, `destroy`): nothing more can run on it.
    #[error("the GPU device was lost during {during} ({reason}); it cannot be used again: start a new process (a batch run continues with --resume)")]
    DeviceLost { during: String, reason: String },
    /// A plan would allocate more device memory than the device has left; nothing was allocated.
    #[error("{what} needs {} of GPU memory, but {source_of_limit} allows {} and glimpse already holds {} there; use a smaller --batch (or raise GLIMPSE_MEMORY_LIMIT if the limit is yours)", bytes(*needs), bytes(*device), bytes(*in_use))]
    DeviceMemory {
        what: String,
        needs: u64,
        device: u64,
        in_use: u64,
        source_of_limit: String,
    },
    /// A batch of a batch run failed; the batches before it were finished and recorded.
    #[error("batch {index} ({count} inputs, {first} to {last}) failed: {source}")]
    Batch {
        index: usize,
        count: usize,
        first: String,
        last: String,
        #[source]
        source: Box<Error>,
    },
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

/// Bytes as a person reads them, with the exact count: "37.5 MiB (39321600 bytes)".
pub fn bytes(n: u64) -> String {
    match n {
        0..1024 => format!("{n} bytes"),
        _ => format!("{} ({n} bytes)", short_bytes(n)),
    }
}

/// Bytes in the largest binary unit below them: "37.5 MiB".
pub fn short_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["bytes", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit + 1 < UNITS.len() {
        v /= 1024.0;
        unit += 1;
    }
    match unit {
        0 => format!("{n} bytes"),
        _ => format!("{v:.1} {}", UNITS[unit]),
    }
}

impl Error {
    /// Wraps an I/O error with the path it concerns.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }
}
