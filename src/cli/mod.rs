//! The `fastnet` command line: argument parsing and output only; the work is
//! done by library functions.

mod data;
mod env;
mod evaluate;
mod forecast;
mod graph;
mod import;
mod loss;
mod plot;
mod progress;
mod spectra;
mod stats;
mod synth;
mod train;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "fastnet", version, about = "FastNet graph-network weather forecasting", long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Build and inspect grid <-> icosahedral-mesh graphs.
    #[command(subcommand)]
    Graph(graph::GraphCommand),
    /// Inspect ERA5 NetCDF files and anemoi-datasets Zarr stores.
    #[command(subcommand)]
    Data(data::DataCommand),
    /// Compute per-channel normalisation statistics (stats.json).
    Stats(stats::StatsArgs),
    /// Generate the built-in toy atmosphere (forced shallow water) as ERA5-layout NetCDF.
    Synth(synth::SynthArgs),
    /// Train FastNet on ERA5 NetCDF or an anemoi-datasets store from a TOML configuration.
    Train(train::TrainArgs),
    /// Roll a trained model out from ERA5 initial states into a forecast file.
    Forecast(forecast::ForecastArgs),
    /// Score forecast files against ERA5 truth (WeatherBench2 metrics).
    Eval(evaluate::EvalArgs),
    /// Power spectra of forecasts and truth at chosen lead times, or of data alone.
    Spectra(spectra::SpectraArgs),
    /// Every training-loss term between a forecast file and the truth.
    Loss(loss::LossArgs),
    /// Draw spectra, scores against lead time, or maps.
    #[command(subcommand)]
    Plot(plot::PlotCommand),
    /// Turn fastnet-inference's model.safetensors + stats.json into a checkpoint.
    ImportReference(import::ImportReferenceArgs),
    /// Show the libtorch build, CUDA devices and threads this binary uses.
    Env(env::EnvArgs),
}

/// Runs the command line; errors are printed as one `error:` line with their
/// causes and give exit status 1.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Graph(cmd) => graph::run(cmd),
        Command::Env(args) => env::run(args),
        Command::Synth(args) => synth::run_cli(args),
        Command::Train(args) => train::run(args),
        Command::Forecast(args) => forecast::run(args),
        Command::Eval(args) => evaluate::run_eval(args),
        Command::Spectra(args) => spectra::run_spectra(args),
        Command::Plot(cmd) => plot::run(cmd),
        Command::Loss(args) => loss::run(args),
        Command::Data(cmd) => data::run(cmd),
        Command::Stats(args) => stats::run(args),
        Command::ImportReference(args) => import::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
