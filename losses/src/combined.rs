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

/// Everything the loss needs to know about the data.
pub struct LossContext {
    /// Area weights `[nlat]`, mean 1.
    pub area_weights: Tensor,
    /// `s_j λ_j` per channel `[C]`.
    pub channel_weights: Tensor,
    /// For AMSE (required when `amse > 0`).
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
    /// `[batch, C, nlat, nlon]` (normalised units); updates the running
    /// AMSE normaliser when enabled.
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
mod tests {
    use super::*;
    use fastnet_eval::Sht;
    use fastnet_mesh::Grid;
    use tch::Device;

    const OPTS: (Kind, Device) = (Kind::Double, Device::Cpu);

    fn context(grid: &Grid) -> LossContext {
        let sht = Sht::for_grid(grid, None).unwrap();
        let gop = GradientOperator::new(grid, Kind::Double, Device::Cpu).unwrap();
        LossContext {
            area_weights: crate::weights::area_weights(grid, Kind::Double, Device::Cpu).unwrap(),
            channel_weights: Tensor::from_slice(&[1.0f64, 0.5, 2.0]),
            sht: Some(TorchSht::new(&sht, Kind::Double, Device::Cpu)),
            gradient: Some((
                gop,
                Tensor::from_slice(&[1e-5f64, 1e-5, 1e-5]),
                Tensor::from_slice(&[1e-5f64, 1e-5, 1e-5]),
            )),
            wind_pairs: vec![WindPair {
                u_channel: 1,
                v_channel: 2,
                u_mean: 0.0,
                u_std: 10.0,
                v_mean: 0.0,
                v_std: 10.0,
                speed_std: 8.0,
            }],
        }
    }

