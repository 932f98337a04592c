//! `fastnet loss`: every training-loss term between a forecast file and the
//! truth, per channel and lead time, in the normalised units training uses —
//! to see which term a model pays for, and to check the terms from outside.

use std::collections::BTreeMap;

use anyhow::{bail, Context, Result};
use fastnet_data::stats::Stats;
use fastnet_data::Dataset;
use fastnet_eval::Sht;
use fastnet_losses::amse::amse_per_channel;
use fastnet_losses::gradient::GradientOperator;
use fastnet_losses::mse::mse_per_channel;
use fastnet_losses::sht::TorchSht;
use fastnet_losses::weights::{channel_weights, ChannelSpec};
use fastnet_losses::wind::{wind_terms, WindPair};
use fastnet_losses::{CombinedLoss, LossConfig, LossContext};
use serde::Serialize;
use tch::{Device, Kind, Tensor};

use crate::forecast::file::ForecastFile;

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
    /// Init times scored per lead (those the truth covers).
    pub inits: BTreeMap<i64, usize>,
    pub rows: Vec<LossRow>,
    pub wind: Vec<WindLossRow>,
    /// Per lead: the combined loss of `config` and each of its terms
    /// (λ and channel weights applied), as training would see them.
    pub totals: BTreeMap<i64, BTreeMap<String, f64>>,
}

fn per_channel(t: &Tensor) -> Result<Vec<f64>> {
    Ok(Vec::try_from(t.detach().to_kind(Kind::Double))?)
}

