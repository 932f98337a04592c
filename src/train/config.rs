//! `fastnet train --config FILE.toml`: the whole run in one file.
//!
//! ```toml
//! [data]
//! paths = ["era5/*.nc"]                  # ERA5 NetCDF: files, folders, globs
//! stats = "stats.json"                   # from `fastnet stats`
//! train = ["1979-01-01", "2017-12-31"]   # inclusive date ranges
//! valid = ["2018-01-01", "2018-12-31"]
//! # non_forecast = [...], forecast = [...]   (default: FastNet's 12 + 72)
//!
//! [graph]        # file = "graph.safetensors", or build: mesh_level, rules
//! [model]        # hidden, processor_layers (channel counts come from [data])
//! [loss]         # mse, amse, grad_x, grad_y, wind, wind_speed, ...
//! [optim]        # lr, min_lr, warmup_steps, beta1, beta2, weight_decay, grad_clip
//! [train]        # batch_size, steps, curriculum, valid_interval, seed, device, ...
//! ```
//!
//! Every section but `[data]` has defaults; unknown keys are an error.

use std::path::{Path, PathBuf};

use fastnet_losses::LossConfig;
use fastnet_mesh::{GraphConfig, GridToMesh, MeshToGrid};
use serde::{Deserialize, Serialize};

use crate::error::{FastnetError, Result};
use crate::model::Precision;
use crate::runtime::DeviceSpec;

/// `[data]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataSection {
    /// ERA5 NetCDF files, folders or glob patterns.
    pub paths: Vec<String>,
    /// Normalisation statistics from `fastnet stats`.
    pub stats: PathBuf,
    /// Training period `[from, to]` (dates as `2020-01-01` or `2020-01-01T06`).
    pub train: [String; 2],
    /// Validation period (optional).
    #[serde(default)]
    pub valid: Option<[String; 2]>,
    /// Channel names; default FastNet's.
    #[serde(default)]
    pub non_forecast: Option<Vec<String>>,
    #[serde(default)]
    pub forecast: Option<Vec<String>>,
    /// Fail instead of warning when a static field (lsm, orography, ...) is absent.
    #[serde(default)]
    pub require_static: bool,
    /// Hours per model step.
    #[serde(default = "six")]
    pub step_hours: i64,
    /// Surface-variable loss weights (GraphCast: t2m 1.0, others `surface_default`).
    #[serde(default = "surface_weights")]
    pub surface_weights: std::collections::BTreeMap<String, f64>,
    #[serde(default = "surface_default")]
    pub surface_default: f64,
}

fn six() -> i64 {
    6
}
fn surface_weights() -> std::collections::BTreeMap<String, f64> {
    [("t2m".to_string(), 1.0)].into()
}
fn surface_default() -> f64 {
    0.1
}

/// `[graph]`: a prebuilt graph file, or the rules to build one on the data
/// grid (FastNet's by default: level 5, k-nearest 2 / 3).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GraphSection {
    #[serde(default)]
    pub file: Option<PathBuf>,
    #[serde(default)]
    pub mesh_level: Option<u32>,
    #[serde(default)]
    pub grid_to_mesh: Option<GridToMesh>,
    #[serde(default)]
    pub mesh_to_grid: Option<MeshToGrid>,
}

impl GraphSection {
    /// The build rules (FastNet's defaults, overridden by what is given).
    pub fn build_config(&self) -> GraphConfig {
        let mut c = GraphConfig::fastnet(self.mesh_level.unwrap_or(5));
        if let Some(r) = &self.grid_to_mesh {
            c.grid_to_mesh = r.clone();
        }
        if let Some(r) = &self.mesh_to_grid {
            c.mesh_to_grid = r.clone();
        }
        c
    }

    fn has_rules(&self) -> bool {
        self.mesh_level.is_some() || self.grid_to_mesh.is_some() || self.mesh_to_grid.is_some()
    }
}

/// `[model]`: widths; channel counts come from the data.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ModelSection {
    pub hidden: i64,
    pub processor_layers: i64,
}

impl Default for ModelSection {
    fn default() -> Self {
        let d = crate::model::ModelConfig::default();
        ModelSection {
            hidden: d.hidden,
            processor_layers: d.processor_layers,
        }
    }
}

