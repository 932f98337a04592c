//! `fastnet eval` and `fastnet spectra`.

use std::fmt::Write as _;
use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::Args;
use fastnet_data::Dataset;
use fastnet_mesh::atomic::write_atomic;

use super::progress::bar;
use crate::forecast::file::ForecastFile;
use crate::scoring::{evaluate, Climatology, Evaluation};
use crate::spectra_report::spectra_report;

#[derive(Args)]
pub struct EvalArgs {
    /// Forecast files written by `fastnet forecast` (one model each; the
    /// file stem names the model, or give NAME=FILE).
    #[arg(long, num_args = 1.., required = true)]
    forecast: Vec<String>,
    /// ERA5 NetCDF truth: files, folders or globs.
    #[arg(long, num_args = 1.., required = true)]
    truth: Vec<PathBuf>,
    /// Climatology (ERA5 layout, matched by day of year and hour) for ACC.
    #[arg(long)]
    climatology: Option<PathBuf>,
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

pub fn run_eval(args: EvalArgs) -> Result<()> {
    let truth = Dataset::open(&args.truth).context("opening the truth")?;
    let clim = match &args.climatology {
        Some(p) => Some(Climatology::new(
            Dataset::open(std::slice::from_ref(p))
                .with_context(|| format!("opening climatology {}", p.display()))?,
        )),
        None => None,
    };
    let mut all: Vec<Evaluation> = Vec::new();
    for spec in &args.forecast {
        let (model, path) = model_and_path(spec);
        let fc = ForecastFile::open(&path)?;
        let b = bar(0, &format!("scoring {model}"));
        let ev = evaluate(&model, &fc, &truth, clim.as_ref(), &mut |done, total| {
            b.set_length(total as u64);
            b.set_position(done as u64);
        })?;
        b.finish_and_clear();
        all.push(ev);
    }
    std::fs::create_dir_all(&args.output)
        .with_context(|| format!("creating {}", args.output.display()))?;
    let json_path = args.output.join("scores.json");
    write_atomic(&json_path, &serde_json::to_vec_pretty(&all)?)
        .with_context(|| format!("writing {}", json_path.display()))?;
    let csv_path = args.output.join("scores.csv");
    let mut csv = String::new();
    writeln!(csv, "model,variable,level_hpa,lead_hours,units,rmse,rmse_sqrt_before_time_avg,bias,mae,acc,count,skipped")?;
    for ev in &all {
        for r in &ev.rows {
            let s = &r.summary;
            writeln!(
                csv,
                "{},{},{},{},{},{},{},{},{},{},{},{}",
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
                r.skipped
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
        "{:<14} {:<10} {:>7} {:>12} {:>12} {:>8} {:>6}",
        "model", "variable", "lead h", "rmse", "bias", "acc", "inits"
    );
    for ev in &all {
        for r in &ev.rows {
            println!(
                "{:<14} {:<10} {:>7} {:>12.4} {:>12.4} {:>8} {:>6}",
                r.model,
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
                "{:<14} {:<10} {:>7} {:>12.4} {:>12} {:>8} {:>6}",
                w.model,
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
    println!(
        "scored {} model(s) -> {} and {}{}",
        all.len(),
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

#[derive(Args)]
pub struct SpectraArgs {
    /// Forecast files (NAME=FILE or FILE).
    #[arg(long, num_args = 1.., required = true)]
    forecast: Vec<String>,
    /// ERA5 NetCDF truth: files, folders or globs.
    #[arg(long, num_args = 1.., required = true)]
    truth: Vec<PathBuf>,
    /// Channels, e.g. z500,t850,t2m.
    #[arg(long, value_delimiter = ',', required = true)]
    variables: Vec<String>,
    /// Lead times in hours.
    #[arg(long, value_delimiter = ',', required = true)]
    leads: Vec<i64>,
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
