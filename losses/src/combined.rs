//! The combined training loss built from the `[loss]` config section:
//!
//! `L = λ_mse·MSE + λ_amse·AMSE + λ_x·L(∂_x) + λ_y·L(∂_y) + wind terms`,
//!
//! each term channel-weighted (`s_j λ_j`) and reported separately. With the
//! wind representation on, u and v leave the MSE part and are scored by
//! direction + `λ_speed` · speed instead.

use serde::{Deserialize, Serialize};
use tch::{Kind, Tensor};

use crate::amse::{amse_per_channel, Gamma};
use crate::error::{LossError, Result};
use crate::gradient::GradientOperator;
use crate::mse::{combine_channels, mse_per_channel};
use crate::sht::TorchSht;
use crate::wind::{self, WindPair};

/// `[loss]` config section. Every weight must be finite and `>= 0`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LossConfig {
    /// λ of the latitude-weighted MSE.
    pub mse: f64,
    /// λ of the AMSE spectral loss (0 = off).
    pub amse: f64,
    /// λ of the ∂x and ∂y gradient terms (0 = off).
    pub grad_x: f64,
    pub grad_y: f64,
    /// Score (u, v) pairs as direction + speed instead of MSE.
    pub wind: bool,
    /// λ_speed of the wind speed term.
    pub wind_speed: f64,
    /// ε of the AMSE coherence denominator.
    pub amse_epsilon: f64,
    /// FastNet's optional γ_l = max(scale · l^power, 1); None = γ_l = 1.
    pub amse_gamma_scale: Option<f64>,
    pub amse_gamma_power: f64,
    /// Divide each channel's AMSE by its running mean (β_j = 1/⟨AMSE_j⟩).
    pub amse_running_normaliser: bool,
    /// Decay of that running mean per step.
    pub amse_running_decay: f64,
}

impl Default for LossConfig {
    fn default() -> Self {
        LossConfig {
            mse: 1.0,
            amse: 0.0,
            grad_x: 0.0,
            grad_y: 0.0,
            wind: false,
            wind_speed: 5.0,
            amse_epsilon: 1e-10,
            amse_gamma_scale: None,
            amse_gamma_power: 3f64.sqrt(),
            amse_running_normaliser: false,
            amse_running_decay: 0.99,
        }
    }
}

impl LossConfig {
    /// Checks every field; the error names it.
    pub fn validate(&self) -> Result<()> {
        let weights = [
            ("loss.mse", self.mse),
            ("loss.amse", self.amse),
            ("loss.grad_x", self.grad_x),
            ("loss.grad_y", self.grad_y),
            ("loss.wind_speed", self.wind_speed),
            ("loss.amse_epsilon", self.amse_epsilon),
            (
                "loss.amse_gamma_scale",
                self.amse_gamma_scale.unwrap_or(0.0),
            ),
            ("loss.amse_gamma_power", self.amse_gamma_power),
        ];
        for (field, v) in weights {
            if !(v.is_finite() && v >= 0.0) {
                return Err(LossError::Config {
                    field: field.into(),
                    value: v.to_string(),
                    expected: "a finite number >= 0".into(),
                });
            }
        }
        if !(0.0..1.0).contains(&self.amse_running_decay) {
            return Err(LossError::Config {
                field: "loss.amse_running_decay".into(),
                value: self.amse_running_decay.to_string(),
                expected: "a decay in [0, 1)".into(),
            });
        }
        if self.mse + self.amse + self.grad_x + self.grad_y == 0.0 && !self.wind {
            return Err(LossError::Config {
                field: "loss".into(),
                value: "all weights 0".into(),
                expected: "at least one term switched on".into(),
            });
        }
        Ok(())
    }

    /// The per-wavenumber AMSE weights γ_l this configuration asks for.
    pub fn gamma(&self) -> Gamma {
        match self.amse_gamma_scale {
            Some(scale) => Gamma::PowerLaw {
                scale,
                power: self.amse_gamma_power,
            },
            None => Gamma::Uniform,
        }
    }
}