/// One stage of the rollout curriculum: from `from_step` on, train with
/// `rollout` autoregressive steps.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RolloutStage {
    pub from_step: u64,
    pub rollout: usize,
}

/// `[train]` config section.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TrainSection {
    pub batch_size: usize,
    /// Total optimiser steps.
    pub steps: u64,
    /// Rollout curriculum, e.g. `[{from_step = 0, rollout = 1},
    /// {from_step = 5000, rollout = 2}, ...]`.
    pub curriculum: Vec<RolloutStage>,
    /// Validate every this many steps (0 = never).
    pub valid_interval: u64,
    /// Validation batches per validation.
    pub valid_batches: usize,
    /// Seed of the weight initialisation and the data order.
    pub seed: u64,
    /// `auto` (CUDA if present), `cpu`, `cuda` or `cuda:N`.
    pub device: DeviceSpec,
    /// CPU threads for libtorch (0 = libtorch's default).
    pub threads: i32,
    pub checkpoint_dir: PathBuf,
    /// Checkpoint every this many steps (and at the end and on Ctrl-C).
    pub checkpoint_interval: u64,
    /// Keep the newest this many checkpoints.
    pub keep_checkpoints: usize,
    /// Metrics appended here, one JSON object per line.
    pub metrics: PathBuf,
    /// Arithmetic of the Linear layers: `f32`, or `bf16` (mixed
    /// precision for GPUs: bf16 matmuls, f32 everything else).
    pub precision: Precision,
    /// Activation checkpointing for rollouts: keep only each step's input
    /// state and recompute the step's activations during the backward
    /// pass. Memory stays that of one step whatever the rollout length,
    /// for about one more forward pass per step; gradients are the same.
    pub recompute: bool,
    /// Seconds a rank waits for the others in a collective (rendezvous,
    /// gradient all-reduce) before it stops with an error: a rank that
    /// died or hangs stops the run within this time.
    pub dist_timeout_s: u64,
    /// c10d backend of a multi-process run: `auto` (NCCL on CUDA when this
    /// build has it, else Gloo), `gloo` or `nccl`.
    pub dist_backend: crate::dist::Backend,
    /// Background threads building training samples (0: the cores per
    /// rank).
    pub loader_workers: usize,
    /// Batches the loader builds ahead of the step that computes.
    pub prefetch: usize,
}

impl Default for TrainSection {
    fn default() -> Self {
        TrainSection {
            batch_size: 1,
            steps: 1000,
            curriculum: vec![RolloutStage {
                from_step: 0,
                rollout: 1,
            }],
            valid_interval: 250,
            valid_batches: 4,
            seed: 0,
            device: DeviceSpec::Auto,
            threads: 0,
            checkpoint_dir: "checkpoints".into(),
            checkpoint_interval: 250,
            keep_checkpoints: 3,
            metrics: "metrics.jsonl".into(),
            precision: Precision::F32,
            recompute: false,
            dist_timeout_s: 300,
            dist_backend: crate::dist::Backend::Auto,
            loader_workers: 0,
            prefetch: 2,
        }
    }
}

impl TrainSection {
    pub fn validate(&self) -> Result<()> {
        if self.batch_size == 0 {
            return Err(FastnetError::bad_config(
                "train.batch_size",
                0,
                "at least 1",
            ));
        }
        if self.steps == 0 {
            return Err(FastnetError::bad_config("train.steps", 0, "at least 1"));
        }
        let stages = || format!("{:?}", self.curriculum);
        if self.curriculum.first().is_none_or(|s| s.from_step != 0) {
            return Err(FastnetError::bad_config(
                "train.curriculum",
                stages(),
                "a first stage at from_step = 0",
            ));
        }
        if self.curriculum.iter().any(|s| s.rollout == 0) {
            return Err(FastnetError::bad_config(
                "train.curriculum",
                stages(),
                "every rollout at least 1 step",
            ));
        }
        if self
            .curriculum
            .windows(2)
            .any(|w| w[1].from_step <= w[0].from_step)
        {
            return Err(FastnetError::bad_config(
                "train.curriculum",
                stages(),
                "from_step increasing from stage to stage",
            ));
        }
        if self.dist_timeout_s == 0 {
            return Err(FastnetError::bad_config(
                "train.dist_timeout_s",
                0,
                "at least 1 second",
            ));
        }
        if self.keep_checkpoints == 0 {
            return Err(FastnetError::bad_config(
                "train.keep_checkpoints",
                0,
                "at least 1 (the last good checkpoint)",
            ));
        }
        Ok(())
    }

