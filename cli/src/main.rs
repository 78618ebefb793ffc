//! The glimpse command line: info, tune, ops, predict, explain, merge, interpret, evaluate, expert,
//! atlas, bench.

use clap::{Parser, Subcommand};
use glimpse_cli::{atlas, bench, evaluate, expert, explain, interpret, merge, predict, tune};

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
    /// Print the GPU adapter, backend, driver, the kernels chosen and the limits that matter.
    Info,
    /// Time every kernel family's variants on this device and cache the fastest.
    Tune(tune::TuneArgs),
    /// Print the ONNX operators glimpse imports, as a Markdown table.
    Ops,
    /// Print the top classes of each input.
    Predict(Box<predict::PredictArgs>),
    /// Write relevance heatmaps (PNG), raw relevance (.npy) and a JSON-lines summary.
    Explain(Box<explain::ExplainArgs>),
    /// Join the shard folders of a batch run (`explain --shard I/N`) into one run folder,
    /// checking that every input was done exactly once.
    Merge(merge::MergeArgs),
    /// Find the input a class, channel or neuron responds to most (activation maximisation).
    Interpret(Box<interpret::InterpretArgs>),
    /// Evaluate explanations: pixel flipping, region perturbation (AOPC), selectivity.
    Evaluate(Box<evaluate::EvaluateArgs>),
    /// Time forward passes and LRP per model and batch size against the device's matmul ceiling.
    Bench(Box<bench::BenchArgs>),
    /// Fit or evaluate an expert: a density over inputs for activation maximisation.
    Expert(Box<expert::ExpertArgs>),
    /// Reference inputs per concept: every channel of a node's most relevant (or most
    /// activating) inputs, as contact sheets of their crops and conditional heatmaps.
    Atlas(Box<atlas::AtlasArgs>),
}

fn main() {
    env_logger::init();
    let cli = Cli::parse();
    let result = match &cli.command {
        Command::Info => glimpse::Gpu::new().map(|g| println!("{}", g.describe())),
        Command::Tune(a) => tune::run(a),
        Command::Ops => {
            print!("{}", glimpse::onnx::markdown_table());
            Ok(())
        }
        Command::Predict(a) => predict::run(a),
        Command::Explain(a) => explain::run(a),
        Command::Merge(a) => merge::run(a),
        Command::Interpret(a) => interpret::run(a),
        Command::Evaluate(a) => evaluate::run(a),
        Command::Bench(a) => bench::run(a),
        Command::Expert(a) => expert::run(a),
        Command::Atlas(a) => atlas::run(a),
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
