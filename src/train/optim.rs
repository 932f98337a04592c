//! AdamW with a linear-warmup + cosine learning-rate schedule and global
//! gradient-norm clipping. Implemented here (not libtorch's optimiser) so the
//! moment estimates can be checkpointed and a resumed run continues exactly.

use std::collections::BTreeMap;

use anyhow::{bail, Result};

use super::config::OptimSection;
use tch::{Kind, Tensor};

/// AdamW state: first and second moments per named parameter.
pub struct AdamW {
    pub config: OptimSection,
    /// Steps taken (for bias correction).
    pub step: u64,
    params: Vec<(String, Tensor)>,
    pub exp_avg: BTreeMap<String, Tensor>,
    pub exp_avg_sq: BTreeMap<String, Tensor>,
}

impl AdamW {
    /// The trainable parameters, sorted by name.
    pub fn params(&self) -> &[(String, Tensor)] {
        &self.params
    }

    /// `params` — (name, trainable tensor) pairs.
    pub fn new(config: OptimSection, mut params: Vec<(String, Tensor)>) -> Self {
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
        let c = OptimSection {
            lr: 1.0,
            min_lr: 0.0,
            warmup_steps: 10,
            ..OptimSection::default()
        };
        assert!((c.lr_at(0, 110) - 0.1).abs() < 1e-12);
        assert!((c.lr_at(9, 110) - 1.0).abs() < 1e-12);
        assert!((c.lr_at(60, 110) - 0.5).abs() < 1e-12);
        assert!(c.lr_at(110, 110).abs() < 1e-12);
        assert!(OptimSection {
            beta1: 1.0,
            ..OptimSection::default()
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
        let cfg = OptimSection {
            weight_decay: 0.1,
            grad_clip: 0.0,
            eps: 1e-8,
            ..OptimSection::default()
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
        let cfg = OptimSection {
            grad_clip: 1.0,
            weight_decay: 0.0,
            beta1: 0.0,
            beta2: 0.0,
            ..OptimSection::default()
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
