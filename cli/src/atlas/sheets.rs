//! The atlas's second pass: every channel's best inputs decoded again, explained from the
//! neuron where the channel peaks (relevance starting as that neuron's activation alone, as
//! zennit-crp's reference heatmaps do), cropped to what the heatmap reaches, and written as one
//! contact sheet per channel and `atlas.json`.

use std::path::Path;

use glimpse::error::{Error, Result};
use glimpse::explain::atlas::{receptive_crop, Reference};
use glimpse::io::inputs::{decode_each, InputItem};
use glimpse::io::ImageOptions;
use glimpse::render::{contact_sheet, heatmap, input_image, Cmap, HeatmapOptions, SheetEntry};
use glimpse::{Explainer, Target, Tensor};
use image::imageops;
use serde_json::json;

use crate::run::atomic;

/// `--channels`: the listed channels, or every one.
pub fn parse_channels(spec: Option<&str>, channels: usize) -> Result<Vec<usize>> {
    let Some(spec) = spec else {
        return Ok((0..channels).collect());
    };
    spec.split(',')
        .map(|c| {
            let k: usize = c.trim().parse().map_err(|_| {
                Error::Invalid(format!("--channels {spec}: '{c}' is not a channel"))
            })?;
            if k >= channels {
                return Err(Error::Invalid(format!(
                    "--channels {spec}: channel {k} is out of range: the node has {channels}"
                )));
            }
            Ok(k)
        })
        .collect()
}

/// Where and how the sheets are written.
pub struct Sheets<'a> {
    pub out: &'a Path,
    pub node_name: &'a str,
    pub node_shape: &'a [usize],
    pub by: &'a str,
    pub items: &'a [InputItem],
    pub shape: &'a [usize],
    pub opts: &'a ImageOptions,
    pub cmap: &'a Cmap,
    pub bgr: bool,
    /// The predicted class of each listed input (relevance only).
    pub classes: &'a [Option<usize>],
}

impl Sheets<'_> {
    /// Explains the references of the `wanted` channels from their peaks (the explainer starts
    /// at the node), one channel at a time, and writes their sheets and `atlas.json`; returns
    /// the number of sheets written.
    pub fn write(
        &self,
        mut explainer: Explainer,
        best: &[Vec<Reference>],
        wanted: &[usize],
        batch: usize,
    ) -> Result<usize> {
        let inner: usize = self.node_shape[1..].iter().product::<usize>().max(1);
        let numel = self.node_shape[0] * inner;
        let d: usize = self.shape.iter().product();
        let mut channels_json = Vec::with_capacity(wanted.len());
        let mut sheets = 0;
        for &c in wanted {
            let (mut inputs, mut maps) = (Vec::new(), Vec::new());
            for chunk in best[c].chunks(batch.max(1)) {
                let items: Vec<InputItem> =
                    chunk.iter().map(|r| self.items[r.input].clone()).collect();
                let mut x = Vec::with_capacity(chunk.len() * d);
                for decoded in decode_each(&items, self.shape, self.opts) {
                    x.extend(decoded?);
                }
                let targets: Vec<Target> = chunk
                    .iter()
                    .map(|r| {
                        let mut w = vec![0.0f32; numel];
                        w[c * inner + r.neuron] = 1.0;
                        Target::Weights(w)
                    })
                    .collect();
                let xt = Tensor::new([&[chunk.len()], self.shape].concat(), x)?;
                maps.extend(explainer.explain(&xt, &targets)?.map.data);
                inputs.extend(xt.data);
            }
            let mi = maps.len() / best[c].len().max(1);
            let mut entries = Vec::with_capacity(best[c].len());
            let mut refs_json = Vec::with_capacity(best[c].len());
            for (k, r) in best[c].iter().enumerate() {
                let map_data = maps[k * mi..(k + 1) * mi].to_vec();
                let map = Tensor::new(map_shape(mi, self.shape), map_data)?;
                let input = Tensor::new(self.shape.to_vec(), inputs[k * d..(k + 1) * d].to_vec())?;
                let crop = match map.shape.len() {
                    3 => receptive_crop(&map)?,
                    _ => (0, 0, 0, 0),
                };
                let item = &self.items[r.input];
                if map.shape.len() == 3 {
                    entries.push(self.entry(&map, &input, crop, r, item)?);
                }
                let (ny, nx) = neuron_yx(r.neuron, self.node_shape);
                refs_json.push(json!({
                    "input": item.name,
                    "value": r.value,
                    "neuron": [ny, nx],
                    "class": self.classes[r.input],
                    "crop": [crop.0, crop.1, crop.2, crop.3],
                }));
            }
            if !entries.is_empty() {
                let title = format!("{} channel {c}, by {}", self.node_name, self.by);
                let sheet = contact_sheet(&title, &entries)?;
                let path = self.out.join(format!("channel_{c:04}.png"));
                atomic::write_with(&path, |tmp| glimpse::render::save_png(tmp, &sheet))?;
                sheets += 1;
            }
            channels_json.push(json!({"channel": c, "references": refs_json}));
        }
        let atlas = json!({
            "node": self.node_name,
            "by": self.by,
            "channels": channels_json,
        });
        let text = serde_json::to_string_pretty(&atlas).expect("JSON values serialise");
        atomic::write_bytes(&self.out.join("atlas.json"), format!("{text}\n").as_bytes())?;
        Ok(sheets)
    }

    /// One sheet entry: the input and the heatmap cropped to `crop`.
    fn entry(
        &self,
        map: &Tensor,
        input: &Tensor,
        (y0, y1, x0, x1): (usize, usize, usize, usize),
        r: &Reference,
        item: &InputItem,
    ) -> Result<SheetEntry> {
        let opts = HeatmapOptions {
            cmap: self.cmap.clone(),
            ..HeatmapOptions::default()
        };
        let heat = heatmap(map, &opts)?;
        let image = input_image(input, self.bgr)?;
        let (w, h) = ((x1 - x0 + 1) as u32, (y1 - y0 + 1) as u32);
        let cut =
            |img: &image::RgbImage| imageops::crop_imm(img, x0 as u32, y0 as u32, w, h).to_image();
        // An item of a batch file by its index, a file by its name.
        let label = match item.index {
            Some(i) => format!("#{i}"),
            None => {
                let file = item.name.rsplit('/').next().unwrap_or(&item.name);
                file.rsplit_once('.')
                    .map_or(file, |(stem, _)| stem)
                    .to_string()
            }
        };
        Ok(SheetEntry {
            input: cut(&image),
            heat: cut(&heat),
            caption: format!("{:.3} {label}", r.value),
        })
    }
}

/// The maps' item shape: the input's (an LRP map has its channels).
fn map_shape(len: usize, input: &[usize]) -> Vec<usize> {
    match input {
        [_, h, w] if len.is_multiple_of(h * w) => vec![len / (h * w), *h, *w],
        _ => vec![len],
    }
}

/// A flat position within a channel as (row, column) of a `[C, H, W]` node (a flat node's
/// neurons are its channels: (0, 0)).
fn neuron_yx(j: usize, shape: &[usize]) -> (usize, usize) {
    match shape {
        [_, _, w] => (j / w, j % w),
        _ => (0, 0),
    }
}
