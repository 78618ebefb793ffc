//! What `glimpse explain` writes per input: the map as .npy (and a CAM's raw map), for image
//! models a heatmap, an overlay and the masked input as PNG, and one summary line.

use std::path::{Path, PathBuf};

use glimpse::error::Result;
use glimpse::explain::pool::Pooling;
use glimpse::io::inputs::InputItem;
use glimpse::render::bar_chart;
use glimpse::render::cmap::Cmap;
use glimpse::render::heatmap::{
    channels_first, heatmap, input_image, mask_input, overlay, save_png, HeatmapOptions,
};
use glimpse::{Explanation, Tensor};
use image::RgbImage;

use crate::run::atomic;

/// Item `i` of a batch tensor `[N, ...]`.
pub fn item(t: &Tensor, i: usize) -> Result<Tensor> {
    let shape = t.shape[1..].to_vec();
    let d: usize = shape.iter().product();
    Tensor::new(shape, t.data[i * d..(i + 1) * d].to_vec())
}

/// Where and how to write.
pub struct Writer<'a> {
    pub out: &'a Path,
    pub cmap: &'a Cmap,
    pub bgr: bool,
    pub method: &'a str,
    /// `--pool` (its text and the pooling), written as JSON, a bar chart and in the summary.
    pub pool: Option<(&'a str, &'a Pooling)>,
    /// Names of an `[F]` input's features (`--features`).
    pub features: Option<&'a [String]>,
    /// The backward pass starts at an inner node (`--start`): its weighting has no class.
    pub inner_start: bool,
    /// The start node's relevance is given (`--init`): the map sums to Σ init, not to the
    /// score, so no conservation error is written.
    pub given_start: bool,
}

impl Writer<'_> {
    fn path(&self, stem: &str, suffix: &str, ext: &str) -> PathBuf {
        self.out.join(format!("{stem}{suffix}.{ext}"))
    }

    fn npy(&self, stem: &str, suffix: &str, t: &Tensor) -> Result<()> {
        atomic::write_with(&self.path(stem, suffix, "npy"), |tmp| {
            glimpse::io::npy::write_f32(tmp, t)
        })
    }

    fn png(&self, stem: &str, suffix: &str, image: &RgbImage) -> Result<()> {
        atomic::write_with(&self.path(stem, suffix, "png"), |tmp| save_png(tmp, image))
    }

    /// Writes explanation `i` of input `k` of the batch `x` (each file atomically, named with
    /// `tag` after the input's stem); returns its summary line.
    pub fn item(
        &self,
        input_item: &InputItem,
        x: &Tensor,
        k: usize,
        e: &Explanation,
        i: usize,
        tag: &str,
    ) -> Result<serde_json::Value> {
        let name = &input_item.name;
        let map = item(&e.map, i)?;
        let input = item(x, k)?;
        let stem = format!("{}{tag}", input_item.output_stem());
        self.npy(&stem, "", &map)?;
        if let Some(cam) = &e.cam {
            self.npy(&stem, "_raw", &item(&cam.raw, i)?)?;
        }
        let pooled = match self.pool {
            Some((spec, pooling)) => {
                let parts = pooling.pool(&map.data, &map.shape, self.features);
                let bars: Vec<(String, f64)> = parts
                    .iter()
                    .map(|p| (p.name.clone(), p.relevance))
                    .collect();
                let title = format!("{} relevance of {name}, pooled by {spec}", self.method);
                self.png(&stem, "_pool", &bar_chart(&bars, &title)?)?;
                let json = serde_json::json!({
                    "input": name,
                    "pool": spec,
                    "parts": parts.iter().map(|p| serde_json::json!({"name": p.name, "relevance": p.relevance})).collect::<Vec<_>>(),
                });
                let text = serde_json::to_string_pretty(&json).expect("JSON values serialise");
                atomic::write_bytes(
                    &self.path(&stem, "_pool", "json"),
                    format!("{text}\n").as_bytes(),
                )?;
                Some(parts)
            }
            None => None,
        };
        if map.shape.len() == 1 {
            // A feature vector: its picture is the per-feature bar chart.
            let parts = Pooling::Channel.pool(&map.data, &map.shape, self.features);
            let bars: Vec<(String, f64)> =
                parts.into_iter().map(|p| (p.name, p.relevance)).collect();
            let title = format!("{} relevance of {name}", self.method);
            self.png(&stem, "", &bar_chart(&bars, &title)?)?;
        }
        if map.shape.len() == 3 {
            // Pictures of a channels-last model's input are drawn channels first.
            let (map, input) = (channels_first(&map), channels_first(&input));
            let opts = HeatmapOptions {
                cmap: self.cmap.clone(),
                ..HeatmapOptions::default()
            };
            let heat = heatmap(&map, &opts)?;
            self.png(&stem, "", &heat)?;
            let image = input_image(&input, self.bgr)?;
            self.png(&stem, "_overlay", &overlay(&heat, &image, 0.6)?)?;
            self.png(&stem, "_mask", &mask_input(&map, &input, false, self.bgr)?)?;
        }
        let sum: f64 = map.data.iter().map(|&v| v as f64).sum();
        let mut line = serde_json::json!({
            "input": name,
            "method": self.method,
            "score": e.scores[i],
            "relevance_sum": sum,
        });
        if !self.inner_start {
            line["class"] = e.classes[i].into();
        }
        if (e.layers.is_some() || self.method == "lrp") && !self.given_start {
            line["conservation_error"] = (sum - e.scores[i]).into();
        }
        if let Some(r) = &e.reference_scores {
            line["reference_score"] = r[i].into();
        }
        if let Some(r) = &e.residuals {
            line["residual"] = r[i].into();
        }
        if let Some(cam) = &e.cam {
            line["layer"] = cam.layer_name.clone().into();
        }
        if let Some(wx) = &e.windows {
            self.npy(&stem, "_coverage", &wx.coverage)?;
            let p = wx.positions.len();
            line["windows"] = p.into();
            line["window_scores"] = wx.window_scores[i * p..(i + 1) * p].to_vec().into();
            if let Some(best) = &wx.best {
                let (y, x) = wx.positions[best[i]];
                line["best_window"] = serde_json::json!([y, x]);
            }
        }
        if !e.records.is_empty() {
            line["concepts"] = self.records(&stem, name, e, i)?.into();
        }
        if let Some(parts) = pooled {
            let map: serde_json::Map<String, serde_json::Value> = parts
                .into_iter()
                .map(|p| (p.name, p.relevance.into()))
                .collect();
            line["pooled"] = map.into();
        }
        Ok(line)
    }
}

