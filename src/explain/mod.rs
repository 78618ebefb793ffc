//! Explaining one decision: the methods ([`Method`], one [`Explainer`] for all, one
//! [`Explanation`] result), built on one backward recorder ([`backward`]) whose per-node rules
//! come from an LRP [`Composite`] or a gradient mode; targets; the CAM family.

pub mod atlas;
pub mod backward;
pub mod cam;
pub mod composite;
pub(crate) mod engine;
mod explainer;
pub(crate) mod explanation;
pub mod filter;
pub mod gradient;
mod lrp;
mod method;
pub mod occlusion;
pub mod pool;
pub mod rules;
mod target;
pub mod translate;
pub mod window;

pub use composite::{Composite, FirstLayer, LayerRef, PRESET_NAMES};
pub use engine::explained_node;
pub use explainer::Explainer;
pub use explanation::{CamExtras, Explanation, LayerSum, Recorded};
pub use filter::{Condition, ConditionSet, Filter};
pub use lrp::LrpPlan;
pub use method::{method_names, Method, METHOD_NAMES};
pub use rules::{Bound, Rule, RULE_NAMES};
pub use target::{argmax, Target};
