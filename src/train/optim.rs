//! AdamW with a linear-warmup + cosine learning-rate schedule and global
//! gradient-norm clipping. Implemented here (not libtorch's optimiser) so the
//! moment estimates can be checkpointed and a resumed run continues exactly.

use std::collections::BTreeMap;

use anyhow::{bail, Result};
use serde::{Deserialize, Serialize};
use tch::{Kind, Tensor};

/// `[optim]` config section.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OptimConfig {
    /// Peak learning rate.
    pub lr: f64,
    /// Final learning rate at the end of the cosine decay.
    pub min_lr: f64,
    /// Linear warm-up from 0 to `lr` over this many steps.
    pub warmup_steps: u64,
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
    /// Decoupled weight decay (AdamW).
    pub weight_decay: f64,
    /// Clip the global gradient norm to this value (0 = no clipping).
    pub grad_clip: f64,
}

impl Default for OptimConfig {
    fn default() -> Self {
        OptimConfig {
            lr: 1e-3,
            min_lr: 3e-7,
            warmup_steps: 1000,
            beta1: 0.9,
            beta2: 0.95,
            eps: 1e-8,
            weight_decay: 0.1,
            grad_clip: 32.0,
        }
    }
}

impl OptimConfig {
    pub fn validate(&self) -> Result<()> {
        let checks = [
            (
                "optim.lr",
                self.lr > 0.0 && self.lr.is_finite(),
                "a positive learning rate",
            ),
            (
                "optim.min_lr",
                self.min_lr >= 0.0 && self.min_lr <= self.lr,
                "0 <= min_lr <= lr",
            ),
            (
                "optim.beta1",
                (0.0..1.0).contains(&self.beta1),
                "a value in [0, 1)",
            ),
            (
                "optim.beta2",
                (0.0..1.0).contains(&self.beta2),
                "a value in [0, 1)",
            ),
            ("optim.eps", self.eps > 0.0, "a positive epsilon"),
            (
                "optim.weight_decay",
                self.weight_decay >= 0.0,
                "a non-negative decay",
            ),
            (
                "optim.grad_clip",
                self.grad_clip >= 0.0,
                "a non-negative norm (0 = off)",
            ),
        ];
        for (field, ok, expected) in checks {
            if !ok {
                bail!("{field}: expected {expected}");
            }
        }
        Ok(())
    }

    /// Learning rate at `step` (0-based) of `total` steps: linear warm-up,
    /// then cosine decay from `lr` to `min_lr`.
    pub fn lr_at(&self, step: u64, total: u64) -> f64 {
        if step < self.warmup_steps {
            return self.lr * (step + 1) as f64 / self.warmup_steps as f64;
        }
        let span = total.saturating_sub(self.warmup_steps).max(1) as f64;
        let t = ((step - self.warmup_steps) as f64 / span).min(1.0);
        self.min_lr + 0.5 * (self.lr - self.min_lr) * (1.0 + (std::f64::consts::PI * t).cos())
    }
}

/// AdamW state: first and second moments per named parameter.
pub struct AdamW {
    pub config: OptimConfig,
    /// Steps taken (for bias correction).
    pub step: u64,
    params: Vec<(String, Tensor)>,
    pub exp_avg: BTreeMap<String, Tensor>,
    pub exp_avg_sq: BTreeMap<String, Tensor>,
}

impl AdamW {
    /// `params` — (name, trainable tensor) pairs.
    pub fn new(config: OptimConfig, mut params: Vec<(String, Tensor)>) -> Self {
        params.sort_by(|a, b| a.0.cmp(&b.0));
        let zeros = |ps: &[(String, Tensor)]| {
            ps.iter()
                .map(|(n, t)| (n.clone(), t.zeros_like()))
                .collect()
        };
        AdamW {
            exp_avg: zeros(&params),
            exp_avg_sq: zeros(&params),
            params,
            config,
            step: 0,
        }
    }

    /// Global L2 norm of the gradients.
    pub fn grad_norm(&self) -> f64 {
        let sq: f64 = self
            .params
            .iter()
            .map(|(_, p)| {
                let g = p.grad();
                if g.defined() {
                    f64::try_from(g.square().sum(Kind::Double)).unwrap_or(f64::NAN)
                } else {
                    0.0
                }
            })
            .sum();
        sq.sqrt()
    }

    /// One update with learning rate `lr`; clips the gradients first.
    /// Returns the gradient norm before clipping.
    pub fn step(&mut self, lr: f64) -> f64 {
        let norm = self.grad_norm();
        let clip = if self.config.grad_clip > 0.0 && norm > self.config.grad_clip {
            self.config.grad_clip / norm
        } else {
            1.0
        };
        self.step += 1;
        let (b1, b2) = (self.config.beta1, self.config.beta2);
        let bc1 = 1.0 - b1.powi(self.step as i32);
        let bc2 = 1.0 - b2.powi(self.step as i32);
        tch::no_grad(|| {
            for (name, p) in &self.params {
                let g = p.grad();
                if !g.defined() {
                    continue;
                }
                let g = g * clip;
                let m = &self.exp_avg[name];
                let v = &self.exp_avg_sq[name];
                let _ = m
                    .shallow_clone()
                    .g_mul_scalar_(b1)
                    .g_add_(&(&g * (1.0 - b1)));
                let _ = v
                    .shallow_clone()
                    .g_mul_scalar_(b2)
                    .g_add_(&(g.square() * (1.0 - b2)));
                let mut p = p.shallow_clone();
                let _ = p.g_mul_scalar_(1.0 - lr * self.config.weight_decay);
                let update = (m / bc1) / ((v / bc2).sqrt() + self.config.eps) * lr;
                let _ = p.g_sub_(&update);
            }
        });
        norm
    }

