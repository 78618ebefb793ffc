//! Activation maximisation: objectives, regularisers, experts, code space.

pub mod expert;
