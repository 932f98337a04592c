//! `fastnet spectra`: forecasts against the truth, or (without
//! `--forecast`) the data alone.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::Args;
use fastnet_data::Dataset;
use fastnet_mesh::atomic::write_atomic;

use super::evaluate::model_and_path;
use super::progress::bar;
use crate::forecast::file::ForecastFile;
use crate::spectra_report::{select_times, spectra_report, truth_spectra};

#[derive(Args)]
pub struct SpectraArgs {
    /// Forecast files (NAME=FILE or FILE). Without them, the spectra of the
    /// --truth data alone.
    #[arg(long, num_args = 1..)]
    forecast: Vec<String>,
    /// ERA5 NetCDF data (files, folders or globs) or an anemoi-datasets
    /// Zarr store.
    #[arg(long, num_args = 1.., required = true)]
    truth: Vec<PathBuf>,
    /// Channels, e.g. z500,t850,t2m.
    #[arg(long, value_delimiter = ',', required = true)]
    variables: Vec<String>,
    /// Lead times in hours (with --forecast).
    #[arg(long, value_delimiter = ',')]
    leads: Vec<i64>,
    /// Times of the data to average (without --forecast): FROM..TO,
    /// FROM..TO/HOURS or D1,D2,...; default all.
    #[arg(long)]
    times: Option<String>,
    /// Truncation of the spherical-harmonic transform (default: the grid's,
    /// e.g. 95 on O96, nlat/2 on lat-lon grids); lower it to compare only
    /// scales the truth resolves (data regridded from T42: 42).
    #[arg(long)]
    lmax: Option<usize>,
    /// Output JSON file.
    #[arg(short, long)]
    output: PathBuf,
}

pub fn run_spectra(args: SpectraArgs) -> Result<()> {
    if args.forecast.is_empty() {
        return run_truth_spectra(args);
    }
    if args.leads.is_empty() {
        bail!("--leads is required with --forecast (lead times in hours, e.g. --leads 24,120)");
    }
    if args.times.is_some() {
        bail!("--times selects the data's times for spectra without --forecast; with --forecast the valid times are the forecast's (init + lead)");
    }
    let truth = Dataset::open(&args.truth).context("opening the truth")?;
    let files: Vec<(String, ForecastFile)> = args
        .forecast
        .iter()
        .map(|s| model_and_path(s))
        .map(|(m, p)| ForecastFile::open(&p).map(|f| (m, f)))
        .collect::<Result<_>>()?;
    let b = bar(0, "spectra");
    let out = spectra_report(
        &files,
        &truth,
        &args.variables,
        &args.leads,
        args.lmax,
        &mut |done, total| {
            b.set_length(total as u64);
            b.set_position(done as u64);
        },
    )?;
    b.finish_and_clear();
    if out.is_empty() {
        bail!("no spectra requested");
    }
    write_atomic(&args.output, &serde_json::to_vec_pretty(&out)?)
        .with_context(|| format!("writing {}", args.output.display()))?;
    if let Some(e) = out.first() {
        println!("spectra from the {}", e.transform);
    }
    for e in &out {
        let res: Vec<String> = e
            .effective_resolution_km
            .iter()
            .map(|(m, r)| format!("{m} {}", r.map_or("-".into(), |k| format!("{k:.0} km"))))
            .collect();
        println!(
            "{} at {} h: effective resolution {}",
            e.variable,
            e.lead_hours,
            res.join(", ")
        );
        let ratios: Vec<String> = e
            .small_scale_power_ratio
            .iter()
            .map(|(m, r)| match r {
                Some(r) => format!("{m} {r:.2}"),
                None => format!("{m} -"),
            })
            .collect();
        println!(
            "{} at {} h: small-scale power / truth (l >= lmax/2) {}",
            e.variable,
            e.lead_hours,
            ratios.join(", ")
        );
    }
    println!("wrote {}", args.output.display());
    Ok(())
}

/// `fastnet spectra --truth ... --variables ...` without forecasts.
fn run_truth_spectra(args: SpectraArgs) -> Result<()> {
    if !args.leads.is_empty() {
        bail!(
            "--leads needs --forecast; without it the spectra are of the --truth data at --times"
        );
    }
    let ds = Dataset::open(&args.truth).context("opening the data")?;
    let times = select_times(&ds, args.times.as_deref())?;
    let b = bar(0, "fields");
    let out = truth_spectra(
        &ds,
        &args.variables,
        &times,
        args.lmax,
        &mut |done, total| {
            b.set_length(total as u64);
            b.set_position(done as u64);
        },
    )?;
    b.finish_and_clear();
    write_atomic(&args.output, &serde_json::to_vec_pretty(&out)?)
        .with_context(|| format!("writing {}", args.output.display()))?;
    if let Some(e) = out.spectra.first() {
        println!("spectra of the data from the {}", e.transform);
    }
    for e in &out.spectra {
        let (l, p) = e
            .power
            .iter()
            .enumerate()
            .skip(1)
            .fold((0, f64::MIN), |m, (l, &p)| if p > m.1 { (l, p) } else { m });
        println!(
            "{}: mean of {} fields ({} .. {}), most power at l = {l} ({p:.4e} {})",
            e.variable, e.times, e.first_time, e.last_time, e.units
        );
    }
    println!("wrote {}", args.output.display());
    Ok(())
}