    pub fn zero_grad(&mut self) {
        for (_, p) in &mut self.params {
            p.zero_grad();
        }
    }

    /// (name, tensor) of the optimiser state for a checkpoint.
    pub fn state(&self) -> Vec<(String, Tensor)> {
        let mut out = Vec::new();
        for (n, t) in &self.exp_avg {
            out.push((format!("exp_avg.{n}"), t.shallow_clone()));
        }
        for (n, t) in &self.exp_avg_sq {
            out.push((format!("exp_avg_sq.{n}"), t.shallow_clone()));
        }
        out
    }

    /// Restores the state written by [`AdamW::state`].
    pub fn load_state(&mut self, tensors: &BTreeMap<String, Tensor>, step: u64) -> Result<()> {
        for (prefix, map) in [
            ("exp_avg", &mut self.exp_avg),
            ("exp_avg_sq", &mut self.exp_avg_sq),
        ] {
            for (n, t) in map.iter_mut() {
                let key = format!("{prefix}.{n}");
                let Some(src) = tensors.get(&key) else {
                    bail!("optimiser state has no `{key}`")
                };
                if src.size() != t.size() {
                    bail!(
                        "optimiser state `{key}` has shape {:?}, the model needs {:?}",
                        src.size(),
                        t.size()
                    );
                }
                tch::no_grad(|| t.copy_(src));
            }
        }
        self.step = step;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::Device;

    #[test]
    fn schedule_warms_up_linearly_then_decays_by_a_cosine() {
        let c = OptimConfig {
            lr: 1.0,
            min_lr: 0.0,
            warmup_steps: 10,
            ..OptimConfig::default()
        };
        assert!((c.lr_at(0, 110) - 0.1).abs() < 1e-12);
        assert!((c.lr_at(9, 110) - 1.0).abs() < 1e-12);
        assert!((c.lr_at(60, 110) - 0.5).abs() < 1e-12);
        assert!(c.lr_at(110, 110).abs() < 1e-12);
        assert!(OptimConfig {
            beta1: 1.0,
            ..OptimConfig::default()
        }
        .validate()
        .unwrap_err()
        .to_string()
        .contains("optim.beta1"));
    }

    #[test]
    fn one_adamw_step_matches_the_closed_form() {
        // First step: m̂ = g, v̂ = g², update = lr·g/(|g| + eps) + lr·wd·p.
        let p = Tensor::from_slice(&[1.0f64, -2.0]).set_requires_grad(true);
        let cfg = OptimConfig {
            weight_decay: 0.1,
            grad_clip: 0.0,
            eps: 1e-8,
            ..OptimConfig::default()
        };
        let mut opt = AdamW::new(cfg, vec![("p".into(), p.shallow_clone())]);
        let loss = (&p * Tensor::from_slice(&[3.0f64, 0.5])).sum(Kind::Double);
        loss.backward();
        opt.step(0.01);
        let v: Vec<f64> = Vec::try_from(p.detach()).unwrap();
        let want = [
            1.0 * (1.0 - 0.001) - 0.01 * 3.0 / (3.0 + 1e-8),
            -2.0 * (1.0 - 0.001) - 0.01 * 0.5 / (0.5 + 1e-8),
        ];
        assert!(
            (v[0] - want[0]).abs() < 1e-12 && (v[1] - want[1]).abs() < 1e-12,
            "{v:?} vs {want:?}"
        );
        let _ = Device::Cpu;
    }

    #[test]
    fn clipping_scales_the_global_norm() {
        let p = Tensor::from_slice(&[0.0f64, 0.0]).set_requires_grad(true);
        let cfg = OptimConfig {
            grad_clip: 1.0,
            weight_decay: 0.0,
            beta1: 0.0,
            beta2: 0.0,
            ..OptimConfig::default()
        };
        let mut opt = AdamW::new(cfg, vec![("p".into(), p.shallow_clone())]);
        (&p * Tensor::from_slice(&[30.0f64, 40.0]))
            .sum(Kind::Double)
            .backward();
        assert!((opt.step(1.0) - 50.0).abs() < 1e-9);
        // β = 0: update = lr · g/|g| elementwise, independent of the scale
        let v: Vec<f64> = Vec::try_from(p.detach()).unwrap();
        assert!((v[0] + 1.0).abs() < 1e-6 && (v[1] + 1.0).abs() < 1e-6);
    }
}
