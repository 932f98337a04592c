//! `fastnet eval`.

use std::fmt::Write as _;
use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;
use fastnet_eval::Region;
use fastnet_mesh::atomic::write_atomic;

use super::progress::bar;
use crate::forecast::file::ForecastFile;
use crate::scoring::{evaluate, Climatology, Evaluation, Truth};

#[derive(Args)]
pub struct EvalArgs {
    /// Forecast files: written by `fastnet forecast` (NetCDF or Zarr) or in
    /// WeatherBench2's layout (NetCDF or Zarr); one model each, the file
    /// stem names the model, or give NAME=FILE.
    #[arg(long, num_args = 1.., required = true)]
    forecast: Vec<String>,
    /// Truth: ERA5 NetCDF files, folders or globs, or anemoi Zarr stores;
    /// or a regional lat-lon box (a CDS `area` download) on the forecast's
    /// lattice, which scores the box's points only.
    #[arg(long, num_args = 1.., required = true)]
    truth: Vec<PathBuf>,
    /// Climatology for ACC: a WeatherBench2 climatology (`hour` x
    /// `dayofyear`, NetCDF or Zarr) or ERA5-layout data (matched by day of
    /// year and hour).
    #[arg(long)]
    climatology: Option<PathBuf>,
    /// Regions to average over: WeatherBench2's (global, tropics,
    /// extra-tropics, northern-hemisphere, southern-hemisphere, europe,
    /// north-america, north-atlantic, north-pacific, east-asia, ausnz,
    /// arctic, antarctic) or `all`; default global.
    #[arg(long, num_args = 1..)]
    region: Vec<String>,
    /// A latitude-longitude box to average over, LAT0,LAT1,LON0,LON1
    /// (degrees; south to north, west eastward to east); may be repeated.
    #[arg(
        long = "box",
        value_name = "LAT0,LAT1,LON0,LON1",
        allow_hyphen_values = true
    )]
    boxes: Vec<String>,
    /// Folder for scores.json and scores.csv.
    #[arg(short, long, default_value = ".")]
    output: PathBuf,
    /// Print JSON instead of the summary table.
    #[arg(long)]
    json: bool,
}

/// `NAME=FILE` or `FILE` (name = file stem).
pub fn model_and_path(spec: &str) -> (String, PathBuf) {
    match spec.split_once('=') {
        Some((n, p)) if !n.is_empty() && !n.contains('/') => (n.to_string(), PathBuf::from(p)),
        _ => {
            let p = PathBuf::from(spec);
            (
                p.file_stem()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_else(|| spec.to_string()),
                p,
            )
        }
    }
}

/// The regions of `--region` and `--box`, in order (none: global).
fn regions_of(args: &EvalArgs) -> Result<Vec<Region>> {
    let mut out = Vec::new();
    for r in &args.region {
        if r == "all" {
            for n in Region::standard_names() {
                out.push(Region::standard(n)?);
            }
        } else {
            out.push(Region::standard(r).context("--region")?);
        }
    }
    for b in &args.boxes {
        if b.split(',').count() != 4 {
            anyhow::bail!("--box {b}: expected LAT0,LAT1,LON0,LON1 in degrees");
        }
        out.push(Region::parse(b).with_context(|| format!("--box {b}"))?);
    }
    Ok(out)
}

