//! The glimpse command line: info, predict, explain.

use clap::{Parser, Subcommand};
use glimpse::cli::{explain, predict};

#[derive(Parser)]
#[command(
    name = "glimpse",
    version,
    about = "Explains neural networks on the GPU (LRP and relatives through WGSL compute shaders)"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Print the GPU adapter, backend, driver and the limits that matter.
    Info,
    /// Print the top classes of each input.
    Predict(Box<predict::PredictArgs>),
    /// Write relevance heatmaps (PNG), raw relevance (.npy) and a JSON-lines summary.
    Explain(Box<explain::ExplainArgs>),
}

fn main() {
    env_logger::init();
    let cli = Cli::parse();
    let result = match &cli.command {
        Command::Info => glimpse::Gpu::new().map(|g| println!("{}", g.describe())),
        Command::Predict(a) => predict::run(a),
        Command::Explain(a) => explain::run(a),
    };
    match result {
        Ok(()) => {}
        // A closed pipe (`glimpse predict … | head`) is not an error of ours.
        Err(glimpse::Error::Io { source, .. })
            if source.kind() == std::io::ErrorKind::BrokenPipe => {}
        Err(e) => {
            eprintln!("glimpse: {e}");
            std::process::exit(1);
        }
    }
}
