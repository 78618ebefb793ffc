//! Explaining one decision: rules, composites and targets, and the methods that use them.

pub mod cam;
pub mod composite;
pub mod gradient;
pub mod lrp;
pub mod rules;
mod target;

pub use composite::{Composite, FirstLayer, LayerRef, PRESET_NAMES};
pub use lrp::{Explanation, LayerSum, LrpPlan};
pub use rules::{Bound, Rule, RULE_NAMES};
pub use target::{argmax, Target};