/// Scores every term for each lead time of `fc`.
pub fn loss_report(
    fc: &ForecastFile,
    truth: &Dataset,
    stats: &Stats,
    config: &LossConfig,
    surface_weights: &BTreeMap<String, f64>,
    surface_default: f64,
) -> Result<LossReport> {
    if fc.grid != truth.grid {
        bail!(
            "{}: forecast grid {} differs from the truth grid {}",
            fc.path.display(),
            fc.grid.describe(),
            truth.grid.describe()
        );
    }
    let channels = fc.channel_names();
    let mut mean = Vec::new();
    let mut std = Vec::new();
    let mut inv_var = Vec::new();
    for (_, _, name) in &channels {
        let c = stats
            .channels
            .iter()
            .find(|c| &c.name == name)
            .with_context(|| {
                format!(
                    "statistics have no channel {name} (they cover {})",
                    stats
                        .channels
                        .iter()
                        .map(|c| c.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            })?;
        if c.std <= 0.0 || c.change_std <= 0.0 {
            bail!(
                "statistics of {name}: std {} and change std {} must be positive",
                c.std,
                c.change_std
            );
        }
        mean.push(c.mean);
        std.push(c.std);
        inv_var.push((c.std / c.change_std).powi(2));
    }
    let specs: Vec<ChannelSpec> = channels
        .iter()
        .map(|(v, l, _)| ChannelSpec {
            variable: v.clone(),
            level_hpa: l.map(f64::from),
        })
        .collect();
    let cw = channel_weights(&specs, &inv_var, surface_weights, surface_default)?;
    let shape = fc.grid.shape();
    let (nlat, nlon) = (shape[0] as i64, shape[1] as i64);
    let c = channels.len() as i64;
    let area = Tensor::from_slice(&fc.grid.latitude_weights().context("grid has no rings")?)
        .to_kind(Kind::Float);
    let sht = TorchSht::new(&*Sht::for_grid(&fc.grid, None)?, Kind::Float, Device::Cpu);
    let gop = GradientOperator::new(&fc.grid, Kind::Float, Device::Cpu)?;
    let names: Vec<&str> = channels.iter().map(|c| c.2.as_str()).collect();
    let find = |n: &str| names.iter().position(|x| *x == n);
    let mut pair_idx: Vec<(usize, usize, String)> = Vec::new();
    if let (Some(u), Some(v)) = (find("u10"), find("v10")) {
        pair_idx.push((u, v, "wind10m".into()));
    }
    for (i, n) in names.iter().enumerate() {
        if let Some(l) = n.strip_prefix('u').filter(|l| l.parse::<u32>().is_ok()) {
            if let Some(v) = find(&format!("v{l}")) {
                pair_idx.push((i, v, format!("wind{l}")));
            }
        }
    }
    let norm = |buf: &mut Vec<f32>, k: usize| {
        for x in buf.iter_mut() {
            *x = ((*x as f64 - mean[k]) / std[k]) as f32;
        }
    };
    let mut report = LossReport {
        forecast: fc.path.display().to_string(),
        inits: BTreeMap::new(),
        rows: vec![],
        wind: vec![],
        totals: BTreeMap::new(),
    };
    let mut tb = vec![0f32; fc.grid.len()];
    for (l, &lead) in fc.lead_hours.iter().enumerate() {
        let (mut pred, mut targ) = (Vec::new(), Vec::new());
        let mut n: i64 = 0;
        for i in 0..fc.init_times.len() {
            let valid = fc.valid_time(i, l);
            if !channels.iter().all(|(v, lev, _)| truth.has(v, *lev, valid)) {
                continue;
            }
            for (k, (v, lev, _)) in channels.iter().enumerate() {
                let mut f = fc.read(v, *lev, i, l)?;
                norm(&mut f, k);
                pred.extend(f);
                truth.read_field(v, *lev, valid, &mut tb)?;
                let mut t = tb.clone();
                norm(&mut t, k);
                targ.extend(t);
            }
            n += 1;
        }
        report.inits.insert(lead, n as usize);
        if n == 0 {
            continue;
        }
        let p = Tensor::from_slice(&pred).view([n, c, nlat, nlon]);
        let t = Tensor::from_slice(&targ).view([n, c, nlat, nlon]);
        let gamma = Tensor::from_slice(
            &match config.amse_gamma_scale {
                Some(scale) => fastnet_losses::amse::Gamma::PowerLaw {
                    scale,
                    power: config.amse_gamma_power,
                },
                None => fastnet_losses::amse::Gamma::Uniform,
            }
            .weights(sht.lmax()),
        )
        .to_kind(Kind::Float);
        let mse = per_channel(&mse_per_channel(&p, &t, &area)?)?;
        let amse = per_channel(&amse_per_channel(
            &sht,
            &p,
            &t,
            config.amse_epsilon,
            &gamma,
        )?)?;
        let (sx, sy) = gop.derivative_std(&t)?;
        let (sx, sy) = (sx.clamp_min(1e-12), sy.clamp_min(1e-12));
        let (gx, gy) = gop.loss_per_channel(&p, &t, &sx, &sy)?;
        let (gx, gy) = (per_channel(&gx)?, per_channel(&gy)?);
        for k in 0..channels.len() {
            report.rows.push(LossRow {
                lead_hours: lead,
                channel: names[k].to_string(),
                mse: mse[k],
                amse: amse[k],
                grad_x: gx[k],
                grad_y: gy[k],
            });
        }
        let mut pairs = Vec::new();
        for (u, v, _) in &pair_idx {
            let phys = |k: usize| t.narrow(1, k as i64, 1) * std[k] + mean[k];
            let speed = (phys(*u).square() + phys(*v).square()).sqrt();
            let speed_std = f64::try_from(speed.std(true))?.max(1e-6);
            pairs.push(WindPair {
                u_channel: *u as i64,
                v_channel: *v as i64,
                u_mean: mean[*u],
                u_std: std[*u],
                v_mean: mean[*v],
                v_std: std[*v],
                speed_std,
            });
        }
        let (dir, spd) = wind_terms(&p, &t, &area, &pairs)?;
        let (dir, spd) = (per_channel(&dir)?, per_channel(&spd)?);
        for (k, (_, _, name)) in pair_idx.iter().enumerate() {
            report.wind.push(WindLossRow {
                lead_hours: lead,
                pair: name.clone(),
                direction: dir[k],
                speed: spd[k],
            });
        }
        let mut cfg = config.clone();
        cfg.wind = cfg.wind && !pairs.is_empty();
        let ctx = LossContext {
            area_weights: area.shallow_clone(),
            channel_weights: Tensor::from_slice(&cw).to_kind(Kind::Float),
            sht: Some(TorchSht::new(
                &*Sht::for_grid(&fc.grid, None)?,
                Kind::Float,
                Device::Cpu,
            )),
            gradient: Some((
                GradientOperator::new(&fc.grid, Kind::Float, Device::Cpu)?,
                sx,
                sy,
            )),
            wind_pairs: pairs,
        };
        let out = CombinedLoss::new(cfg, ctx)?.forward(&p, &t)?;
        let mut totals: BTreeMap<String, f64> =
            out.terms.iter().map(|(k, v)| (k.to_string(), *v)).collect();
        totals.insert("total".into(), f64::try_from(&out.total)?);
        report.totals.insert(lead, totals);
    }
    if report.rows.is_empty() {
        bail!(
            "{}: the truth covers no valid time of the forecast",
            fc.path.display()
        );
    }
    Ok(report)
}
