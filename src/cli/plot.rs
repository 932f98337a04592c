//! `fastnet plot spectra|rmse|map`.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand, ValueEnum};
use fastnet_data::channels::parse_field;
use fastnet_data::Dataset;
use fastnet_eval::metrics::Summary;
use fastnet_eval::plots::{
    plot_lead_time, plot_maps, plot_spectra, plot_truth_spectra, Line, MapPanel, Panel,
};

use super::evaluate::model_and_path;
use crate::forecast::file::ForecastFile;
use crate::scoring::{field_error, Evaluation};
use crate::spectra_report::truth::TRUTH_KIND;
use crate::spectra_report::{SpectrumEntry, TruthSpectra};

#[derive(Subcommand)]
pub enum PlotCommand {
    /// Power spectra from `fastnet spectra` JSON: one panel per variable and
    /// lead; for spectra of data alone (no forecast), per variable the power
    /// per total wavenumber and the zonal spectra of the latitude bands.
    Spectra(SpectraPlotArgs),
    /// RMSE (or another score) against lead time from `fastnet eval`'s scores.json.
    Rmse(RmsePlotArgs),
    /// A forecast field and its error against the truth on a map.
    Map(MapArgs),
}

#[derive(Args)]
pub struct SpectraPlotArgs {
    /// spectra.json from `fastnet spectra`.
    input: PathBuf,
    /// Output .png or .svg.
    #[arg(short, long)]
    output: PathBuf,
}

#[derive(Args)]
pub struct RmsePlotArgs {
    /// scores.json from `fastnet eval`.
    input: PathBuf,
    #[arg(short, long)]
    output: PathBuf,
    /// Channels to draw (default: all).
    #[arg(long, value_delimiter = ',')]
    variables: Vec<String>,
    /// Score to draw.
    #[arg(long, value_enum, default_value_t = Score::Rmse)]
    score: Score,
}

/// The scores of a `fastnet eval` row that `plot rmse` can draw; the value
/// names are the field names of scores.json.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Score {
    /// sqrt of the mean MSE over init times (WeatherBench2 `rmse`).
    Rmse,
    /// Mean over init times of each init time's RMSE.
    #[value(name = "rmse_sqrt_before_time_avg")]
    RmseSqrtBeforeTimeAvg,
    /// Mean forecast − truth.
    Bias,
    /// Mean absolute error.
    Mae,
    /// Anomaly correlation (needs `fastnet eval --climatology`).
    Acc,
}

impl Score {
    /// Its name on the command line and in scores.json.
    fn name(self) -> String {
        self.to_possible_value()
            .expect("no value is skipped")
            .get_name()
            .to_string()
    }

    /// Its value in `s`; `None` for ACC scored without a climatology.
    fn of(self, s: &Summary) -> Option<f64> {
        match self {
            Score::Rmse => Some(s.rmse),
            Score::RmseSqrtBeforeTimeAvg => Some(s.rmse_sqrt_before_time_avg),
            Score::Bias => Some(s.bias),
            Score::Mae => Some(s.mae),
            Score::Acc => s.acc,
        }
    }
}

#[derive(Args)]
pub struct MapArgs {
    /// Forecast file (NAME=FILE or FILE).
    #[arg(long)]
    forecast: String,
    /// ERA5 NetCDF truth, or an anemoi-datasets Zarr store.
    #[arg(long, num_args = 1.., required = true)]
    truth: Vec<PathBuf>,
    /// Channel, e.g. t2m or z500.
    #[arg(long)]
    variable: String,
    /// Index of the init time in the file.
    #[arg(long, default_value_t = 0)]
    init: usize,
    /// Lead time in hours.
    #[arg(long)]
    lead: i64,
    /// File with a land-sea mask `lsm` for the coastline.
    #[arg(long)]
    lsm: Option<PathBuf>,
    #[arg(short, long)]
    output: PathBuf,
}

/// A line of `p[k]` against `k`.
fn line(label: &str, p: &[f64]) -> Line {
    Line {
        label: label.to_string(),
        points: p.iter().enumerate().map(|(l, &v)| (l as f64, v)).collect(),
    }
}

/// Truth-only spectra: per variable a total-wavenumber panel, then per
/// variable a zonal panel with one line per latitude band.
fn draw_truth_spectra(t: &TruthSpectra, output: &std::path::Path) -> Result<()> {
    if t.spectra.is_empty() {
        bail!("the spectra file holds no spectrum");
    }
    let total: Vec<Panel> = t
        .spectra
        .iter()
        .map(|e| Panel {
            title: format!("{}, mean of {} fields", e.variable, e.times),
            units: e.units.clone(),
            lines: vec![line("data", &e.power)],
        })
        .collect();
    let zonal: Vec<Panel> = t
        .spectra
        .iter()
        .filter(|e| !e.zonal.is_empty())
        .map(|e| Panel {
            title: format!("{}, zonal energy spectra", e.variable),
            units: e.zonal[0].units.clone(),
            lines: e.zonal.iter().map(|z| line(&z.band, &z.power)).collect(),
        })
        .collect();
    plot_truth_spectra(
        output,
        &format!("Spectra of the data ({})", t.grid),
        &total,
        &zonal,
    )?;
    println!("wrote {}", output.display());
    Ok(())
}

