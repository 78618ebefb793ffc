//! Interpreting a concept: prototypes by activation maximisation (Montavon, Samek & Müller
//! 2017, §3): the input a class, a channel or a neuron responds to most, found by gradient
//! ascent on the GPU — the whole optimisation one submission, only the prototypes and the
//! objective curve read back.

mod diversity;
pub mod expert;
mod fourier;
mod kernels;
mod maximizer;
mod objective;
pub mod reference;
mod settings;
mod step;

pub use diversity::{DiversityParams, DIVERSITY};
pub use fourier::{Fourier, FourierParams, Spectrum, FOURIER};
pub use kernels::{
    BlurParams, ObjectiveParams, PenaltyParams, StepParams, TransformParams, UpdateParams, BLUR,
    OBJECTIVE, OBJECTIVE_GRAD, PENALTIES, STEP, TERMS, TRANSFORM, UPDATE,
};
pub use maximizer::{maximize, CurvePoint, Maximizer, Prototypes};
pub use objective::{ClassForm, Objective, ObjectiveMode};
pub use settings::{Blur, Diversity, ExpertTerm, Init, Optimizer, Penalties, Settings, Transforms};
