//! `fastnet data inspect` and `fastnet data regrid`.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};
use fastnet_data::dataset::expand_paths;
use fastnet_data::inspect::{check_box_values, check_values, inspect, Inspection, TimeSummary};
use fastnet_data::regrid::{count_fields, Method, Regridder};
use fastnet_data::scan::scan_file;
use fastnet_data::Dataset;
use fastnet_mesh::Grid;

use super::progress::bar;

#[derive(Subcommand)]
pub enum DataCommand {
    /// Print variables, levels, grid, time coverage and step, gaps and
    /// packing per file and merged; exit non-zero with one line per problem.
    /// Readable files the training catalogue cannot take (regional boxes,
    /// monthly climatologies, ERA5/ERA5T `expver` mixes) are described with
    /// notes and left out of the merged catalogue.
    Inspect(InspectArgs),
    /// Regrid lat-lon NetCDF files (ERA5, WeatherBench) to a reduced
    /// Gaussian grid (O96, N320, ...): one file per input, of the same name,
    /// in the output folder, in anemoi-inference's layout (a point
    /// dimension `values` with per-point latitude and longitude).
    Regrid(RegridArgs),
}

#[derive(Args)]
pub struct RegridArgs {
    /// Lat-lon NetCDF files, folders (their *.nc files) or glob patterns.
    #[arg(required = true)]
    paths: Vec<PathBuf>,
    /// Target grid: o96, O320, n48, ... (any oN or nN).
    #[arg(long)]
    grid: String,
    /// Output folder (created if absent).
    #[arg(short, long)]
    output: PathBuf,
    /// bilinear (in latitude-longitude, default) or conservative (first
    /// order; preserves the area mean).
    #[arg(long, default_value = "bilinear", value_parser = ["bilinear", "conservative"])]
    method: String,
    /// Print one JSON report per file instead of the summary line.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
pub struct InspectArgs {
    /// NetCDF files, folders (their *.nc files) or glob patterns.
    #[arg(required = true)]
    paths: Vec<PathBuf>,
    /// Also read every field and report NaN / fill values (slow: reads all
    /// the data).
    #[arg(long)]
    values: bool,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

pub fn run(cmd: DataCommand) -> Result<()> {
    match cmd {
        DataCommand::Inspect(args) => run_inspect(args),
        DataCommand::Regrid(args) => run_regrid(args),
    }
}

fn run_regrid(args: RegridArgs) -> Result<()> {
    let start = Instant::now();
    let target = Grid::from_spec(&args.grid).with_context(|| format!("--grid {}", args.grid))?;
    let method: Method = args.method.parse()?;
    let mut regridder = Regridder::new(target, method)?;
    let inputs = expand_paths(&args.paths)?;
    let mut plans = Vec::with_capacity(inputs.len());
    let mut names = BTreeSet::new();
    for path in &inputs {
        let info = scan_file(path)?;
        let name = path
            .file_name()
            .with_context(|| format!("{}: not a file name", path.display()))?
            .to_owned();
        if !names.insert(name.clone()) {
            bail!(
                "two inputs are named {}; their outputs in {} would collide",
                name.to_string_lossy(),
                args.output.display()
            );
        }
        plans.push((args.output.join(&name), info));
    }
    std::fs::create_dir_all(&args.output)
        .with_context(|| format!("creating {}", args.output.display()))?;
    let total: usize = plans.iter().map(|(_, info)| count_fields(info)).sum();
    let pb = bar(total as u64, "fields");
    let mut reports = Vec::with_capacity(plans.len());
    for (out, info) in &plans {
        pb.set_message(info.path.display().to_string());
        // (the library's errors name the file)
        let report = regridder.regrid_scanned(info, out, &mut || pb.inc(1))?;
        reports.push(report);
    }
    pb.finish_and_clear();
    for r in &reports {
        for d in &r.dropped {
            eprintln!("warning: {}: dropped {d}", r.input.display());
        }
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&reports)?);
    } else {
        let sources: BTreeSet<&str> = reports.iter().map(|r| r.source_grid.as_str()).collect();
        let fields: usize = reports.iter().map(|r| r.fields).sum();
        println!(
            "regridded {fields} fields in {} files from {} to {} ({method}) in {:.1} s -> {}",
            reports.len(),
            sources.into_iter().collect::<Vec<_>>().join(", "),
            regridder.target().describe(),
            start.elapsed().as_secs_f64(),
            args.output.display()
        );
    }
    Ok(())
}

