//! `fastnet stats`: normalisation statistics of a channel set over a date
//! range.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use clap::Args;
use fastnet_data::channels::ChannelSet;
use fastnet_data::features::FeatureReader;
use fastnet_data::time::parse_period;
use fastnet_data::zarr::statistics::seed_from_store;
use fastnet_data::{stats, Dataset};

use super::progress;

#[derive(Args)]
pub struct StatsArgs {
    /// NetCDF files, folders (their *.nc files) or glob patterns, or one
    /// anemoi-datasets Zarr store (`era5-o96.zarr`, `ens.zarr#member=N`).
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
    /// Take the mean and std of every field channel the store carries from
    /// the anemoi-datasets store's own statistics (unweighted, over its
    /// statistics period) instead of ours; the change statistic and the
    /// forcings are still computed here. Each seeded channel is compared
    /// with our own figures and disagreements are reported.
    #[arg(long)]
    from_dataset_statistics: bool,
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
    let ds = std::sync::Arc::new(ds);
    let reader =
        FeatureReader::new(ds.clone(), set.clone()).context("reading the static fields")?;
    let bar = progress::bar(0, "times");
    bar.enable_steady_tick(Duration::from_millis(200));
    let start = Instant::now();
    let s = stats::compute(&reader, from, to, args.step_hours, &mut |done, total| {
        bar.set_length(total as u64);
        bar.set_position(done as u64);
    })?;
    bar.finish_and_clear();
    let mut s = s;
    if args.from_dataset_statistics {
        let report = seed_from_store(&mut s, &ds, &set).context("--from-dataset-statistics")?;
        let store = ds.files[0].path.display().to_string();
        s.statistics_source = Some(format!(
            "anemoi-datasets statistics of {store} (mean, stdev of the field channels; change_std and forcings computed by fastnet)"
        ));
        if !args.json {
            println!(
                "{:<12} {:<10} {:>14} {:>14} {:>12} {:>12}",
                "channel", "store var", "store mean", "our mean", "store std", "our std"
            );
        }
        let mut disagree = Vec::new();
        for r in &report {
            if let (Some(v), Some(m), Some(sd)) = (&r.store_variable, r.store_mean, r.store_std) {
                if !args.json {
                    println!(
                        "{:<12} {:<10} {:>14.6e} {:>14.6e} {:>12.5e} {:>12.5e}",
                        r.channel, v, m, r.ours_mean, sd, r.ours_std
                    );
                }
                if r.disagrees {
                    disagree.push(r.channel.clone());
                }
            }
        }
        let seeded = report.iter().filter(|r| r.store_variable.is_some()).count();
        eprintln!(
            "{seeded} of {} channels seeded from the store's statistics (the others: computed here)",
            report.len()
        );
        for c in &disagree {
            eprintln!(
                "warning: {c}: the store's mean/std disagree with ours (mean more than std/2 apart or std off by more than 2x): stale statistics, another variable or other units?"
            );
        }
    }
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
