//! Turning relevance into pictures: Zennit's colour maps, heatmaps, overlays and PNG output.

pub mod cmap;
pub mod upsample;

pub use cmap::{Cmap, CMAP_NAMES};
pub use upsample::upsample;
