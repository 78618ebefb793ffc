//! Every explanation method as a value: the one source of the names the command line accepts.

use std::str::FromStr;

use super::cam::CamKind;
use super::gradient::{Baseline, GradientMap, Riemann, RootPoint, SmoothKind, SmoothOptions};
use super::occlusion::OcclusionOptions;
use super::{Bound, Composite, LayerRef};
use crate::error::{Error, Result};
use crate::model::LoadOptions;

/// An explanation method with its options.
#[derive(Clone, Debug, PartialEq)]
pub enum Method {
    /// Layer-wise relevance propagation with a composite; `conservation` records every layer's
    /// relevance sum.
    Lrp {
        /// Which rule each layer gets.
        composite: Composite,
        /// Record per-layer relevance sums.
        conservation: bool,
    },
    /// One gradient per input: saliency, the signed gradient, sensitivity, gradient × input,
    /// deconvnet, guided backprop.
    Gradient(GradientMap),
    /// Simple Taylor decomposition at a root point.
    Taylor {
        /// Where the expansion is taken.
        root: RootPoint,
    },
    /// DeepLIFT (rescale) against a reference input.
    DeepLift {
        /// The reference.
        baseline: Baseline,
    },
    /// Integrated gradients with Captum's Riemann sums.
    IntegratedGradients {
        /// The path's start.
        baseline: Baseline,
        /// Path points.
        steps: usize,
        /// The quadrature.
        riemann: Riemann,
    },
    /// SmoothGrad, its squared form, VarGrad.
    SmoothGrad(SmoothOptions),
    /// CAM, Grad-CAM, Grad-CAM++ at a feature map (by default the one the method prefers).
    Cam {
        /// Which CAM.
        kind: CamKind,
        /// The feature map, by ONNX node name or index.
        layer: Option<LayerRef>,
    },
    /// Occlusion: the mean drop of the score over the windows that covered each value.
    Occlusion(OcclusionOptions),
}

/// Every method name [`Method::from_str`] accepts, with a line on each.
pub const METHOD_NAMES: &[(&str, &str)] = &[
    (
        "lrp",
        "layer-wise relevance propagation (a composite or rules)",
    ),
    ("gradient", "|∂f/∂x|, the saliency map (alias: saliency)"),
    ("signed-gradient", "∂f/∂x"),
    ("sensitivity", "(∂f/∂x)²"),
    ("gradient-x-input", "x ⊙ ∂f/∂x"),
    (
        "taylor",
        "simple Taylor at a root point (zero, a file, or searched)",
    ),
    ("deeplift", "DeepLIFT rescale against a baseline"),
    ("deconvnet", "Zeiler & Fergus' deconvnet"),
    ("guided-backprop", "Springenberg et al.'s guided backprop"),
    (
        "integrated-gradients",
        "integrated gradients (Captum's Riemann sums)",
    ),
    ("smoothgrad", "mean |∂f/∂x| over noisy copies"),
    ("smoothgrad-squared", "mean (∂f/∂x)² over noisy copies"),
    ("vargrad", "variance of |∂f/∂x| over noisy copies"),
    ("cam", "CAM (global-average-pool + dense heads)"),
    ("grad-cam", "Grad-CAM at a feature map"),
    ("grad-cam++", "Grad-CAM++ at a feature map"),
    (
        "occlusion",
        "Captum's occlusion: the score's mean drop over the windows covering each value",
    ),
];

/// The method names, comma-separated.
pub fn method_names() -> String {
    METHOD_NAMES
        .iter()
        .map(|(n, _)| *n)
        .collect::<Vec<_>>()
        .join(", ")
}

impl FromStr for Method {
    type Err = Error;

