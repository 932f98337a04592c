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

use anyhow::{bail, Context, Result};
use fastnet_losses::LossConfig;
use fastnet_mesh::{GraphConfig, GridToMesh, MeshToGrid};
use serde::{Deserialize, Serialize};

use super::optim::OptimConfig;
use super::trainer::TrainSection;

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
    pub optim: OptimConfig,
    #[serde(default)]
    pub train: TrainSection,
}

impl TrainConfig {
    /// Reads and validates a TOML file; relative paths are taken from the
    /// file's folder.
    pub fn load(path: &Path) -> Result<TrainConfig> {
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
            bail!("data.paths is empty: give ERA5 NetCDF files, folders or globs");
        }
        if self.data.step_hours <= 0 {
            bail!(
                "data.step_hours = {}: expected a positive number of hours",
                self.data.step_hours
            );
        }
        if self.graph.file.is_some() && self.graph.has_rules() {
            bail!("graph: give either `file` or the build rules (mesh_level, ...), not both");
        }
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
            (crate::model::Precision::Bf16, true)
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
}