/// Everything the loss needs to know about the data and its grid.
pub struct LossContext {
    /// The field shape after `[batch, C]` ([`crate::weights::field_shape`]):
    /// `[nlat, nlon]` on lat-lon grids, `[npoints]` on Gaussian grids.
    /// Predictions and targets must be `[batch, C, *grid_shape]`.
    pub grid_shape: Vec<i64>,
    /// Area weights along the first grid axis, mean 1
    /// ([`crate::weights::area_weights`]): `[nlat]` or `[npoints]`.
    pub area_weights: Tensor,
    /// `s_j λ_j` per channel `[C]`.
    pub channel_weights: Tensor,
    /// For AMSE (required when `amse > 0`), built for the same grid
    /// ([`TorchSht::for_grid`]).
    pub sht: Option<TorchSht>,
    /// For the gradient terms, with the per-channel derivative standard
    /// deviations `[C]` (required when `grad_x` or `grad_y > 0`).
    pub gradient: Option<(GradientOperator, Tensor, Tensor)>,
    /// (u, v) pairs (required when `wind`).
    pub wind_pairs: Vec<WindPair>,
}

/// The value of each term (already multiplied by its λ) and the total.
pub struct LossOutput {
    pub total: Tensor,
    /// (name, value) of every term that is switched on.
    pub terms: Vec<(&'static str, f64)>,
    /// Per-channel values `[C]` of each channel-resolved term (unweighted),
    /// to find which channel went bad.
    pub per_channel: Vec<(&'static str, Vec<f64>)>,
    /// The running AMSE normaliser `β_j` this evaluation used (when it is
    /// switched on), to evaluate the same loss again with
    /// [`CombinedLoss::forward_with_beta`].
    pub amse_beta: Option<Vec<f64>>,
}

/// The combined loss.
pub struct CombinedLoss {
    config: LossConfig,
    ctx: LossContext,
    gamma: Option<Tensor>,
    /// MSE channel weights with u, v zeroed when the wind terms replace them.
    mse_weights: Tensor,
    pair_weights: Tensor,
    running: Option<Vec<f64>>,
    /// Replaces this evaluation's per-channel AMSE by its mean over the
    /// ranks of a data-parallel run before it updates the running mean, so
    /// every rank keeps the same normaliser.
    reducer: Option<Reducer>,
}

/// See [`CombinedLoss::set_reducer`].
pub type Reducer = Box<dyn Fn(&mut [f64]) -> std::result::Result<(), String>>;

impl CombinedLoss {
    pub fn new(config: LossConfig, ctx: LossContext) -> Result<Self> {
        config.validate()?;
        let need = |on: bool, have: bool, what: &str| -> Result<()> {
            if on && !have {
                return Err(LossError::Config {
                    field: format!("loss.{what}"),
                    value: "> 0".into(),
                    expected: format!("a {what} operator in the loss context"),
                });
            }
            Ok(())
        };
        need(config.amse > 0.0, ctx.sht.is_some(), "amse")?;
        let grid = &ctx.grid_shape;
        let mismatch = |what: &str, got: Vec<i64>| LossError::Config {
            field: what.into(),
            value: format!("built for fields {got:?}"),
            expected: format!("the loss context's grid shape {grid:?}"),
        };
        if let Some(s) = &ctx.sht {
            if s.field_shape() != *grid {
                return Err(mismatch(
                    "loss context spherical-harmonic transform",
                    s.field_shape(),
                ));
            }
        }
        if let Some((g, _, _)) = &ctx.gradient {
            if g.field_shape() != *grid {
                return Err(mismatch("loss context gradient operator", g.field_shape()));
            }
        }
        if grid.is_empty() || ctx.area_weights.size() != [grid[0]] {
            return Err(LossError::Shape {
                what: "loss context area weights".into(),
                got: ctx.area_weights.size(),
                expected: format!(
                    "[{}] (along the first axis of the grid shape {grid:?})",
                    grid.first().copied().unwrap_or(0)
                ),
            });
        }
        need(
            config.grad_x + config.grad_y > 0.0,
            ctx.gradient.is_some(),
            "grad_x",
        )?;
        if config.wind && ctx.wind_pairs.is_empty() {
            return Err(LossError::Config {
                field: "loss.wind".into(),
                value: "true".into(),
                expected: "at least one (u, v) channel pair".into(),
            });
        }
        let gamma = ctx.sht.as_ref().map(|s| {
            Tensor::from_slice(&config.gamma().weights(s.lmax()))
                .to_kind(ctx.area_weights.kind())
                .to_device(ctx.area_weights.device())
        });
        let cw: Vec<f64> = Vec::try_from(
            ctx.channel_weights
                .to_kind(Kind::Double)
                .to_device(tch::Device::Cpu),
        )?;
        let mut mse_w = cw.clone();
        let mut pair_w = Vec::new();
        if config.wind {
            for p in &ctx.wind_pairs {
                let (u, v) = (p.u_channel as usize, p.v_channel as usize);
                if u >= cw.len() || v >= cw.len() {
                    return Err(LossError::Config {
                        field: "wind pair".into(),
                        value: format!("({u}, {v})"),
                        expected: format!("channel indices < {}", cw.len()),
                    });
                }
                pair_w.push(0.5 * (cw[u] + cw[v]));
                mse_w[u] = 0.0;
                mse_w[v] = 0.0;
            }
        }
        let to_t = |v: &[f64]| {
            Tensor::from_slice(v)
                .to_kind(ctx.area_weights.kind())
                .to_device(ctx.area_weights.device())
        };
        Ok(CombinedLoss {
            mse_weights: to_t(&mse_w),
            pair_weights: to_t(&pair_w),
            running: config.amse_running_normaliser.then(Vec::new),
            reducer: None,
            gamma,
            config,
            ctx,
        })
    }

    /// Lets a data-parallel run average each evaluation's per-channel AMSE
    /// over its ranks before the running normaliser is updated with it.
    pub fn set_reducer(&mut self, reducer: Reducer) {
        self.reducer = Some(reducer);
    }

    /// The running AMSE normaliser's state — the per-channel running mean
    /// of AMSE, empty before the first evaluation — when it is switched on:
    /// what a checkpoint stores so that a resumed run continues exactly.
    pub fn running_state(&self) -> Option<&[f64]> {
        self.running.as_deref()
    }

    /// Restores the state [`running_state`](Self::running_state) returned.
    pub fn restore_running_state(&mut self, state: &[f64]) -> Result<()> {
        let channels = self.ctx.channel_weights.size()[0] as usize;
        match &mut self.running {
            Some(r) if state.is_empty() || state.len() == channels => {
                *r = state.to_vec();
                Ok(())
            }
            Some(_) => Err(LossError::Config {
                field: "running AMSE normaliser".into(),
                value: format!("{} values", state.len()),
                expected: format!("{channels} (one per forecast channel)"),
            }),
            None => Err(LossError::Config {
                field: "loss.amse_running_normaliser".into(),
                value: "false".into(),
                expected: "true to restore a running normaliser".into(),
            }),
        }
    }

    /// Evaluates every switched-on term for `pred`, `target`
    /// `[batch, C, *grid_shape]` (normalised units): `[batch, C, nlat, nlon]`
    /// on lat-lon grids, `[batch, C, npoints]` on Gaussian grids; updates
    /// the running AMSE normaliser when enabled.
    pub fn forward(&mut self, pred: &Tensor, target: &Tensor) -> Result<LossOutput> {
        let mut running = self.running.take();
        let out = self.evaluate(pred, target, running.as_mut(), None);
        self.running = running;
        out
    }

    /// The same loss as [`forward`](Self::forward) with the running AMSE
    /// normaliser held at `beta` (as returned in [`LossOutput::amse_beta`])
    /// and not updated: for evaluating one forecast step a second time, as
    /// activation checkpointing does.
    pub fn forward_with_beta(
        &self,
        pred: &Tensor,
        target: &Tensor,
        beta: Option<&[f64]>,
    ) -> Result<LossOutput> {
        self.evaluate(pred, target, None, beta)
    }

    fn evaluate(
        &self,
        pred: &Tensor,
        target: &Tensor,
        running: Option<&mut Vec<f64>>,
        fixed_beta: Option<&[f64]>,
    ) -> Result<LossOutput> {
        let c = &self.config;
        let channels = self.ctx.channel_weights.size()[0];
        crate::error::check_field("target", target, Some(channels), &self.ctx.grid_shape)?;
        if pred.size() != target.size() {
            return Err(LossError::Shape {
                what: "prediction".into(),
                got: pred.size(),
                expected: format!("{:?} (the shape of the target)", target.size()),
            });
        }
        let mut amse_beta = None;
        let mut total = Tensor::zeros([], (pred.kind(), pred.device()));
        let mut terms = Vec::new();
        let mut per_channel = Vec::new();
        let to_vec = |t: &Tensor| {
            Vec::<f64>::try_from(t.detach().to_kind(Kind::Double).to_device(tch::Device::Cpu))
                .unwrap_or_default()
        };
        let scalar = |t: &Tensor| {
            f64::try_from(t.detach().to_kind(Kind::Double).to_device(tch::Device::Cpu))
                .unwrap_or(f64::NAN)
        };
        if c.mse > 0.0 {
            let pc = mse_per_channel(pred, target, &self.ctx.area_weights)?;
            let term = combine_channels(&pc, &self.mse_weights) * c.mse;
            terms.push(("mse", scalar(&term)));
            per_channel.push(("mse", to_vec(&pc)));
            total += term;
        }
        if c.amse > 0.0 {
            let (Some(sht), Some(gamma)) = (&self.ctx.sht, &self.gamma) else {
                unreachable!("checked in new")
            };
            let mut pc = amse_per_channel(sht, pred, target, c.amse_epsilon, gamma)?;
            per_channel.push(("amse", to_vec(&pc)));
            let beta = match (running, fixed_beta) {
                (_, Some(beta)) => Some(beta.to_vec()),
                (Some(running), None) => {
                    let mut now = to_vec(&pc);
                    if let Some(reduce) = &self.reducer {
                        reduce(&mut now).map_err(|e| LossError::Config {
                            field: "running AMSE normaliser".into(),
                            value: e,
                            expected: "a per-channel mean over the ranks".into(),
                        })?;
                    }
                    if running.is_empty() {
                        *running = now;
                    } else {
                        for (r, v) in running.iter_mut().zip(now) {
                            *r = c.amse_running_decay * *r + (1.0 - c.amse_running_decay) * v;
                        }
                    }
                    Some(
                        running
                            .iter()
                            .map(|r| if *r > 0.0 { 1.0 / r } else { 1.0 })
                            .collect::<Vec<f64>>(),
                    )
                }
                (None, None) => None,
            };
            if let Some(beta) = beta {
                pc *= Tensor::from_slice(&beta)
                    .to_kind(pred.kind())
                    .to_device(pred.device());
                amse_beta = Some(beta);
            }
            let term = combine_channels(&pc, &self.ctx.channel_weights) * c.amse;
            terms.push(("amse", scalar(&term)));
            total += term;
        }
        if c.grad_x + c.grad_y > 0.0 {
            let Some((op, sx, sy)) = &self.ctx.gradient else {
                unreachable!("checked in new")
            };
            let (lx, ly) = op.loss_per_channel(pred, target, sx, sy)?;
            for (name, l, lambda) in [("grad_x", lx, c.grad_x), ("grad_y", ly, c.grad_y)] {
                if lambda > 0.0 {
                    let term = combine_channels(&l, &self.ctx.channel_weights) * lambda;
                    terms.push((name, scalar(&term)));
                    per_channel.push((name, to_vec(&l)));
                    total += term;
                }
            }
        }
        if c.wind {
            let (d, s) =
                wind::wind_terms(pred, target, &self.ctx.area_weights, &self.ctx.wind_pairs)?;
            let dir = (&d * &self.pair_weights).sum(None::<Kind>);
            let spd = (&s * &self.pair_weights).sum(None::<Kind>) * c.wind_speed;
            terms.push(("wind_direction", scalar(&dir)));
            terms.push(("wind_speed", scalar(&spd)));
            total += dir + spd;
        }
        Ok(LossOutput {
            total,
            terms,
            per_channel,
            amse_beta,
        })
    }
}

#[cfg(test)]
mod tests;
