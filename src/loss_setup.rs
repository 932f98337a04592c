//! The one loss set-up: channel weights from the statistics, the operators
//! the switched-on terms need on the data grid, and the normalisers the loss
//! measures on the training data — the standard deviations of the x and y
//! derivatives per channel and of the wind speed per (u, v) pair. `fastnet
//! train` measures them once on target fields spread over the training
//! period and stores them (with the running AMSE normaliser) in every
//! checkpoint; a resumed run and `fastnet loss --checkpoint` restore them
//! instead of measuring again, so both see the loss exactly as training did.

use std::collections::BTreeMap;
use std::path::Path;

use fastnet_data::channels::{ChannelSet, WindChannels};
use fastnet_data::stats::Stats;
use fastnet_losses::gradient::GradientOperator;
use fastnet_losses::sht::TorchSht;
use fastnet_losses::weights::{area_weight_values, channel_weights, field_shape, ChannelSpec};
use fastnet_losses::wind::WindPair;
use fastnet_losses::{CombinedLoss, LossConfig, LossContext};
use fastnet_mesh::Grid;
use serde::{Deserialize, Serialize};
use tch::{Device, Kind, Tensor};

use crate::error::{FastnetError, Result};

/// How many target fields the normalisers are measured on.
pub const MEASURED_FIELDS: usize = 8;

/// Indices of up to `n` of `total` items spread evenly (`k · total / n`).
pub fn spread(total: usize, n: usize) -> Vec<usize> {
    let n = n.min(total);
    (0..n).map(|k| k * total / n).collect()
}

/// Normalisers measured on training data.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MeasuredNormalisers {
    /// Area-weighted standard deviation of `∂_x f` and `∂_y f` per forecast
    /// channel (normalised units per metre), floored at 1e-12.
    pub grad_x_std: Vec<f64>,
    pub grad_y_std: Vec<f64>,
    /// Standard deviation of the wind speed (m/s) per pair of
    /// [`ChannelSet::wind_pairs`], floored at 1e-6.
    pub wind_speed_std: Vec<f64>,
    /// Number of target fields they were measured on.
    pub fields: usize,
}

/// What a checkpoint keeps of the loss.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LossState {
    pub measured: MeasuredNormalisers,
    /// The running AMSE normaliser's per-channel running mean (when
    /// `loss.amse_running_normaliser` is on; empty before the first step).
    pub amse_running: Option<Vec<f64>>,
}

/// The loss weights of surface variables (`[data] surface_weights`,
/// `surface_default`).
#[derive(Clone, Copy, Debug)]
pub struct SurfaceWeights<'a> {
    pub weights: &'a BTreeMap<String, f64>,
    pub default: f64,
}

/// Everything the loss needs, built once.
#[derive(Clone, Debug)]
pub struct LossSetup {
    pub config: LossConfig,
    /// The forecast channels, in model order.
    pub channels: ChannelSet,
    pub grid: Grid,
    /// `s_j λ_j` per forecast channel.
    pub channel_weights: Vec<f64>,
    /// Physical mean and standard deviation per forecast channel.
    pub moments: Vec<(f64, f64)>,
    pub wind: Vec<WindChannels>,
    pub measured: MeasuredNormalisers,
}

/// Forecast channels of `set` as (variable, level) for the channel weights.
fn specs(set: &ChannelSet) -> Result<Vec<ChannelSpec>> {
    set.forecast()
        .iter()
        .map(|c| {
            let (var, level) = c.field().ok_or_else(|| {
                FastnetError::bad_config(
                    "forecast channel",
                    &c.name,
                    "a data field (z500, t2m, ...)",
                )
            })?;
            Ok(ChannelSpec {
                variable: var.to_string(),
                level_hpa: level.map(f64::from),
            })
        })
        .collect()
}