pub fn run(cmd: PlotCommand) -> Result<()> {
    match cmd {
        PlotCommand::Spectra(a) => {
            let text = std::fs::read_to_string(&a.input)
                .with_context(|| format!("reading {}", a.input.display()))?;
            let value: serde_json::Value = serde_json::from_str(&text)
                .with_context(|| format!("{}: not a `fastnet spectra` file", a.input.display()))?;
            if value.get("kind").and_then(|k| k.as_str()) == Some(TRUTH_KIND) {
                let t: TruthSpectra = serde_json::from_value(value).with_context(|| {
                    format!("{}: not a `fastnet spectra` file", a.input.display())
                })?;
                return draw_truth_spectra(&t, &a.output);
            }
            let entries: Vec<SpectrumEntry> = serde_json::from_value(value)
                .with_context(|| format!("{}: not a `fastnet spectra` file", a.input.display()))?;
            let panels: Vec<Panel> = entries
                .iter()
                .map(|e| {
                    let mut lines = vec![line("truth", &e.truth)];
                    lines.extend(e.models.iter().map(|(m, p)| line(m, p)));
                    Panel {
                        title: format!("{}, {} h", e.variable, e.lead_hours),
                        units: e.units.clone(),
                        lines,
                    }
                })
                .collect();
            plot_spectra(&a.output, "Power spectra", &panels)?;
        }
        PlotCommand::Rmse(a) => {
            let text = std::fs::read_to_string(&a.input)
                .with_context(|| format!("reading {}", a.input.display()))?;
            let evs: Vec<Evaluation> = serde_json::from_str(&text).with_context(|| {
                format!("{}: not a `fastnet eval` scores.json", a.input.display())
            })?;
            let multi_region = evs.iter().any(|e| e.region != evs[0].region);
            let mut names: Vec<String> = Vec::new();
            for r in evs.iter().flat_map(|e| &e.rows) {
                if !names.contains(&r.variable)
                    && (a.variables.is_empty() || a.variables.contains(&r.variable))
                {
                    names.push(r.variable.clone());
                }
            }
            if names.is_empty() {
                bail!(
                    "{}: none of the requested variables {:?} is scored",
                    a.input.display(),
                    a.variables
                );
            }
            let panels: Vec<Panel> = names
                .iter()
                .map(|n| {
                    let units = evs
                        .iter()
                        .flat_map(|e| &e.rows)
                        .find(|r| &r.variable == n)
                        .map(|r| r.units.clone())
                        .unwrap_or_default();
                    let lines = evs
                        .iter()
                        .map(|e| Line {
                            // Several regions: one line per (model, region).
                            label: if multi_region {
                                format!("{} ({})", e.model, e.region)
                            } else {
                                e.model.clone()
                            },
                            points: e
                                .rows
                                .iter()
                                .filter(|r| &r.variable == n)
                                .filter_map(|r| {
                                    a.score.of(&r.summary).map(|v| (r.lead_hours as f64, v))
                                })
                                .collect(),
                        })
                        .collect();
                    Panel {
                        title: n.clone(),
                        units,
                        lines,
                    }
                })
                .collect();
            let score = a.score.name().to_uppercase();
            plot_lead_time(&a.output, &format!("{score} by lead time"), &score, &panels)?;
        }
        PlotCommand::Map(a) => {
            let (model, path) = model_and_path(&a.forecast);
            let fc = ForecastFile::open(&path)?;
            let truth = Dataset::open(&a.truth).context("opening the truth")?;
            let (var, level) = parse_field(&a.variable)?;
            let l = fc
                .lead_hours
                .iter()
                .position(|&h| h == a.lead)
                .with_context(|| format!("{}: no lead time {} h", path.display(), a.lead))?;
            if a.init >= fc.init_times.len() {
                bail!(
                    "--init {}: the file has {} init times",
                    a.init,
                    fc.init_times.len()
                );
            }
            let fe = field_error(&fc, &truth, &var, level, a.init, l)?;
            let valid = fe.valid;
            let lsm = match &a.lsm {
                Some(p) => {
                    let ds = Dataset::open(std::slice::from_ref(p))
                        .with_context(|| format!("opening {}", p.display()))?;
                    let mut m = vec![0f32; fc.grid.len()];
                    ds.read_field("lsm", None, 0, &mut m)
                        .with_context(|| format!("{}: land-sea mask", p.display()))?;
                    Some(m.into_iter().map(f64::from).collect::<Vec<f64>>())
                }
                None => None,
            };
            let units = truth
                .vars
                .get(&var)
                .and_then(|v| v.units.clone())
                .unwrap_or_default();
            let panels = [
                MapPanel {
                    title: format!("{model} {} +{} h", a.variable, a.lead),
                    units: units.clone(),
                    field: &fe.forecast,
                    diverging: false,
                },
                MapPanel {
                    title: format!("{model} − truth"),
                    units,
                    field: &fe.error,
                    diverging: true,
                },
            ];
            let title = format!(
                "{} valid {}",
                a.variable,
                fastnet_data::time::format_time(valid)
            );
            plot_maps(&a.output, &title, &fc.grid, &panels, lsm.as_deref())?;
        }
    }
    Ok(())
}
