//! The command line's subcommands, as library code so they can be tested.

/// Writes a line to stdout; a closed pipe becomes an `Error::Io` that `main` ends quietly on.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        writeln!(std::io::stdout().lock(), $($arg)*).map_err(|e| glimpse::error::Error::io("stdout", e))?;
    }};
}

pub mod attribution;
pub mod bench;
pub mod classes;
pub mod explain;
pub mod measure;
pub mod options;
pub mod predict;
pub mod zoo;

use glimpse::error::{Error, Result};
use glimpse::model::{Graph, Tensor};
use options::InputArgs;

/// Reads the inputs into one batch `[N, ...input]` with their names.
pub fn load_batch(graph: &Graph, args: &InputArgs) -> Result<(Vec<String>, Tensor)> {
    let opts = args.image_options()?;
    let items = glimpse::io::inputs::load_inputs(&args.inputs, graph.input_shape(), &opts)?;
    if items.is_empty() {
        return Err(Error::Invalid("no inputs given".into()));
    }
    let mut names = Vec::with_capacity(items.len());
    let mut data = Vec::with_capacity(items.len() * graph.input_shape().iter().product::<usize>());
    for (name, t) in items {
        if t.shape != graph.input_shape() {
            return Err(Error::Shape(format!(
                "{name} is {:?} but the model takes {:?}",
                t.shape,
                graph.input_shape()
            )));
        }
        names.push(name);
        data.extend_from_slice(&t.data);
    }
    let shape = std::iter::once(names.len())
        .chain(graph.input_shape().iter().cloned())
        .collect();
    Ok((names, Tensor::new(shape, data)?))
}