/// Mean, std and `(std / change std)²` of every forecast channel of `set`.
fn moments(set: &ChannelSet, stats: &Stats, stats_path: &Path) -> Result<Vec<(f64, f64, f64)>> {
    set.forecast()
        .iter()
        .map(|c| {
            let s = stats.channels.iter().find(|s| s.name == c.name).ok_or_else(|| {
                FastnetError::bad_config(
                    format!("{}: channel", stats_path.display()),
                    &c.name,
                    format!(
                        "one of the channels the statistics cover ({})",
                        stats.channels.iter().map(|c| c.name.as_str()).collect::<Vec<_>>().join(", ")
                    ),
                )
            })?;
            if !(s.std > 0.0 && s.change_std > 0.0) {
                return Err(FastnetError::bad_config(
                    format!("{}: {} change std", stats_path.display(), c.name),
                    s.change_std,
                    "a positive 6-hour-change std and std (a channel constant in time cannot be forecast)",
                ));
            }
            Ok((s.mean, s.std, (s.std / s.change_std).powi(2)))
        })
        .collect()
}

/// The normaliser of the forecast channels of `set`, from `stats` (which
/// may hold more channels).
pub fn forecast_normaliser(
    set: &ChannelSet,
    stats: &Stats,
    stats_path: &Path,
) -> Result<fastnet_data::sample::Normaliser> {
    let m = moments(set, stats, stats_path)?;
    Ok(fastnet_data::sample::Normaliser::from_moments(
        m.iter().map(|x| (x.0, x.1)),
    ))
}

impl LossSetup {
    /// Measures the normalisers on `targets` `[N, C_f, *grid]` (normalised
    /// forecast channels of `set`, CPU): `[N, C_f, nlat, nlon]` on lat-lon
    /// grids, `[N, C_f, npoints]` on Gaussian grids. Point grids are an
    /// error naming the grid (they have no rings to differentiate along).
    pub fn measure(
        set: &ChannelSet,
        stats: &Stats,
        stats_path: &Path,
        grid: &Grid,
        targets: &Tensor,
    ) -> Result<MeasuredNormalisers> {
        let m = moments(set, stats, stats_path)?;
        let s = targets.size();
        let field = field_shape(grid);
        if s.len() != 2 + field.len() || s[1] != m.len() as i64 || s[2..] != field[..] {
            let mut expected = vec![-1, m.len() as i64];
            expected.extend(&field);
            return Err(FastnetError::BadShape {
                what: format!("targets for the loss normalisers on {}", grid.describe()),
                actual: s,
                expected,
            });
        }
        let targets = targets.to_kind(Kind::Float).to_device(Device::Cpu);
        let op = GradientOperator::new(grid, Kind::Float, Device::Cpu)?;
        let (sx, sy) = op.derivative_std(&targets)?;
        let floor = |t: Tensor| -> Result<Vec<f64>> {
            Ok(Vec::try_from(t.clamp_min(1e-12).to_kind(Kind::Double))?)
        };
        let mut wind_speed_std = Vec::new();
        for p in set.wind_pairs() {
            let phys = |k: usize| targets.narrow(1, k as i64, 1) * m[k].1 + m[k].0;
            let speed = (phys(p.u).square() + phys(p.v).square()).sqrt();
            wind_speed_std.push(f64::try_from(speed.std(true))?.max(1e-6));
        }
        Ok(MeasuredNormalisers {
            grad_x_std: floor(sx)?,
            grad_y_std: floor(sy)?,
            wind_speed_std,
            fields: s[0] as usize,
        })
    }

