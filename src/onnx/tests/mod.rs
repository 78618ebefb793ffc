//! Importer tests on models encoded here with the prost messages; no GPU, no files but temp ones.
//!
//! `builder` writes the models and `check` inspects what they import to; the other files
//! test one topic each: a layer kind's mapping, the graph's structure, errors, files.

mod builder;
mod check;

mod activation;
mod batch_norm;
mod busy_model;
mod conv;
mod conv_transpose;
mod dense;
mod errors;
mod files;
mod graph;
mod layouts;
mod merge;
mod mul;
mod pad;
mod pool;
mod reshape;
mod select;
