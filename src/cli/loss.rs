//! `fastnet loss --forecast F.nc --truth PATHS (--checkpoint C | --stats stats.json [--config C.toml])`.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;
use fastnet_data::stats::Stats;
use fastnet_data::Dataset;
use fastnet_losses::LossConfig;

use crate::checkpoint::read_sidecar;
use crate::forecast::file::ForecastFile;
use crate::loss_report::{loss_report, ReportLoss};
use crate::train::config::TrainConfig;

#[derive(Args)]
pub struct LossArgs {
    /// Forecast file written by `fastnet forecast`, on a lat-lon or a
    /// Gaussian grid (O96: fields on its `values` point dimension); the
    /// truth must be on the same grid.
    #[arg(long)]
    forecast: PathBuf,
    /// ERA5 NetCDF truth: files, folders or globs, or an anemoi-datasets
    /// Zarr store.
    #[arg(long, num_args = 1.., required = true)]
    truth: Vec<PathBuf>,
    /// A training checkpoint (sidecar, weights file or folder): the loss
    /// exactly as that run saw it — its statistics, weights, measured
    /// normalisers and running AMSE normaliser.
    #[arg(long, required_unless_present = "stats", conflicts_with_all = ["stats", "config"])]
    checkpoint: Option<PathBuf>,
    /// Statistics from `fastnet stats` (normalisation and channel weights);
    /// the gradient and wind-speed normalisers are then measured on the
    /// truth at the scored valid times.
    #[arg(long)]
    stats: Option<PathBuf>,
    /// With --stats: a training config whose [loss] and [data] surface
    /// weights set the weighted totals (default: every term on with λ = 1,
    /// wind on).
    #[arg(long, requires = "stats")]
    config: Option<PathBuf>,
    /// Print JSON instead of tables.
    #[arg(long)]
    json: bool,
}

pub fn run(args: LossArgs) -> Result<()> {
    let fc = ForecastFile::open(&args.forecast)?;
    let truth = Dataset::open(&args.truth).context("opening the truth")?;
    let r = match (&args.checkpoint, &args.stats) {
        (Some(c), _) => {
            let (path, sidecar) = read_sidecar(c)?;
            loss_report(
                &fc,
                &truth,
                ReportLoss::Checkpoint {
                    sidecar: &sidecar,
                    path: &path,
                },
            )?
        }
        (None, Some(stats_path)) => report_from_stats(&args, &fc, &truth, stats_path)?,
        (None, None) => anyhow::bail!("give --checkpoint or --stats"),
    };
    print(&r, args.json)
}

fn report_from_stats(
    args: &LossArgs,
    fc: &ForecastFile,
    truth: &Dataset,
    stats_path: &std::path::Path,
) -> Result<crate::loss_report::LossReport> {
    let (loss, surface, default) = match &args.config {
        Some(p) => {
            let c = TrainConfig::load(p)?;
            (c.loss, c.data.surface_weights, c.data.surface_default)
        }
        None => (
            LossConfig {
                mse: 1.0,
                amse: 1.0,
                grad_x: 1.0,
                grad_y: 1.0,
                wind: true,
                ..LossConfig::default()
            },
            [("t2m".to_string(), 1.0)].into(),
            0.1,
        ),
    };
    let stats = Stats::load(stats_path)?;
    loss_report(
        fc,
        truth,
        ReportLoss::Stats {
            stats: &stats,
            stats_path,
            config: &loss,
            surface_weights: &surface,
            surface_default: default,
        },
    )
}

fn print(r: &crate::loss_report::LossReport, json: bool) -> Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(&r)?);
        return Ok(());
    }
    println!("loss set-up from {}", r.setup);
    println!(
        "{:<8} {:<10} {:>12} {:>12} {:>12} {:>12}",
        "lead h", "channel", "mse", "amse", "grad_x", "grad_y"
    );
    for row in &r.rows {
        println!(
            "{:<8} {:<10} {:>12.5} {:>12.5} {:>12.5} {:>12.5}",
            row.lead_hours, row.channel, row.mse, row.amse, row.grad_x, row.grad_y
        );
    }
    if !r.wind.is_empty() {
        println!(
            "\n{:<8} {:<10} {:>12} {:>12}",
            "lead h", "wind", "direction", "speed"
        );
        for w in &r.wind {
            println!(
                "{:<8} {:<10} {:>12.5} {:>12.5}",
                w.lead_hours, w.pair, w.direction, w.speed
            );
        }
    }
    println!("\nweighted terms (λ and channel weights applied, as in training):");
    for (lead, terms) in &r.totals {
        let parts: Vec<String> = terms.iter().map(|(k, v)| format!("{k} {v:.5}")).collect();
        println!(
            "  {lead:>4} h ({} inits): {}",
            r.inits.get(lead).copied().unwrap_or(0),
            parts.join(", ")
        );
    }
    Ok(())
}
