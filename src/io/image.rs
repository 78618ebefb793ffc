//! PNG and JPEG images to `[C, H, W]` f32 tensors, with resizing and per-channel
//! normalisation as torchvision's `Resize` + `ToTensor` + `Normalize` would do.

use std::io::Cursor;
use std::path::Path;

use image::imageops::{self, FilterType};
use image::{DynamicImage, ImageBuffer, ImageReader};

use crate::error::{Error, Result};
use crate::model::Tensor;

/// The resampling filter used by [`load_image`]: a triangle (tent) filter whose support
/// widens when shrinking, i.e. antialiased bilinear as PIL's `BILINEAR` (torchvision's
/// default for `Resize` on PIL images). It never overshoots, so values stay in range.
pub const RESIZE_FILTER: FilterType = FilterType::Triangle;

/// Rec. 601 luminance weights (as PIL's `convert("L")` and torchvision's `Grayscale`).
pub const LUMA_WEIGHTS: [f32; 3] = [0.299, 0.587, 0.114];

/// How an image file becomes a tensor.
#[derive(Clone, Debug, PartialEq)]
pub struct ImageOptions {
    /// Resize to `(height, width)` before anything else; `None` keeps the file's size.
    pub size: Option<(u32, u32)>,
    /// One luminance channel instead of three RGB channels.
    pub grayscale: bool,
    /// Pixel values 0..=255 map linearly onto `range.0..=range.1`.
    pub range: (f32, f32),
    /// Per-channel mean subtracted after `range`; empty for none, one value for all channels.
    pub mean: Vec<f32>,
    /// Per-channel divisor applied after `mean`; empty for none, one value for all channels.
    pub std: Vec<f32>,
    /// Channel order BGR instead of RGB (as Caffe-style models expect).
    pub bgr: bool,
}

impl Default for ImageOptions {
    /// No resizing, RGB, range (0, 1), no normalisation.
    fn default() -> Self {
        ImageOptions {
            size: None,
            grayscale: false,
            range: (0.0, 1.0),
            mean: Vec::new(),
            std: Vec::new(),
            bgr: false,
        }
    }
}

impl ImageOptions {
    /// The usual ImageNet preprocessing: RGB in (0, 1), normalised with torchvision's
    /// mean (0.485, 0.456, 0.406) and std (0.229, 0.224, 0.225).
    pub fn imagenet() -> Self {
        ImageOptions {
            mean: vec![0.485, 0.456, 0.406],
            std: vec![0.229, 0.224, 0.225],
            ..ImageOptions::default()
        }
    }

    /// Number of channels the tensor will have: 1 when `grayscale`, else 3.
    pub fn channels(&self) -> usize {
        if self.grayscale {
            1
        } else {
            3
        }
    }

    /// Checks the options: finite range, a positive size, mean and std of a usable length,
    /// finite, and std never zero.
    pub fn validate(&self) -> Result<()> {
        let c = self.channels();
        if !(self.range.0.is_finite() && self.range.1.is_finite()) {
            return Err(Error::Invalid(format!(
                "image range {:?} must be finite",
                self.range
            )));
        }
        if let Some((h, w)) = self.size {
            if h == 0 || w == 0 {
                return Err(Error::Invalid(format!(
                    "image size {h}x{w} (height x width) must be positive"
                )));
            }
        }
        for (name, values) in [("mean", &self.mean), ("std", &self.std)] {
            if !(values.is_empty() || values.len() == 1 || values.len() == c) {
                return Err(Error::Invalid(format!(
                    "{name} has {} values but the image has {c} channel{}: give 1 or {c}",
                    values.len(),
                    if c == 1 { "" } else { "s" }
                )));
            }
            if let Some(i) = values.iter().position(|v| !v.is_finite()) {
                return Err(Error::Invalid(format!(
                    "{name}[{i}] = {} is not finite",
                    values[i]
                )));
            }
        }
        if let Some(i) = self.std.iter().position(|&v| v == 0.0) {
            return Err(Error::Invalid(format!(
                "std[{i}] is 0: normalising would divide by zero"
            )));
        }
        Ok(())
    }
}

