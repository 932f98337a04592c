//! `fastnet forecast --checkpoint CKPT --data PATHS --init DATES --steps N -o OUT.nc`
//! (or `-o OUT.zarr`, `--format zarr`, `--layout wb2`).

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::Args;
use fastnet_data::time::{parse_date, parse_range, Timestamp, HOUR};
use fastnet_data::Dataset;

use super::progress;
use crate::checkpoint::load_model;
use crate::forecast::rollout::{forecast, step_hours, Method};
use crate::forecast::sink::{ForecastOutput, OutputFormat, OutputLayout};
use crate::model::Precision;
use crate::runtime::DeviceSpec;

#[derive(Args)]
pub struct ForecastArgs {
    /// Checkpoint: its .json sidecar, its weights file, or a checkpoint folder (newest).
    #[arg(long)]
    checkpoint: PathBuf,
    /// ERA5 NetCDF with the initial states (files, folders, globs), or an
    /// anemoi-datasets Zarr store (`era5.zarr`, `ens.zarr#member=N`).
    #[arg(long, num_args = 1.., required = true)]
    data: Vec<PathBuf>,
    /// Init times, comma separated (2020-01-01T00,2020-01-05T12), or
    /// FROM..TO/HOURS (2020-01-01..2020-01-31/24; a bare end date
    /// includes that whole day).
    #[arg(long, required = true)]
    init: String,
    /// Number of model steps.
    #[arg(long)]
    steps: usize,
    /// Hours per model step: must be the model's training step, which is
    /// the default (read from the checkpoint).
    #[arg(long)]
    step_hours: Option<i64>,
    /// auto, cpu, cuda or cuda:N.
    #[arg(long, default_value = "auto")]
    device: DeviceSpec,
    /// Arithmetic of the Linear layers: f32, or bf16 (mixed precision,
    /// for GPUs).
    #[arg(long, value_enum, default_value_t = Precision::F32)]
    precision: Precision,
    /// Write the persistence baseline (the initial state at every lead) in
    /// the checkpoint's channels instead of running the model.
    #[arg(long)]
    persistence: bool,
    /// Write the climatology baseline instead: the time-mean state of the
    /// data over FROM..TO (e.g. the training period; a bare end date
    /// includes that whole day) at every lead.
    #[arg(long, conflicts_with = "persistence")]
    climatology: Option<String>,
    /// Output forecast: a NetCDF file, or a Zarr store when named *.zarr.
    #[arg(short, long)]
    output: PathBuf,
    /// Container; by default from the output's name (zarr for *.zarr, else
    /// netcdf), with which it must agree.
    #[arg(long, value_enum)]
    format: Option<OutputFormat>,
    /// Variables and coordinates: ours, or WeatherBench2's (for its
    /// evaluation scripts; latitude-longitude grids only).
    #[arg(long, value_enum, default_value_t = OutputLayout::Fastnet)]
    layout: OutputLayout,
}

/// Parses `a,b,c` or `FROM..TO/HOURS`.
pub fn parse_inits(text: &str) -> Result<Vec<Timestamp>> {
    let date = |s: &str| {
        parse_date(s)
            .with_context(|| format!("--init: {s:?} is not a date (2020-01-01 or 2020-01-01T06)"))
    };
    if let Some((range, every)) = text.split_once('/') {
        let (a, b) = parse_range(range).context("--init FROM..TO/HOURS")?;
        let every: i64 = every
            .trim_end_matches('h')
            .parse()
            .with_context(|| format!("--init: {every:?} is not a number of hours"))?;
        if every <= 0 {
            bail!("--init: the spacing must be a positive number of hours");
        }
        return Ok((0..)
            .map(|k| a + k * every * HOUR)
            .take_while(|&t| t <= b)
            .collect());
    }
    text.split(',').map(|s| date(s.trim())).collect()
}

pub fn run(args: ForecastArgs) -> Result<()> {
    let output = ForecastOutput::resolve(&args.output, args.format, args.layout)?;
    let inits = parse_inits(&args.init)?;
    let device = args.device.resolve()?;
    let mut m = load_model(&args.checkpoint, device)?;
    let step_hours = step_hours(&m, args.step_hours)?;
    m.model.set_precision(args.precision);
    let ds = Dataset::open(&args.data).context("opening the initial-state data")?;
    let reader = m.reader_for(ds)?;
    let method = match (&args.climatology, args.persistence) {
        (Some(range), _) => {
            let (from, to) = parse_range(range).context("--climatology FROM..TO")?;
            Method::Climatology { from, to }
        }
        (None, true) => Method::Persistence,
        (None, false) => Method::Model,
    };
    let bar = progress::bar((inits.len() * args.steps) as u64, "steps");
    let out = forecast(
        &m,
        &reader,
        &inits,
        args.steps,
        method,
        &output,
        &mut |d, _| bar.set_position(d as u64),
    )?;
    bar.finish_and_clear();
    println!(
        "wrote {} {} init time(s) x {} step(s) of {} h from checkpoint step {} -> {} ({})",
        match method {
            Method::Persistence => "persistence baseline:",
            Method::Climatology { .. } => "climatology baseline:",
            Method::Model => "forecast:",
        },
        inits.len(),
        args.steps,
        step_hours,
        m.sidecar.step,
        out.display(),
        output.describe()
    );
    Ok(())
}