pub fn run_eval(args: EvalArgs) -> Result<()> {
    let regions = regions_of(&args)?;
    let truth = Truth::open(&args.truth)?;
    if let Some(area) = truth.area() {
        eprintln!("note: regional truth {area}: scores cover its points only");
    }
    let clim = match &args.climatology {
        Some(p) => Some(Climatology::open(p)?),
        None => None,
    };
    let mut all: Vec<Evaluation> = Vec::new();
    for spec in &args.forecast {
        let (model, path) = model_and_path(spec);
        let fc = ForecastFile::open(&path)?;
        if !fc.ignored.is_empty() {
            eprintln!(
                "note: {}: not scored: {}",
                path.display(),
                fc.ignored.join(", ")
            );
        }
        let b = bar(0, &format!("scoring {model}"));
        let ev = evaluate(
            &model,
            &fc,
            &truth,
            clim.as_ref(),
            &regions,
            &mut |done, total| {
                b.set_length(total as u64);
                b.set_position(done as u64);
            },
        )?;
        b.finish_and_clear();
        all.extend(ev);
    }
    std::fs::create_dir_all(&args.output)
        .with_context(|| format!("creating {}", args.output.display()))?;
    let json_path = args.output.join("scores.json");
    write_atomic(&json_path, &serde_json::to_vec_pretty(&all)?)
        .with_context(|| format!("writing {}", json_path.display()))?;
    let csv_path = args.output.join("scores.csv");
    let mut csv = String::new();
    writeln!(csv, "model,variable,level_hpa,lead_hours,units,rmse,rmse_sqrt_before_time_avg,bias,mae,acc,count,skipped,region")?;
    for ev in &all {
        for r in &ev.rows {
            let s = &r.summary;
            writeln!(
                csv,
                "{},{},{},{},{},{},{},{},{},{},{},{},{}",
                r.model,
                r.variable,
                r.level_hpa.map_or(String::new(), |l| l.to_string()),
                r.lead_hours,
                r.units,
                s.rmse,
                s.rmse_sqrt_before_time_avg,
                s.bias,
                s.mae,
                s.acc.map_or(String::new(), |a| a.to_string()),
                s.count,
                r.skipped,
                r.region
            )?;
        }
        // wind vectors: WeatherBench2's wind_vector_rmse in the rmse columns
        for w in &ev.wind {
            let s = &w.summary;
            writeln!(
                csv,
                "{},{},{},{},m s**-1,{},{},,,,{},,{}",
                w.model,
                w.variable,
                w.variable
                    .trim_start_matches("wind")
                    .trim_end_matches("10m"),
                w.lead_hours,
                s.wind_vector_rmse,
                s.wind_vector_rmse_sqrt_before_time_avg,
                s.count,
                w.region
            )?;
        }
    }
    write_atomic(&csv_path, csv.as_bytes())
        .with_context(|| format!("writing {}", csv_path.display()))?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&all)?);
        return Ok(());
    }
    println!(
        "{:<14} {:<20} {:<10} {:>7} {:>12} {:>12} {:>8} {:>6}",
        "model", "region", "variable", "lead h", "rmse", "bias", "acc", "inits"
    );
    for ev in &all {
        for r in &ev.rows {
            println!(
                "{:<14} {:<20} {:<10} {:>7} {:>12.4} {:>12.4} {:>8} {:>6}",
                r.model,
                r.region,
                r.variable,
                r.lead_hours,
                r.summary.rmse,
                r.summary.bias,
                r.summary.acc.map_or("-".to_string(), |a| format!("{a:.3}")),
                r.summary.count
            );
        }
        for w in &ev.wind {
            println!(
                "{:<14} {:<20} {:<10} {:>7} {:>12.4} {:>12} {:>8} {:>6}",
                w.model,
                w.region,
                w.variable,
                w.lead_hours,
                w.summary.wind_vector_rmse,
                "(vector)",
                "-",
                w.summary.count
            );
        }
    }
    let skipped: usize = all.iter().flat_map(|e| &e.rows).map(|r| r.skipped).sum();
    let mut models: Vec<&str> = all.iter().map(|e| e.model.as_str()).collect();
    models.dedup();
    let mut regions: Vec<&str> = all.iter().map(|e| e.region.as_str()).collect();
    regions.sort_unstable();
    regions.dedup();
    println!(
        "scored {} model(s) over {} -> {} and {}{}",
        models.len(),
        regions.join(", "),
        json_path.display(),
        csv_path.display(),
        if skipped > 0 {
            format!(" ({skipped} field(s) skipped: valid time not in the truth)")
        } else {
            String::new()
        }
    );
    Ok(())
}