    #[test]
    fn config_parses_rejects_unknown_keys_and_negative_weights() {
        let c: LossConfig = serde_json::from_str(r#"{"amse": 0.5, "grad_x": 0.1}"#).unwrap();
        assert_eq!((c.mse, c.amse, c.wind_speed), (1.0, 0.5, 5.0));
        assert!(serde_json::from_str::<LossConfig>(r#"{"amsee": 1}"#).is_err());
        let bad = LossConfig {
            grad_y: -1.0,
            ..LossConfig::default()
        };
        assert!(bad
            .validate()
            .unwrap_err()
            .to_string()
            .contains("loss.grad_y"));
        let off = LossConfig {
            mse: 0.0,
            ..LossConfig::default()
        };
        assert!(off.validate().is_err());
    }

    #[test]
    fn every_term_is_zero_at_the_target_and_reported_separately() {
        let grid = Grid::from_spec("latlon:10").unwrap();
        // ε of the AMSE coherence leaves ~ε/P_l at equality; make it negligible
        let config = LossConfig {
            amse: 0.5,
            grad_x: 0.1,
            grad_y: 0.1,
            wind: true,
            amse_epsilon: 1e-24,
            ..LossConfig::default()
        };
        let mut loss = CombinedLoss::new(config, context(&grid)).unwrap();
        tch::manual_seed(3);
        let x = Tensor::randn([2, 3, 19, 36], OPTS);
        let out = loss.forward(&x, &x).unwrap();
        let names: Vec<&str> = out.terms.iter().map(|t| t.0).collect();
        assert_eq!(
            names,
            [
                "mse",
                "amse",
                "grad_x",
                "grad_y",
                "wind_direction",
                "wind_speed"
            ]
        );
        for (n, v) in &out.terms {
            assert!(v.abs() < 1e-12, "{n} = {v}");
        }
        let y = (&x + Tensor::randn([2, 3, 19, 36], OPTS) * 0.1).set_requires_grad(true);
        let out = loss.forward(&y, &x).unwrap();
        let sum: f64 = out.terms.iter().map(|t| t.1).sum();
        assert!((f64::try_from(&out.total).unwrap() - sum).abs() < 1e-9 * sum.abs());
        assert!(out.terms.iter().all(|t| t.1 > 0.0));
        out.total.backward();
        assert!(f64::try_from(y.grad().abs().sum(Kind::Double)).unwrap() > 0.0);
    }

    #[test]
    fn running_normaliser_scales_each_channel_to_its_running_mean() {
        let grid = Grid::from_spec("latlon:10").unwrap();
        let config = LossConfig {
            mse: 0.0,
            amse: 1.0,
            amse_running_normaliser: true,
            amse_running_decay: 0.5,
            ..LossConfig::default()
        };
        let mut loss = CombinedLoss::new(config, context(&grid)).unwrap();
        tch::manual_seed(5);
        let x = Tensor::randn([1, 3, 19, 36], OPTS);
        let y = &x + Tensor::randn([1, 3, 19, 36], OPTS) * 0.2;
        // first step: β_j = 1/AMSE_j, so the term is Σ_j channel weight_j = 3.5
        let out = loss.forward(&y, &x).unwrap();
        assert!((out.terms[0].1 - 3.5).abs() < 1e-9, "{}", out.terms[0].1);
        let a1 = out.per_channel[0].1.clone();
        // second step: β_j = 1/(0.5 a1_j + 0.5 a2_j)
        let y2 = &x + (&y - &x) * 2.0;
        let out = loss.forward(&y2, &x).unwrap();
        let a2 = &out.per_channel[0].1;
        let want: f64 = [1.0, 0.5, 2.0]
            .iter()
            .zip(a1.iter().zip(a2))
            .map(|(w, (p, q))| w * q / (0.5 * p + 0.5 * q))
            .sum();
        assert!(
            (out.terms[0].1 - want).abs() < 1e-9 * want,
            "{} vs {want}",
            out.terms[0].1
        );
        // evaluating step 2 again with its β gives the same value and
        // leaves the running mean where it was
        let beta = out.amse_beta.clone().unwrap();
        let again = loss.forward_with_beta(&y2, &x, Some(&beta)).unwrap();
        assert_eq!(again.terms[0].1, out.terms[0].1);
        assert_eq!(
            loss.running.as_deref(),
            Some(
                &a1.iter()
                    .zip(a2)
                    .map(|(p, q)| 0.5 * p + 0.5 * q)
                    .collect::<Vec<_>>()[..]
            )
        );
    }

    #[test]
    fn missing_operators_are_config_errors() {
        let grid = Grid::from_spec("latlon:10").unwrap();
        let mut ctx = context(&grid);
        ctx.sht = None;
        let e = CombinedLoss::new(
            LossConfig {
                amse: 1.0,
                ..LossConfig::default()
            },
            ctx,
        )
        .err()
        .unwrap()
        .to_string();
        assert!(e.contains("loss.amse"), "{e}");
    }

    #[test]
    fn f32_matches_f64() {
        let grid = Grid::from_spec("latlon:10").unwrap();
        let config = LossConfig {
            amse: 0.5,
            grad_x: 0.1,
            grad_y: 0.1,
            wind: true,
            ..LossConfig::default()
        };
        tch::manual_seed(4);
        let x = Tensor::randn([2, 3, 19, 36], OPTS);
        let y = &x + Tensor::randn([2, 3, 19, 36], OPTS) * 0.3;
        let mut l64 = CombinedLoss::new(config.clone(), context(&grid)).unwrap();
        let r64 = l64.forward(&y, &x).unwrap();
        let ctx = context(&grid);
        let sht = Sht::for_grid(&grid, None).unwrap();
        let (gop, sx, sy) = ctx.gradient.unwrap();
        let _ = gop;
        let ctx32 = LossContext {
            area_weights: ctx.area_weights.to_kind(Kind::Float),
            channel_weights: ctx.channel_weights.to_kind(Kind::Float),
            sht: Some(TorchSht::new(&sht, Kind::Float, Device::Cpu)),
            gradient: Some((
                GradientOperator::new(&grid, Kind::Float, Device::Cpu).unwrap(),
                sx.to_kind(Kind::Float),
                sy.to_kind(Kind::Float),
            )),
            wind_pairs: ctx.wind_pairs,
        };
        let mut l32 = CombinedLoss::new(config, ctx32).unwrap();
        let r32 = l32
            .forward(&y.to_kind(Kind::Float), &x.to_kind(Kind::Float))
            .unwrap();
        for ((n, a), (_, b)) in r64.terms.iter().zip(&r32.terms) {
            assert!((a - b).abs() < 1e-5 * a.abs(), "{n}: f64 {a} vs f32 {b}");
        }
    }
}
