//! `fastnet stats`: normalisation statistics of a channel set over a date
//! range.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use clap::Args;
use fastnet_data::channels::ChannelSet;
use fastnet_data::features::FeatureReader;
use fastnet_data::time::parse_period;
use fastnet_data::{stats, Dataset};

use super::progress;

#[derive(Args)]
pub struct StatsArgs {
    /// NetCDF files, folders (their *.nc files) or glob patterns.
    #[arg(long, required = true, num_args = 1..)]
    data: Vec<PathBuf>,
    /// First time, e.g. 1979-01-01 or 2020-01-01T06.
    #[arg(long)]
    from: String,
    /// Last time (inclusive; a bare date includes that whole day).
    #[arg(long)]
    to: String,
    /// Output file.
    #[arg(short, long)]
    output: PathBuf,
    /// Forecast channels, comma separated (z500,t850,t2m,...); default: the
    /// 72 FastNet channels.
    #[arg(long, value_delimiter = ',')]
    forecast: Option<Vec<String>>,
    /// Non-forecast channels, comma separated; default: FastNet's 12.
    #[arg(long, value_delimiter = ',')]
    non_forecast: Option<Vec<String>>,
    /// Fail instead of skipping static channels (lsm, orography, sdor, slor)
    /// whose variable is absent.
    #[arg(long)]
    require_static: bool,
    /// Time step in hours between the states used (and of the change
    /// statistic).
    #[arg(long, default_value_t = 6)]
    step_hours: i64,
    /// Print the result as JSON.
    #[arg(long)]
    json: bool,
}

pub fn run(args: StatsArgs) -> Result<()> {
    let (from, to) = parse_period(&args.from, &args.to)?;
    let ds = Dataset::open(&args.data).context("opening the data")?;
    let (set, warnings) =
        ChannelSet::requested(args.non_forecast.as_deref(), args.forecast.as_deref())?
            .resolve(&ds, args.require_static)?;
    for w in &warnings {
        eprintln!("warning: {w}");
    }
    let reader =
        FeatureReader::new(std::sync::Arc::new(ds), set).context("reading the static fields")?;
    let bar = progress::bar(0, "times");
    bar.enable_steady_tick(Duration::from_millis(200));
    let start = Instant::now();
    let s = stats::compute(&reader, from, to, args.step_hours, &mut |done, total| {
        bar.set_length(total as u64);
        bar.set_position(done as u64);
    })?;
    bar.finish_and_clear();
    s.save(&args.output)
        .with_context(|| format!("writing {}", args.output.display()))?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&s)?);
    } else {
        println!(
            "stats of {} channels over {} times ({} skipped, {} change pairs), {} .. {}, in {:.1} s -> {}",
            s.channels.len(),
            s.times_used,
            s.times_skipped,
            s.change_pairs,
            s.from,
            s.to,
            start.elapsed().as_secs_f64(),
            args.output.display()
        );
    }
    Ok(())
}
