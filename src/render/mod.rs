//! Turning relevance into pictures: Zennit's colour maps, heatmaps, overlays and PNG output.

pub mod cmap;

pub use cmap::{Cmap, CMAP_NAMES};
