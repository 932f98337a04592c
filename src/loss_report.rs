//! `fastnet loss`: every training-loss term between a forecast file and the
//! truth, per channel and lead time, in the normalised units training uses —
//! to see which term a model pays for, and to check the terms from outside.
//! The loss is the training run's own [`LossSetup`]: restored from a
//! checkpoint (its statistics, weights, measured normalisers and running
//! AMSE normaliser: the terms exactly as training saw them), or set up from
//! statistics and a config, measuring the normalisers on the truth.
//!
//! Any grid the losses support: lat-lon forecasts are scored as
//! `[n, C, nlat, nlon]`, Gaussian-grid (O96) forecasts — whose fields come
//! back flat, `[npoints]` ring by ring — as `[n, C, npoints]` with the
//! reduced transform for AMSE and the ring operators for the gradient
//! terms. Point grids are refused, naming the grid.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use fastnet_data::channels::ChannelSet;
use fastnet_data::stats::Stats;
use fastnet_data::Dataset;
use fastnet_losses::amse::amse_per_channel;
use fastnet_losses::mse::mse_per_channel;
use fastnet_losses::wind::wind_terms;
use fastnet_losses::LossConfig;
use serde::Serialize;
use tch::{Device, Kind, Tensor};

use crate::checkpoint::Sidecar;
use crate::forecast::file::ForecastFile;
use crate::loss_setup::{forecast_normaliser, spread, LossSetup, SurfaceWeights, MEASURED_FIELDS};

/// Unweighted per-channel terms at one lead time.
#[derive(Clone, Debug, Serialize)]
pub struct LossRow {
    pub lead_hours: i64,
    pub channel: String,
    pub mse: f64,
    pub amse: f64,
    pub grad_x: f64,
    pub grad_y: f64,
}

/// Wind terms of one (u, v) pair at one lead time.
#[derive(Clone, Debug, Serialize)]
pub struct WindLossRow {
    pub lead_hours: i64,
    pub pair: String,
    pub direction: f64,
    pub speed: f64,
}

#[derive(Clone, Debug, Serialize)]
pub struct LossReport {
    pub forecast: String,
    /// Where the loss set-up came from (a checkpoint, or statistics).
    pub setup: String,
    /// Init times scored per lead (those the truth covers).
    pub inits: BTreeMap<i64, usize>,
    pub rows: Vec<LossRow>,
    pub wind: Vec<WindLossRow>,
    /// Per lead: the combined loss and each of its terms (λ and channel
    /// weights applied), as training would see them.
    pub totals: BTreeMap<i64, BTreeMap<String, f64>>,
}

/// Where the report's loss comes from.
pub enum ReportLoss<'a> {
    /// A training checkpoint's sidecar (at `path`).
    Checkpoint {
        sidecar: &'a Sidecar,
        path: &'a Path,
    },
    /// Statistics (from `stats_path`) and a loss configuration; the
    /// normalisers are measured on the truth of the scored valid times.
    Stats {
        stats: &'a Stats,
        stats_path: &'a Path,
        config: &'a LossConfig,
        surface_weights: &'a BTreeMap<String, f64>,
        surface_default: f64,
    },
}

fn per_channel(t: &Tensor) -> Result<Vec<f64>> {
    Ok(Vec::try_from(t.detach().to_kind(Kind::Double))?)
}

