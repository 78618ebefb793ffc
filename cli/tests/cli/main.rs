//! The command line as a user runs it, in one test binary: the `glimpse` executable's commands,
//! and `glimpse explain`'s methods through the library entry point.

mod atlas;
mod batch_run;
mod commands;
mod evaluate;
mod expert;
mod explain_methods;
mod filtering;
mod gpu_faults;
mod interpret;
mod merge;
mod pooling;
mod tune;
mod windows;