    /// Loader threads for one of `world` ranks on this machine: the
    /// configured number, or the cores per rank.
    pub fn workers(&self, world: usize) -> usize {
        match self.loader_workers {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get()) / world.max(1),
            n => n,
        }
        .max(1)
    }

    /// Rollout length at `step`.
    pub fn rollout_at(&self, step: u64) -> usize {
        self.curriculum
            .iter()
            .rev()
            .find(|s| s.from_step <= step)
            .map_or(1, |s| s.rollout)
    }
}

/// `[optim]` config section.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OptimSection {
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

impl Default for OptimSection {
    fn default() -> Self {
        OptimSection {
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

impl OptimSection {
    pub fn validate(&self) -> Result<()> {
        let checks = [
            (
                "optim.lr",
                self.lr,
                self.lr > 0.0,
                "a positive learning rate",
            ),
            (
                "optim.min_lr",
                self.min_lr,
                self.min_lr >= 0.0 && self.min_lr <= self.lr,
                "0 <= min_lr <= lr",
            ),
            (
                "optim.beta1",
                self.beta1,
                (0.0..1.0).contains(&self.beta1),
                "a value in [0, 1)",
            ),
            (
                "optim.beta2",
                self.beta2,
                (0.0..1.0).contains(&self.beta2),
                "a value in [0, 1)",
            ),
            ("optim.eps", self.eps, self.eps > 0.0, "a positive epsilon"),
            (
                "optim.weight_decay",
                self.weight_decay,
                self.weight_decay >= 0.0,
                "a non-negative decay",
            ),
            (
                "optim.grad_clip",
                self.grad_clip,
                self.grad_clip >= 0.0,
                "a non-negative norm (0 = off)",
            ),
        ];
        for (field, value, ok, expected) in checks {
            if !ok || !value.is_finite() {
                return Err(FastnetError::bad_config(
                    field,
                    value,
                    format!("{expected}, finite"),
                ));
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

/// The whole training configuration.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainConfig {
    pub data: DataSection,
    #[serde(default)]
    pub graph: GraphSection,
    #[serde(default)]
    pub model: ModelSection,
    #[serde(default)]
    pub loss: LossConfig,
    #[serde(default)]
    pub optim: OptimSection,
    #[serde(default)]
    pub train: TrainSection,
}

impl TrainConfig {
    /// Reads and validates a TOML file; relative paths are taken from the
    /// file's folder.
    pub fn load(path: &Path) -> anyhow::Result<TrainConfig> {
        use anyhow::Context;
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading config {}", path.display()))?;
        let mut c: TrainConfig =
            toml::from_str(&text).with_context(|| format!("{}: invalid config", path.display()))?;
        let base = path.parent().unwrap_or(Path::new("."));
        let rel = |p: &mut PathBuf| {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        };
        rel(&mut c.data.stats);
        if let Some(f) = &mut c.graph.file {
            rel(f);
        }
        rel(&mut c.train.checkpoint_dir);
        rel(&mut c.train.metrics);
        for p in &mut c.data.paths {
            if Path::new(p).is_relative() {
                *p = base.join(&*p).to_string_lossy().into_owned();
            }
        }
        c.validate()
            .with_context(|| format!("{}: invalid config", path.display()))?;
        Ok(c)
    }

    pub fn validate(&self) -> Result<()> {
        if self.data.paths.is_empty() {
            return Err(FastnetError::bad_config(
                "data.paths",
                "[]",
                "ERA5 NetCDF files, folders or globs",
            ));
        }
        if self.data.step_hours <= 0 {
            return Err(FastnetError::bad_config(
                "data.step_hours",
                self.data.step_hours,
                "a positive number of hours",
            ));
        }
        if self.graph.file.is_some() && self.graph.has_rules() {
            return Err(FastnetError::bad_config(
                "graph",
                "file and build rules",
                "either `file` or the build rules (mesh_level, ...), not both",
            ));
        }
        crate::train::period(&self.data.train, "data.train")?;
        if let Some(v) = &self.data.valid {
            crate::train::period(v, "data.valid")?;
        }
        crate::model::ModelConfig {
            hidden: self.model.hidden,
            processor_layers: self.model.processor_layers,
            ..crate::model::ModelConfig::default()
        }
        .validate()?;
        self.graph.build_config().validate()?;
        self.loss.validate()?;
        self.optim.validate()?;
        self.train.validate()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minimal_config_gets_defaults_and_unknown_keys_fail() {
        let c: TrainConfig = toml::from_str(
            r#"
            [data]
            paths = ["x.nc"]
            stats = "s.json"
            train = ["2020-01-01", "2020-01-31"]
            [graph]
            mesh_level = 3
            grid_to_mesh = { rule = "radius", fraction = 0.6 }
            [loss]
            amse = 0.5
            [train]
            steps = 10
            curriculum = [{ from_step = 0, rollout = 1 }, { from_step = 5, rollout = 3 }]
            precision = "bf16"
            recompute = true
            "#,
        )
        .unwrap();
        c.validate().unwrap();
        assert_eq!((c.loss.amse, c.train.steps, c.model.hidden), (0.5, 10, 768));
        assert_eq!(c.train.rollout_at(7), 3);
        assert_eq!(
            (c.train.precision, c.train.recompute),
            (Precision::Bf16, true)
        );
        let fp8 = toml::from_str::<TrainConfig>(
            "[data]\npaths=[]\nstats='s'\ntrain=['a','b']\n[train]\nprecision='fp8'\n",
        );
        let e = fp8.unwrap_err().to_string();
        assert!(e.contains("fp8") && e.contains("bf16"), "{e}");
        assert_eq!(c.graph.build_config().mesh_level, 3);
        assert_eq!(
            c.graph.build_config().grid_to_mesh,
            GridToMesh::Radius { fraction: 0.6 }
        );
        let bad = toml::from_str::<TrainConfig>(
            "[data]\npaths=[]\nstats='s'\ntrain=['a','b']\n[optim]\nlearning_rate=1\n",
        );
        assert!(bad.unwrap_err().to_string().contains("learning_rate"));
        let mut c2 = c.clone();
        c2.loss.grad_x = -1.0;
        assert!(c2
            .validate()
            .unwrap_err()
            .to_string()
            .contains("loss.grad_x"));
    }

    #[test]
    fn bad_values_are_typed_errors_naming_the_field() {
        let field = |r: Result<()>| match r {
            Err(FastnetError::BadConfig { field, .. }) => field,
            other => panic!("{other:?}"),
        };
        let s = TrainSection {
            batch_size: 0,
            ..TrainSection::default()
        };
        assert_eq!(field(s.validate()), "train.batch_size");
        let s = TrainSection {
            curriculum: vec![RolloutStage {
                from_step: 5,
                rollout: 1,
            }],
            ..TrainSection::default()
        };
        assert_eq!(field(s.validate()), "train.curriculum");
        assert_eq!(TrainSection::default().rollout_at(10_000), 1);
        let o = OptimSection {
            beta2: 1.0,
            ..OptimSection::default()
        };
        assert_eq!(field(o.validate()), "optim.beta2");
        let o = OptimSection {
            grad_clip: f64::INFINITY,
            ..OptimSection::default()
        };
        assert_eq!(field(o.validate()), "optim.grad_clip");
        // devices are parsed when the file is read, with the accepted forms
        let e = toml::from_str::<TrainConfig>(
            "[data]\npaths=['x']\nstats='s'\ntrain=['2020-01-01','2020-01-02']\n[train]\ndevice='tpu'\n",
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("tpu") && e.contains("cuda:N"), "{e}");
        let mut c: TrainConfig = toml::from_str(
            "[data]\npaths=['x']\nstats='s'\ntrain=['2020-01-01','2020-01-02']\n[train]\ndevice='cuda:3'\n",
        )
        .unwrap();
        assert_eq!(c.train.device, DeviceSpec::Cuda(3));
        c.validate().unwrap();
        c.data.train = ["2020-02-01".into(), "2020-01-01".into()];
        assert_eq!(field(c.validate()), "data.train");
        c.data.train = ["2020-01-01".into(), "2020-01-02".into()];
        c.data.step_hours = 0;
        assert_eq!(field(c.validate()), "data.step_hours");
    }
}
