//! The models benchmarks run: the two fixture models, VGG16 at 224² and a small VGG, by name, or
//! any ONNX file by path.

use std::path::{Path, PathBuf};

use crate::zoo::{vgg16, vgg_small};
use glimpse::error::{Error, Result};
use glimpse::model::Graph;

/// The models `glimpse bench` and the criterion benches time by default.
pub const DEFAULT_MODELS: [&str; 3] = ["lenet", "resnet", "vgg16"];

/// Names [`named_model`] knows besides paths to ONNX files.
pub const MODEL_NAMES: &str = "lenet (assets/models/lenet_mnist.onnx), resnet (assets/models/resnet_fashion.onnx), vgg16 (224², seeded weights), vgg-small (64², seeded weights), efficientnet-lite0 (assets/models/efficientnet_lite0.onnx)";

/// Seed of the zoo models' weights.
pub const ZOO_SEED: u64 = 16;

/// A model to time: its display name and graph.
pub struct BenchModel {
    /// Name in tables.
    pub name: String,
    /// The network.
    pub graph: Graph,
}

/// Loads a model by name (see [`MODEL_NAMES`]) or path to an ONNX file.
pub fn named_model(name: &str) -> Result<BenchModel> {
    let graph = match name.to_ascii_lowercase().as_str() {
        "lenet" => glimpse::load_model(asset("lenet_mnist.onnx"))?,
        "resnet" => glimpse::load_model(asset("resnet_fashion.onnx"))?,
        "vgg16" => vgg16(ZOO_SEED)?,
        "efficientnet-lite0" => glimpse::load_model(asset("efficientnet_lite0.onnx"))?,
        "vgg-small" | "vgg_small" => vgg_small(ZOO_SEED)?,
        _ if name.ends_with(".onnx") => glimpse::load_model(Path::new(name))?,
        _ => {
            return Err(Error::Invalid(format!(
                "unknown model '{name}'; use a path to an .onnx file or one of: {MODEL_NAMES}"
            )))
        }
    };
    Ok(BenchModel {
        name: name.to_string(),
        graph,
    })
}

/// A fixture model: under `assets/models/` of the working directory, else of the source tree.
fn asset(file: &str) -> PathBuf {
    let here = Path::new("assets/models").join(file);
    if here.exists() {
        return here;
    }
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("assets/models")
        .join(file)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_resolve_and_unknown_names_list_the_choices() {
        let m = named_model("vgg-small").unwrap();
        assert_eq!(m.graph.input_shape(), &[3, 64, 64]);
        assert_eq!(named_model("lenet").unwrap().graph.output_shape(), &[10]);
        let err = named_model("alexnet").err().expect("unknown").to_string();
        assert!(err.contains("alexnet") && err.contains("vgg16"), "{err}");
    }
}
