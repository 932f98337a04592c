//! `fastnet synth -o DIR`: the built-in toy atmosphere.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;

use super::progress::bar;
use crate::synth::run::{run, truncation_for, SynthConfig};

#[derive(Args)]
pub struct SynthArgs {
    /// Output folder (one ERA5-layout NetCDF file per month plus a static file).
    #[arg(short, long)]
    output: PathBuf,
    /// Output grid NLATxNLON, equiangular without poles (the solver runs on
    /// the Gaussian grid of the same size).
    #[arg(long, default_value = "64x128")]
    grid: String,
    /// Spectral truncation (default: the largest alias-free for the grid).
    #[arg(long)]
    lmax: Option<usize>,
    /// Days of 6-hourly output after the spin-up.
    #[arg(long, default_value_t = 3.0 * 365.0)]
    days: f64,
    /// Days run and discarded first.
    #[arg(long, default_value_t = 60.0)]
    spinup_days: f64,
    /// Time step in seconds (must divide 6 h).
    #[arg(long, default_value_t = 900.0)]
    dt: f64,
    /// First output time.
    #[arg(long, default_value = "2000-01-01")]
    start: String,
    /// Seed of the initial perturbations.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    #[arg(long)]
    json: bool,
}

pub fn run_cli(args: SynthArgs) -> Result<()> {
    let (a, b) = args
        .grid
        .split_once(['x', 'X'])
        .context("--grid: expected NLATxNLON, e.g. 64x128")?;
    let nlat: usize = a
        .parse()
        .with_context(|| format!("--grid: {a:?} is not a number of latitudes"))?;
    let nlon: usize = b
        .parse()
        .with_context(|| format!("--grid: {b:?} is not a number of longitudes"))?;
    let cfg = SynthConfig {
        nlat,
        nlon,
        lmax: args.lmax.unwrap_or_else(|| truncation_for(nlat, nlon)),
        dt_s: args.dt,
        start: args.start.clone(),
        days: args.days,
        spinup_days: args.spinup_days,
        seed: args.seed,
        ..SynthConfig::default()
    };
    let pb = bar(
        (cfg.spinup_days + cfg.days).ceil() as u64,
        &format!("days (T{} on {nlat} x {nlon})", cfg.lmax),
    );
    let summary = run(&cfg, &args.output, &mut |d, _| pb.set_position(d as u64))?;
    pb.finish_and_clear();
    if args.json {
        println!("{}", serde_json::to_string_pretty(&summary)?);
    } else {
        println!(
            "wrote {} 6-hourly states {} .. {} in {} files to {}; kinetic-energy spectrum slope {} (time mean, l = {}..{}), {:.0}% of it in eddies",
            summary.times,
            summary.first,
            summary.last,
            summary.files.len(),
            args.output.display(),
            summary.energy_slope.map_or("-".into(), |s| format!("{s:.2}")),
            summary.energy_slope_band.0,
            summary.energy_slope_band.1,
            100.0 * summary.eddy_fraction
        );
    }
    Ok(())
}
