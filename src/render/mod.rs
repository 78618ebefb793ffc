//! Turning relevance into pictures: Zennit's colour maps, heatmaps, overlays, evaluation plots
//! and PNG output.

pub mod bars;
pub mod cmap;
pub mod grid;
pub mod heatmap;
pub mod plot;
pub mod sheet;
pub mod upsample;

pub use bars::bar_chart;
pub use cmap::{Cmap, CMAP_NAMES};
pub use grid::{range_image, tile};
pub use heatmap::{
    channel_sum, colorize, heatmap, input_image, mask_input, normalize, overlay, save_png,
    HeatmapOptions, Norm,
};
pub use plot::{line_plot, Labels, Series};
pub use sheet::{contact_sheet, SheetEntry};
pub use upsample::upsample;