impl Writer<'_> {
    /// Writes explanation `i`'s recorded relevance per node (.npy) and its concept relevance
    /// as a bar chart of the largest channels; returns the concepts by node for the summary.
    fn records(
        &self,
        stem: &str,
        name: &str,
        e: &Explanation,
        i: usize,
    ) -> Result<serde_json::Map<String, serde_json::Value>> {
        let mut concepts = serde_json::Map::new();
        for r in &e.records {
            let node = node_stem(&r.name);
            self.npy(stem, &format!("_rel_{node}"), &item(&r.relevance, i)?)?;
            let values = item(&r.concepts, i)?.data;
            let mut bars: Vec<(String, f64)> = values
                .iter()
                .enumerate()
                .map(|(c, &v)| (format!("{c}"), v as f64))
                .collect();
            bars.sort_by(|a, b| b.1.total_cmp(&a.1));
            bars.truncate(CONCEPT_BARS);
            let title = format!("concept relevance at {} of {name}", r.name);
            self.png(
                stem,
                &format!("_concepts_{node}"),
                &bar_chart(&bars, &title)?,
            )?;
            concepts.insert(r.name.clone(), values.into());
        }
        Ok(concepts)
    }
}

/// A node name as a file-name part (`/block1/conv2/Conv` → `block1_conv2_Conv`).
fn node_stem(name: &str) -> String {
    let safe: String = name
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    safe.trim_matches('_').to_string()
}

/// Channels the concept relevance chart shows (the most relevant first).
const CONCEPT_BARS: usize = 20;

/// Every layer's relevance sum of input `i` and its deviation from f(x).
pub fn print_conservation(name: &str, e: &Explanation, i: usize) -> Result<()> {
    let Some(layers) = &e.layers else {
        return Ok(());
    };
    let fx = e.scores[i];
    say!("{name}: f(x) = {fx:.6} (class {})", e.classes[i]);
    for l in layers {
        let s = l.sums[i] as f64;
        say!(
            "  {:<32} {:<14} {:>14.6}  {:>+12.3e}",
            l.name,
            l.kind,
            s,
            s - fx
        );
    }
    Ok(())
}

/// A file-name-safe stem for an input name (`digits.npy[3]` → `digits_3`).
pub fn file_stem(name: &str) -> String {
    let base = Path::new(name)
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| name.to_string());
    let index = name.rsplit_once('[').and_then(|(_, r)| r.strip_suffix(']'));
    let stem = match index {
        Some(i) => format!("{}_{i}", base.split('.').next().unwrap_or(&base)),
        None => base,
    };
    stem.chars()
        .map(|c| {
            if c.is_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}