    /// A method by name with its default options (LRP: EpsilonPlusFlat with box bounds [0, 1];
    /// `lrp:PRESET` names a preset).
    fn from_str(s: &str) -> Result<Method> {
        let smooth = |kind| {
            Method::SmoothGrad(SmoothOptions {
                kind,
                ..SmoothOptions::default()
            })
        };
        let cam = |kind| Method::Cam { kind, layer: None };
        let (name, arg) = s.trim().split_once(':').unwrap_or((s.trim(), ""));
        Ok(match name.to_ascii_lowercase().as_str() {
            "lrp" => Method::Lrp {
                composite: Composite::preset(
                    if arg.is_empty() {
                        "epsilon-plus-flat"
                    } else {
                        arg
                    },
                    Bound::Scalar(0.0),
                    Bound::Scalar(1.0),
                )?,
                conservation: false,
            },
            "gradient" | "saliency" => Method::Gradient(GradientMap::Saliency),
            "signed-gradient" => Method::Gradient(GradientMap::Gradient),
            "sensitivity" => Method::Gradient(GradientMap::Sensitivity),
            "gradient-x-input" => Method::Gradient(GradientMap::GradientTimesInput),
            "deconvnet" => Method::Gradient(GradientMap::Deconvnet),
            "guided-backprop" => Method::Gradient(GradientMap::GuidedBackprop),
            "taylor" => Method::Taylor {
                root: RootPoint::Search,
            },
            "deeplift" => Method::DeepLift {
                baseline: Baseline::Zero,
            },
            "integrated-gradients" => Method::IntegratedGradients {
                baseline: Baseline::Zero,
                steps: 64,
                riemann: Riemann::Middle,
            },
            "smoothgrad" => smooth(SmoothKind::Mean),
            "smoothgrad-squared" => smooth(SmoothKind::Squared),
            "vargrad" => smooth(SmoothKind::Variance),
            "cam" => cam(CamKind::Cam),
            "grad-cam" => cam(CamKind::GradCam),
            "grad-cam++" => cam(CamKind::GradCamPlusPlus),
            "occlusion" => Method::Occlusion(OcclusionOptions::default()),
            other => {
                return Err(Error::Invalid(format!(
                    "unknown method '{other}'; valid methods: {}",
                    method_names()
                )))
            }
        })
    }
}

impl Method {
    /// The method's name (as [`Method::from_str`] reads it).
    pub fn name(&self) -> &'static str {
        match self {
            Method::Lrp { .. } => "lrp",
            Method::Gradient(GradientMap::Saliency) => "gradient",
            Method::Gradient(GradientMap::Gradient) => "signed-gradient",
            Method::Gradient(GradientMap::Sensitivity) => "sensitivity",
            Method::Gradient(GradientMap::GradientTimesInput) => "gradient-x-input",
            Method::Gradient(GradientMap::Deconvnet) => "deconvnet",
            Method::Gradient(GradientMap::GuidedBackprop) => "guided-backprop",
            Method::Taylor { .. } => "taylor",
            Method::DeepLift { .. } => "deeplift",
            Method::IntegratedGradients { .. } => "integrated-gradients",
            Method::SmoothGrad(o) => match o.kind {
                SmoothKind::Mean => "smoothgrad",
                SmoothKind::Squared => "smoothgrad-squared",
                SmoothKind::Variance => "vargrad",
            },
            Method::Cam { kind, .. } => match kind {
                CamKind::Cam => "cam",
                CamKind::GradCam => "grad-cam",
                CamKind::GradCamPlusPlus => "grad-cam++",
            },
            Method::Occlusion(_) => "occlusion",
        }
    }

    /// How the model should be loaded for this method: a CAM taken at a convolution followed
    /// by a BatchNorm needs the convolution's own output, which folding would change; the other
    /// methods see the same function either way and want it folded.
    pub fn load_options(&self) -> LoadOptions {
        LoadOptions {
            fold_batch_norm: !matches!(self, Method::Cam { .. }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_parses_and_names_itself() {
        for (name, _) in METHOD_NAMES {
            let m: Method = name.parse().unwrap();
            assert!(m.name() == *name || *name == "saliency", "{name}");
        }
        assert!("lrp:epsilon-gamma-box".parse::<Method>().is_ok());
        let err = "bogus".parse::<Method>().unwrap_err().to_string();
        assert!(
            err.contains("grad-cam++") && err.contains("integrated-gradients"),
            "{err}"
        );
    }
}
