//! `fastnet forecast --checkpoint CKPT --data PATHS --init DATES --steps N -o OUT.nc`.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::Args;
use fastnet_data::time::{parse_date, Timestamp, HOUR};
use fastnet_data::Dataset;
use indicatif::{ProgressBar, ProgressStyle};

use crate::forecast::rollout::{forecast, load_checkpoint, reader_for, Method};
use crate::model::Precision;
use crate::train::trainer::parse_device;

#[derive(Args)]
pub struct ForecastArgs {
    /// Checkpoint: its .json sidecar, its weights file, or a checkpoint folder (newest).
    #[arg(long)]
    checkpoint: PathBuf,
    /// ERA5 NetCDF with the initial states (files, folders, globs).
    #[arg(long, num_args = 1.., required = true)]
    data: Vec<PathBuf>,
    /// Init times, comma separated (2020-01-01T00,2020-01-05T12), or
    /// FROM..TO/HOURS (2020-01-01..2020-01-31/24).
    #[arg(long, required = true)]
    init: String,
    /// Number of model steps.
    #[arg(long)]
    steps: usize,
    /// Hours per model step (the training step).
    #[arg(long, default_value_t = 6)]
    step_hours: i64,
    /// auto, cpu, cuda or cuda:N.
    #[arg(long, default_value = "auto")]
    device: String,
    /// Arithmetic of the Linear layers: f32, or bf16 (mixed precision,
    /// for GPUs).
    #[arg(long, value_enum, default_value_t = Precision::F32)]
    precision: Precision,
    /// Write the persistence baseline (the initial state at every lead) in
    /// the checkpoint's channels instead of running the model.
    #[arg(long)]
    persistence: bool,
    /// Write the climatology baseline instead: the time-mean state of the
    /// data over FROM..TO (e.g. the training period) at every lead.
    #[arg(long, conflicts_with = "persistence")]
    climatology: Option<String>,
    /// Output forecast file (NetCDF).
    #[arg(short, long)]
    output: PathBuf,
}

/// Parses `a,b,c` or `FROM..TO/HOURS`.
pub fn parse_inits(text: &str) -> Result<Vec<Timestamp>> {
    let date = |s: &str| {
        parse_date(s)
            .with_context(|| format!("--init: {s:?} is not a date (2020-01-01 or 2020-01-01T06)"))
    };
    if let Some((range, every)) = text.split_once('/') {
        let (a, b) = range
            .split_once("..")
            .context("--init FROM..TO/HOURS: missing `..`")?;
        let every: i64 = every
            .trim_end_matches('h')
            .parse()
            .with_context(|| format!("--init: {every:?} is not a number of hours"))?;
        if every <= 0 {
            bail!("--init: the spacing must be a positive number of hours");
        }
        let (a, b) = (date(a)?, date(b)?);
        if b < a {
            bail!("--init: {text:?} ends before it starts");
        }
        return Ok((0..)
            .map(|k| a + k * every * HOUR)
            .take_while(|&t| t <= b)
            .collect());
    }
    text.split(',').map(|s| date(s.trim())).collect()
}

pub fn run(args: ForecastArgs) -> Result<()> {
    let inits = parse_inits(&args.init)?;
    let device = parse_device(&args.device)?;
    let mut m = load_checkpoint(&args.checkpoint, device)?;
    m.model.set_precision(args.precision);
    let ds = Dataset::open(&args.data).context("opening the initial-state data")?;
    let reader = reader_for(&m, ds)?;
    let bar = ProgressBar::new((inits.len() * args.steps) as u64);
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} steps {msg}",
        )
        .expect("static template"),
    );
    let method = match (&args.climatology, args.persistence) {
        (Some(range), _) => {
            let (a, b) = range
                .split_once("..")
                .context("--climatology FROM..TO: missing `..`")?;
            let date = |s: &str| {
                parse_date(s).with_context(|| format!("--climatology: {s:?} is not a date"))
            };
            let (from, mut to) = (date(a)?, date(b)?);
            if !b.contains(['T', ' ']) {
                to += 86_400 - 1;
            }
            Method::Climatology { from, to }
        }
        (None, true) => Method::Persistence,
        (None, false) => Method::Model,
    };
    let out = forecast(
        &m,
        &reader,
        &inits,
        args.steps,
        args.step_hours,
        method,
        &args.output,
        &mut |d, _| bar.set_position(d as u64),
    )?;
    bar.finish_and_clear();
    println!(
        "wrote {} {} init time(s) x {} step(s) of {} h from checkpoint step {} -> {}",
        match method {
            Method::Persistence => "persistence baseline:",
            Method::Climatology { .. } => "climatology baseline:",
            Method::Model => "forecast:",
        },
        inits.len(),
        args.steps,
        args.step_hours,
        m.sidecar.step,
        out.display()
    );
    Ok(())
}