/// Scores every term for each lead time of `fc`.
pub fn loss_report(
    fc: &ForecastFile,
    truth: &Dataset,
    source: ReportLoss<'_>,
) -> Result<LossReport> {
    if fc.grid != truth.grid {
        bail!(
            "{}: forecast grid {} differs from the truth grid {}",
            fc.path.display(),
            fc.grid.describe(),
            truth.grid.describe()
        );
    }
    // the channels: the checkpoint's forecast block (the file must hold
    // each), or the file's own
    let (channels, stats, stats_path, setup_name): (ChannelSet, &Stats, PathBuf, String) =
        match &source {
            ReportLoss::Checkpoint { sidecar, path } => {
                if fc.grid != sidecar.grid {
                    bail!(
                        "{}: forecast grid {} differs from the grid {} of the model of {}",
                        fc.path.display(),
                        fc.grid.describe(),
                        sidecar.grid.describe(),
                        path.display()
                    );
                }
                let set = ChannelSet::forecast_only(&sidecar.channels.forecast_names())?;
                if let Some(c) = set
                    .forecast()
                    .iter()
                    .find(|c| fc.channels.index(&c.name).is_none())
                {
                    bail!(
                        "{}: no channel {} of the model of {} (the file has {})",
                        fc.path.display(),
                        c.name,
                        path.display(),
                        fc.channels.names().join(", ")
                    );
                }
                (
                    set,
                    &sidecar.stats,
                    path.to_path_buf(),
                    format!("checkpoint {}", path.display()),
                )
            }
            ReportLoss::Stats {
                stats, stats_path, ..
            } => (
                fc.channels.clone(),
                *stats,
                stats_path.to_path_buf(),
                format!("statistics {}", stats_path.display()),
            ),
        };
    let norm = forecast_normaliser(&channels, stats, &stats_path)?;
    // fields are read flat ([nlat * nlon] or [npoints]) and laid out as the
    // losses take them: [n, C, nlat, nlon] or [n, C, npoints]
    let field = fastnet_losses::weights::field_shape(&fc.grid);
    let c = channels.len() as i64;
    let layout = |n: i64| -> Vec<i64> {
        let mut s = vec![n, c];
        s.extend(&field);
        s
    };
    // normalised forecasts and truths per lead: [n, C, *grid]
    let mut leads = Vec::new();
    let mut inits = BTreeMap::new();
    let mut truth_field = vec![0f32; fc.grid.len()];
    for (l, &lead) in fc.lead_hours.iter().enumerate() {
        let (mut pred, mut targ) = (Vec::new(), Vec::new());
        let mut n: i64 = 0;
        for i in 0..fc.init_times.len() {
            let valid = fc.valid_time(i, l);
            let fields: Vec<(&str, Option<u32>)> = channels
                .forecast()
                .iter()
                .filter_map(|c| c.field())
                .collect();
            if !fields.iter().all(|(v, lev)| truth.has(v, *lev, valid)) {
                continue;
            }
            for (k, (v, lev)) in fields.iter().enumerate() {
                let mut f = fc.read(v, *lev, i, l)?;
                if f.len() != fc.grid.len() {
                    bail!(
                        "{}: {v} holds {} values per field, expected the {} points of {}",
                        fc.path.display(),
                        f.len(),
                        fc.grid.len(),
                        fc.grid.describe()
                    );
                }
                norm.normalise(&mut f, k..k + 1);
                pred.extend(f);
                truth.read_field(v, *lev, valid, &mut truth_field)?;
                let mut t = truth_field.clone();
                norm.normalise(&mut t, k..k + 1);
                targ.extend(t);
            }
            n += 1;
        }
        inits.insert(lead, n as usize);
        if n > 0 {
            let p = Tensor::from_slice(&pred).view(layout(n).as_slice());
            let t = Tensor::from_slice(&targ).view(layout(n).as_slice());
            leads.push((lead, p, t));
        }
    }
    if leads.is_empty() {
        bail!(
            "{}: the truth covers no valid time of the forecast",
            fc.path.display()
        );
    }
    let (setup, beta) = match &source {
        ReportLoss::Checkpoint { sidecar, path } => {
            let cfg = &sidecar.config;
            let setup = LossSetup::new(
                &cfg.loss,
                SurfaceWeights {
                    weights: &cfg.data.surface_weights,
                    default: cfg.data.surface_default,
                },
                &channels,
                &sidecar.stats,
                path,
                &fc.grid,
                sidecar.loss.measured.clone(),
            )?;
            // β_j = 1 / running mean, held where training left it
            let running = sidecar.loss.amse_running.as_ref().filter(|r| !r.is_empty());
            if let Some(r) = running.filter(|r| r.len() != channels.len()) {
                bail!(
                    "{}: the running AMSE normaliser has {} values for {} forecast channels",
                    path.display(),
                    r.len(),
                    channels.len()
                );
            }
            let beta = running.map(|r| {
                r.iter()
                    .map(|&x| if x > 0.0 { 1.0 / x } else { 1.0 })
                    .collect::<Vec<f64>>()
            });
            (setup, beta)
        }
        ReportLoss::Stats {
            stats,
            stats_path,
            config,
            surface_weights,
            surface_default,
        } => {
            // the normalisers on up to 8 truth fields spread over the leads
            let all = Tensor::cat(
                &leads
                    .iter()
                    .map(|x| x.2.shallow_clone())
                    .collect::<Vec<_>>(),
                0,
            );
            let picks: Vec<i64> = spread(all.size()[0] as usize, MEASURED_FIELDS)
                .into_iter()
                .map(|k| k as i64)
                .collect();
            let pick = Tensor::from_slice(&picks);
            let measured = LossSetup::measure(
                &channels,
                stats,
                stats_path,
                &fc.grid,
                &all.index_select(0, &pick),
            )?;
            let mut config = (*config).clone();
            config.wind = config.wind && !channels.wind_pairs().is_empty();
            (
                LossSetup::new(
                    &config,
                    SurfaceWeights {
                        weights: surface_weights,
                        default: *surface_default,
                    },
                    &channels,
                    stats,
                    stats_path,
                    &fc.grid,
                    measured,
                )?,
                None,
            )
        }
    };
    let mut setup = setup;
    setup.config.wind = setup.config.wind && !setup.wind.is_empty();
    let area = Tensor::from_slice(&setup.area_weights()?).to_kind(Kind::Float);
    let sht = setup.sht(Device::Cpu)?;
    let (gop, sx, sy) = setup.gradient(Device::Cpu)?;
    let gamma = Tensor::from_slice(&setup.config.gamma().weights(sht.lmax())).to_kind(Kind::Float);
    let pairs = setup.wind_pairs();
    let names = channels.forecast_names();
    let mut report = LossReport {
        forecast: fc.path.display().to_string(),
        setup: setup_name,
        inits,
        rows: vec![],
        wind: vec![],
        totals: BTreeMap::new(),
    };
    for (lead, p, t) in &leads {
        let mse = per_channel(&mse_per_channel(p, t, &area)?)?;
        let amse = per_channel(&amse_per_channel(
            &sht,
            p,
            t,
            setup.config.amse_epsilon,
            &gamma,
        )?)?;
        let (gx, gy) = gop.loss_per_channel(p, t, &sx, &sy)?;
        let (gx, gy) = (per_channel(&gx)?, per_channel(&gy)?);
        for k in 0..names.len() {
            report.rows.push(LossRow {
                lead_hours: *lead,
                channel: names[k].to_string(),
                mse: mse[k],
                amse: amse[k],
                grad_x: gx[k],
                grad_y: gy[k],
            });
        }
        if !pairs.is_empty() {
            let (dir, spd) = wind_terms(p, t, &area, &pairs)?;
            let (dir, spd) = (per_channel(&dir)?, per_channel(&spd)?);
            for (k, pair) in setup.wind.iter().enumerate() {
                report.wind.push(WindLossRow {
                    lead_hours: *lead,
                    pair: pair.name.clone(),
                    direction: dir[k],
                    speed: spd[k],
                });
            }
        }
        // a fresh loss per lead: without a checkpoint's running AMSE
        // normaliser, each lead starts one of its own
        let mut combined = setup.combined(Device::Cpu)?;
        let out = match &beta {
            Some(b) => combined.forward_with_beta(p, t, Some(b))?,
            None => combined.forward(p, t)?,
        };
        let mut totals: BTreeMap<String, f64> =
            out.terms.iter().map(|(k, v)| (k.to_string(), *v)).collect();
        totals.insert("total".into(), f64::try_from(&out.total).context("total")?);
        report.totals.insert(*lead, totals);
    }
    Ok(report)
}
