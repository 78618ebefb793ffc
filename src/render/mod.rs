//! Turning relevance into pictures: Zennit's colour maps, heatmaps, overlays and PNG output.

pub mod cmap;
pub mod grid;
pub mod heatmap;
pub mod upsample;

pub use cmap::{Cmap, CMAP_NAMES};
pub use grid::{range_image, tile};
pub use heatmap::{
    channel_sum, colorize, heatmap, input_image, mask_input, normalize, overlay, save_png,
    HeatmapOptions, Norm,
};
pub use upsample::upsample;