    /// The set-up for the forecast channels of `set` on `grid`, weighted by
    /// `stats` (read from `stats_path`) and the surface weights, with
    /// normalisers measured before (see [`LossSetup::measure`]).
    pub fn new(
        config: &LossConfig,
        surface: SurfaceWeights<'_>,
        set: &ChannelSet,
        stats: &Stats,
        stats_path: &Path,
        grid: &Grid,
        measured: MeasuredNormalisers,
    ) -> Result<LossSetup> {
        config.validate()?;
        let m = moments(set, stats, stats_path)?;
        let inv_var: Vec<f64> = m.iter().map(|x| x.2).collect();
        let cw = channel_weights(&specs(set)?, &inv_var, surface.weights, surface.default)?;
        let channels = ChannelSet::forecast_only(&set.forecast_names())?;
        let wind = channels.wind_pairs();
        let n = channels.len();
        if measured.grad_x_std.len() != n
            || measured.grad_y_std.len() != n
            || measured.wind_speed_std.len() != wind.len()
        {
            return Err(FastnetError::BadShape {
                what: "measured loss normalisers (gradient x, y, wind pairs)".into(),
                actual: vec![
                    measured.grad_x_std.len() as i64,
                    measured.grad_y_std.len() as i64,
                    measured.wind_speed_std.len() as i64,
                ],
                expected: vec![n as i64, n as i64, wind.len() as i64],
            });
        }
        Ok(LossSetup {
            config: config.clone(),
            channels,
            grid: grid.clone(),
            channel_weights: cw,
            moments: m.iter().map(|x| (x.0, x.1)).collect(),
            wind,
            measured,
        })
    }

    /// The wind pairs with their normalisation, for the wind terms.
    pub fn wind_pairs(&self) -> Vec<WindPair> {
        self.wind
            .iter()
            .zip(&self.measured.wind_speed_std)
            .map(|(p, &speed_std)| WindPair {
                u_channel: p.u as i64,
                v_channel: p.v as i64,
                u_mean: self.moments[p.u].0,
                u_std: self.moments[p.u].1,
                v_mean: self.moments[p.v].0,
                v_std: self.moments[p.v].1,
                speed_std,
            })
            .collect()
    }

    fn tensor(v: &[f64], device: Device) -> Tensor {
        Tensor::from_slice(v).to_kind(Kind::Float).to_device(device)
    }

    /// Cell-area weights along the grid's first axis, mean 1: `[nlat]` per
    /// ring on lat-lon grids, `[npoints]` per point on Gaussian grids (the
    /// ring's Gauss–Legendre weight over its number of points). Point grids
    /// are an error naming the grid.
    pub fn area_weights(&self) -> Result<Vec<f64>> {
        Ok(area_weight_values(&self.grid)?)
    }

    /// The field shape after `[batch, C]`: `[nlat, nlon]` or `[npoints]`.
    pub fn field_shape(&self) -> Vec<i64> {
        field_shape(&self.grid)
    }

    /// The spherical-harmonic transform of the AMSE term: the lat-lon
    /// transform, or the reduced one (per-ring FFTs) on Gaussian grids.
    pub fn sht(&self, device: Device) -> Result<TorchSht> {
        Ok(TorchSht::for_grid(&self.grid, None, Kind::Float, device)?)
    }

    /// The derivative operator of the gradient terms with the measured
    /// standard deviations.
    pub fn gradient(&self, device: Device) -> Result<(GradientOperator, Tensor, Tensor)> {
        Ok((
            GradientOperator::new(&self.grid, Kind::Float, device)?,
            Self::tensor(&self.measured.grad_x_std, device),
            Self::tensor(&self.measured.grad_y_std, device),
        ))
    }

    /// The combined loss on `device`, with the operators of the terms that
    /// are switched on.
    pub fn combined(&self, device: Device) -> Result<CombinedLoss> {
        let c = &self.config;
        let ctx = LossContext {
            grid_shape: self.field_shape(),
            area_weights: Self::tensor(&self.area_weights()?, device),
            channel_weights: Self::tensor(&self.channel_weights, device),
            sht: if c.amse > 0.0 {
                Some(self.sht(device)?)
            } else {
                None
            },
            gradient: if c.grad_x + c.grad_y > 0.0 {
                Some(self.gradient(device)?)
            } else {
                None
            },
            wind_pairs: if c.wind {
                self.wind_pairs()
            } else {
                Vec::new()
            },
        };
        Ok(CombinedLoss::new(c.clone(), ctx)?)
    }
}
