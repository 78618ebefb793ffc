//! `glimpse bench --pipeline`: a batch run's images/s end to end — the `glimpse explain`
//! process listing a folder of JPEG photographs of mixed sizes, decoding and resizing them on
//! decoder threads, explaining on the GPU, rendering and writing on writer threads — ÷ the
//! bare plan's images/s on the same inputs decoded beforehand. A ratio near 1 says the
//! pipeline hides decoding and writing behind the GPU.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use clap::Parser;
use glimpse::error::{Error, Result};
use glimpse::io::inputs::{list_inputs, load_items};
use glimpse::{DeviceModel, Explainer, Target};

use crate::explain::{method_from, ExplainArgs};

/// The shipped photographs the folder is made from.
const PHOTOS: [&str; 4] = ["chelsea", "coffee", "astronaut", "rocket"];

/// One end-to-end measurement.
#[derive(Clone, Debug)]
pub struct PipelineRow {
    pub model: String,
    pub method: String,
    pub inputs: usize,
    pub batch: usize,
    /// Explaining every batch of pre-decoded tensors (the plan, its uploads and readbacks).
    pub bare: Duration,
    /// The whole `glimpse explain` process, start to exit.
    pub end_to_end: Duration,
}

impl PipelineRow {
    /// End-to-end images/s ÷ bare images/s.
    pub fn ratio(&self) -> f64 {
        self.bare.as_secs_f64() / self.end_to_end.as_secs_f64()
    }
}

/// Wraps `ExplainArgs` so that the bench parses the very arguments it gives the process.
#[derive(Parser)]
struct ExplainCommand {
    #[command(flatten)]
    args: ExplainArgs,
}

/// Writes `count` JPEGs to `dir` (once: a folder already holding them is reused): the shipped
/// photographs resized to sizes between 160×120 and 1024×768, quality 90, in ten
/// sub-folders.
pub fn photo_folder(dir: &Path, count: usize, assets: &Path) -> Result<()> {
    let marker = dir.join(format!(".glimpse-bench-{count}"));
    if marker.exists() {
        return Ok(());
    }
    let photos = PHOTOS
        .iter()
        .map(|p| {
            let path = assets.join(format!("{p}_224.png"));
            image::open(&path)
                .map(|i| i.to_rgb8())
                .map_err(|e| Error::Invalid(format!("{}: {e}", path.display())))
        })
        .collect::<Result<Vec<_>>>()?;
    for k in 0..count {
        // Sizes spread over the range by two coprime strides: every aspect, no two alike nearby.
        let w = 160 + (k * 7919 % 865) as u32;
        let h = 120 + (k * 104_729 % 649) as u32;
        let photo = &photos[k % photos.len()];
        let img = image::imageops::resize(photo, w, h, image::imageops::FilterType::Triangle);
        let path = dir
            .join(format!("{:02}", k % 10))
            .join(format!("{}_{k:05}.jpg", PHOTOS[k % PHOTOS.len()]));
        std::fs::create_dir_all(path.parent().expect("a file in a folder"))
            .map_err(|e| Error::io(dir, e))?;
        let file = std::fs::File::create(&path).map_err(|e| Error::io(&path, e))?;
        let mut jpeg = image::codecs::jpeg::JpegEncoder::new_with_quality(file, 90);
        jpeg.encode_image(&img)
            .map_err(|e| Error::Invalid(format!("{}: {e}", path.display())))?;
    }
    std::fs::write(&marker, b"").map_err(|e| Error::io(&marker, e))
}

/// Times `glimpse explain EXPLAIN… --out OUT FOLDER` as a process (the executable `glimpse`)
/// and the bare plan on the same inputs, decoded beforehand, batch by batch.
pub fn measure_pipeline(
    glimpse: &Path,
    explain: &[String],
    folder: &Path,
    out: &Path,
) -> Result<PipelineRow> {
    let mut argv = vec!["explain".to_string()];
    argv.extend_from_slice(explain);
    argv.extend(["--overwrite".into(), "--out".into()]);
    argv.push(out.display().to_string());
    argv.push(folder.display().to_string());
    let args = ExplainCommand::try_parse_from(&argv)
        .map_err(|e| Error::Invalid(format!("bench --pipeline: {e}")))?
        .args;
    let kind: glimpse::Method = args.method.parse()?;
    let graph = glimpse::load_model_with(&args.model, &kind.load_options())?;
    let method = method_from(&args, &graph)?;
    let shape = graph.input_shape().to_vec();
    let opts = args.input.image_options()?;
    let items = list_inputs(&args.input.inputs, &shape)?;
    let model = DeviceModel::new(&crate::tune::open_device()?, graph);
    let mut explainer = Explainer::new(&model, &method, args.batch)?;
    let batch = explainer.batch();
    // One batch first, so that kernel compilation (cached on disk) is in neither timing.
    let warm = load_items(&items[..batch.min(items.len())], &shape, &opts)?;
    explainer.explain(&warm, &[Target::Predicted])?;
    let mut bare = Duration::ZERO;
    for chunk in items.chunks(batch) {
        let x = load_items(chunk, &shape, &opts)?;
        let start = Instant::now();
        explainer.explain(&x, &[Target::Predicted])?;
        bare += start.elapsed();
    }
    drop(explainer);
    drop(model);
    let start = Instant::now();
    let run = Command::new(glimpse)
        .args(&argv)
        .output()
        .map_err(|e| Error::io(glimpse, e))?;
    let end_to_end = start.elapsed();
    if !run.status.success() {
        return Err(Error::Invalid(format!(
            "bench --pipeline: {} {} failed: {}",
            glimpse.display(),
            argv.join(" "),
            String::from_utf8_lossy(&run.stderr)
        )));
    }
    Ok(PipelineRow {
        model: args.model.display().to_string(),
        method: method.name().to_string(),
        inputs: items.len(),
        batch,
        bare,
        end_to_end,
    })
}

/// The folder the bench's photographs go to by default: one per count, kept for reuse.
pub fn default_photo_folder(count: usize) -> PathBuf {
    std::env::temp_dir().join(format!("glimpse-bench-photos-{count}"))
}

/// The row as a Markdown table.
pub fn pipeline_table(rows: &[PipelineRow]) -> String {
    let mut s = String::from(
        "| model | method | inputs | batch | bare plan (images/s) | end to end (images/s) | end to end ÷ bare |\n|---|---|---:|---:|---:|---:|---:|\n",
    );
    for r in rows {
        let rate = |d: Duration| r.inputs as f64 / d.as_secs_f64();
        s.push_str(&format!(
            "| {} | {} | {} | {} | {:.2} | {:.2} | {:.3} |\n",
            r.model,
            r.method,
            r.inputs,
            r.batch,
            rate(r.bare),
            rate(r.end_to_end),
            r.ratio()
        ));
    }
    s
}