/// Loads a PNG or JPEG file (format sniffed from its bytes) as a `[C, H, W]` tensor.
/// Alpha is dropped; 16-bit images keep their precision.
pub fn load_image(path: impl AsRef<Path>, opts: &ImageOptions) -> Result<Tensor<f32>> {
    let path = path.as_ref();
    opts.validate()?;
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let image = decode(&bytes, path)?;
    image_to_tensor(&image, opts, path)
}

/// Decodes image bytes; `origin` names the file in errors.
pub fn decode(bytes: &[u8], origin: &Path) -> Result<DynamicImage> {
    let image_err = |message: String| Error::Image {
        path: origin.to_path_buf(),
        message,
    };
    ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| image_err(e.to_string()))?
        .decode()
        .map_err(|e| image_err(format!("cannot decode: {e}")))
}

/// Converts a decoded image to a `[C, H, W]` tensor following `opts`; `origin` names the
/// image in errors.
pub fn image_to_tensor(
    image: &DynamicImage,
    opts: &ImageOptions,
    origin: &Path,
) -> Result<Tensor<f32>> {
    opts.validate()?;
    if image.width() == 0 || image.height() == 0 {
        return Err(Error::Image {
            path: origin.to_path_buf(),
            message: "image is empty".into(),
        });
    }
    // Work in f32 so that resizing does not round to 8 bits.
    let mut planes = if opts.grayscale && !image.color().has_color() {
        let gray = resized(image.to_luma32f(), opts.size);
        vec![gray.into_raw()]
    } else {
        let rgb = resized(image.to_rgb32f(), opts.size);
        let raw = rgb.as_raw();
        let planes: Vec<Vec<f32>> = (0..3)
            .map(|c| raw.iter().skip(c).step_by(3).copied().collect())
            .collect();
        if opts.grayscale {
            let [r, g, b] = LUMA_WEIGHTS;
            let luma = (0..planes[0].len())
                .map(|i| r * planes[0][i] + g * planes[1][i] + b * planes[2][i])
                .collect();
            vec![luma]
        } else {
            planes
        }
    };
    let (h, w) = match opts.size {
        Some(size) => size,
        None => (image.height(), image.width()),
    };
    let (lo, hi) = opts.range;
    for (c, plane) in planes.iter_mut().enumerate() {
        let mean = per_channel(&opts.mean, c, 0.0);
        let std = per_channel(&opts.std, c, 1.0);
        for v in plane.iter_mut() {
            *v = (lo + *v * (hi - lo) - mean) / std;
        }
    }
    if opts.bgr && planes.len() == 3 {
        planes.reverse();
    }
    let c = planes.len();
    let data: Vec<f32> = planes.concat();
    let tensor = Tensor::new(vec![c, h as usize, w as usize], data)?;
    tensor.check_finite(&origin.display().to_string())?;
    Ok(tensor)
}

/// The value of a per-channel option: empty → `default`, one value → broadcast.
fn per_channel(values: &[f32], c: usize, default: f32) -> f32 {
    match values {
        [] => default,
        [v] => *v,
        vs => vs[c],
    }
}

/// Resizes to `(height, width)` with [`RESIZE_FILTER`] when a size is given.
fn resized<P>(image: ImageBuffer<P, Vec<f32>>, size: Option<(u32, u32)>) -> ImageBuffer<P, Vec<f32>>
where
    P: image::Pixel<Subpixel = f32> + 'static,
{
    match size {
        Some((h, w)) if (w, h) != image.dimensions() => {
            imageops::resize(&image, w, h, RESIZE_FILTER)
        }
        _ => image,
    }
}

#[cfg(test)]
mod tests;