fn run_inspect(args: InspectArgs) -> Result<()> {
    let mut report = inspect(&args.paths);
    let mut value_notes = Vec::new();
    if args.values && report.problems.is_empty() {
        let catalogue = report.catalogue_paths();
        if !catalogue.is_empty() {
            let ds = Dataset::open(&catalogue)?;
            let pb = bar(ds.times.len() as u64, "times");
            let lines = check_values(&ds, 50, &mut |done, _| pb.set_position(done as u64));
            pb.finish_and_clear();
            report.problems.extend(lines);
        }
        value_notes = check_box_values(&report);
    }
    if args.json {
        let mut v = serde_json::to_value(&report)?;
        if args.values {
            v["value_notes"] = serde_json::json!(value_notes);
        }
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        print_report(&report);
        for n in &value_notes {
            println!("note: {n}");
        }
    }
    for p in &report.problems {
        eprintln!("problem: {p}");
    }
    match report.problems.len() {
        0 => Ok(()),
        1 => bail!("1 problem found in the data"),
        n => bail!("{n} problems found in the data"),
    }
}

fn gaps(t: &TimeSummary) {
    for g in t.gaps.iter().take(10) {
        println!(
            "  gap        {} .. {} ({} steps missing)",
            g.after, g.before, g.missing_steps
        );
    }
    if t.gaps.len() > 10 {
        println!("  ...        {} more gaps", t.gaps.len() - 10);
    }
}

fn print_report(r: &Inspection) {
    for f in &r.files {
        println!("{}", f.path.display());
        let layout = f.layout.as_deref().unwrap_or("unknown layout");
        println!("  format     {} ({layout})", f.format);
        println!("  grid       {} [{}]", f.grid, f.orientation);
        if !f.in_catalogue {
            println!("  catalogue  not part of the merged catalogue");
        }
        println!("  time       {}", f.time.describe());
        gaps(&f.time);
        for v in &f.variables {
            let mut parts = Vec::new();
            if v.name != v.short {
                parts.push(format!("-> {}", v.short));
            }
            if let Some(l) = &v.levels {
                parts.push(format!("{} levels {l:?} hPa", l.len()));
            }
            parts.push(format!(
                "units {:?}",
                v.units.as_deref().unwrap_or("(none)")
            ));
            parts.push(v.packing.clone());
            if let Some(m) = &v.missing {
                parts.push(format!("missing {m}"));
            }
            if !v.other_dims.is_empty() {
                parts.push(format!("along {}", v.other_dims.join(", ")));
            }
            println!("  {:<10} {}", v.name, parts.join(", "));
        }
        for n in &f.notes {
            println!("  note       {n}");
        }
        println!();
    }
    if let Some(m) = &r.merged {
        let n = r.files.iter().filter(|f| f.in_catalogue).count();
        let left_out = r.files.len() - n;
        let extra = if left_out > 0 {
            format!(" ({left_out} more described above but left out)")
        } else {
            String::new()
        };
        println!("merged: {n} files{extra}");
        println!("  grid       {}", m.grid);
        println!("  time       {}", m.time.describe());
        gaps(&m.time);
        for v in &m.variables {
            let levels = v
                .levels
                .as_ref()
                .map_or(String::new(), |l| format!(", {} levels", l.len()));
            println!("  {:<18} {:?}{levels}, {} times", v.short, v.kind, v.times);
        }
    }
}
