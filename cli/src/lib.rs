//! The command line's subcommands, as library code so they can be tested.

/// Writes a line to stdout; a closed pipe becomes an `Error::Io` that `main` ends quietly on.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        writeln!(std::io::stdout().lock(), $($arg)*).map_err(|e| glimpse::error::Error::io("stdout", e))?;
    }};
}

pub mod atlas;
pub mod bench;
pub mod classes;
pub mod evaluate;
pub mod expert;
pub mod explain;
pub mod interpret;
pub mod measure;
pub mod merge;
pub mod options;
pub mod predict;
pub mod run;
pub mod tune;
pub mod zoo;
