//! `fastnet data inspect`.

use std::path::PathBuf;

use anyhow::{bail, Result};
use clap::{Args, Subcommand};
use fastnet_data::inspect::{check_values, inspect, Inspection, TimeSummary};
use fastnet_data::Dataset;

use super::progress::bar;

#[derive(Subcommand)]
pub enum DataCommand {
    /// Print variables, levels, grid, time coverage and step, gaps and
    /// packing per file and merged; exit non-zero with one line per problem.
    Inspect(InspectArgs),
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
    }
}

fn run_inspect(args: InspectArgs) -> Result<()> {
    let mut report = inspect(&args.paths);
    if args.values && report.problems.is_empty() {
        let ds = Dataset::open(&args.paths)?;
        let pb = bar(ds.times.len() as u64, "times");
        let lines = check_values(&ds, 50, &mut |done, _| pb.set_position(done as u64));
        pb.finish_and_clear();
        report.problems.extend(lines);
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_report(&report);
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
            println!("  {:<10} {}", v.name, parts.join(", "));
        }
        println!();
    }
    if let Some(m) = &r.merged {
        println!("merged: {} files", r.files.len());
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
