//! Options shared by the subcommands: how inputs are read.

use std::path::PathBuf;

use clap::Args;

use glimpse::error::{Error, Result};
use glimpse::io::image::ImageOptions;

/// How images become tensors (ignored for .npy inputs, which are fed exactly).
#[derive(Args, Clone, Debug, Default, serde::Serialize)]
pub struct InputArgs {
    /// Resize images to HxW (default: the model's input size).
    #[arg(long, value_name = "HxW")]
    pub size: Option<String>,
    /// Read images as one luminance channel (automatic for 1-channel models).
    #[arg(long)]
    pub grayscale: bool,
    /// Pixel values 0..255 map linearly to this range.
    #[arg(long, value_name = "LO,HI", default_value = "0,1")]
    pub range: String,
    /// Per-channel mean subtracted after the range mapping.
    #[arg(long, value_name = "M[,M,M]")]
    pub mean: Option<String>,
    /// Per-channel standard deviation divided by after the mean.
    #[arg(long, value_name = "S[,S,S]")]
    pub std: Option<String>,
    /// Feed channels as BGR instead of RGB.
    #[arg(long)]
    pub bgr: bool,
    /// Input files: PNG/JPEG images, .npy tensors (N,C,H,W or C,H,W) or folders of them.
    #[arg(required = true, value_name = "INPUTS")]
    pub inputs: Vec<PathBuf>,
}

/// Parses comma-separated floats.
pub fn floats(s: &str, what: &str) -> Result<Vec<f32>> {
    s.split(',')
        .map(|v| {
            v.trim()
                .parse::<f32>()
                .map_err(|_| Error::Invalid(format!("--{what}: '{v}' is not a number")))
        })
        .collect()
}

impl InputArgs {
    /// The image options these arguments describe.
    pub fn image_options(&self) -> Result<ImageOptions> {
        let size = match &self.size {
            None => None,
            Some(s) => {
                let (h, w) = s.split_once(['x', 'X']).ok_or_else(|| {
                    Error::Invalid(format!("--size {s}: expected HxW, e.g. 224x224"))
                })?;
                let p = |v: &str| {
                    v.trim()
                        .parse::<u32>()
                        .map_err(|_| Error::Invalid(format!("--size {s}: '{v}' is not a size")))
                };
                Some((p(h)?, p(w)?))
            }
        };
        let range = floats(&self.range, "range")?;
        if range.len() != 2 {
            return Err(Error::Invalid(format!(
                "--range {}: expected LO,HI",
                self.range
            )));
        }
        let opts = ImageOptions {
            size,
            grayscale: self.grayscale,
            range: (range[0], range[1]),
            mean: self
                .mean
                .as_deref()
                .map(|m| floats(m, "mean"))
                .transpose()?
                .unwrap_or_default(),
            std: self
                .std
                .as_deref()
                .map(|m| floats(m, "std"))
                .transpose()?
                .unwrap_or_default(),
            bgr: self.bgr,
        };
        opts.validate()?;
        Ok(opts)
    }
}
