//! The training loop: fetch the step's batch (the next one is read on a
//! background thread meanwhile), roll out with the loss and back-propagate
//! ([`super::rollout`]), clip, AdamW step, validate ([`super::validate`]),
//! append metrics, checkpoint; exact resume, Ctrl-C and NaN handling.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result};
use fastnet_data::loader::{MakeItem, Prefetch, Sampler};
use fastnet_losses::CombinedLoss;
use serde::Serialize;
use tch::{nn::VarStore, Tensor};

use super::config::{OptimSection, TrainSection};
use super::optim::AdamW;
use super::rollout::{stack, train_rollout, RolloutContext, Shapes};
use super::source::{Sample, SampleSource};
use super::validate::{PerChannel, Validation};
use crate::checkpoint::{self, Sidecar};
use crate::dist::ProcessGroup;
use crate::error::FastnetError;
use crate::model::FastNet;

/// What one training step reports.
#[derive(Clone, Debug, Serialize)]
pub struct StepMetrics {
    pub step: u64,
    pub loss: f64,
    pub terms: BTreeMap<String, f64>,
    pub lr: f64,
    pub grad_norm: f64,
    pub rollout: usize,
    /// Samples per second over all ranks, data wait included.
    pub samples_per_s: f64,
    /// Seconds the step waited for its samples (0 when the loader keeps
    /// ahead).
    pub data_wait_s: f64,
}

/// Everything fixed about a run besides the model and the data.
pub struct RunInfo {
    /// Forecast channel names (model order) and their standard deviations
    /// (physical units), for validation RMSE.
    pub forecast_names: Vec<String>,
    pub forecast_std: Vec<f64>,
    /// Cell-area weights per latitude ring (mean 1).
    pub area_weights: Vec<f64>,
    /// Template of the checkpoint sidecar (step, files, loss and the
    /// running normaliser are filled in at each checkpoint).
    pub sidecar: Sidecar,
}

/// A training run in progress.
pub struct Trainer {
    pub section: TrainSection,
    pub model: FastNet,
    pub vs: VarStore,
    pub optimizer: AdamW,
    pub loss: CombinedLoss,
    pub train: Arc<dyn SampleSource>,
    pub valid: Option<Arc<dyn SampleSource>>,
    pub info: RunInfo,
    /// Completed steps.
    pub step: u64,
    pub stop: Arc<AtomicBool>,
    last_loss: Option<f64>,
    /// The newest checkpoint written or resumed from: (step, sidecar).
    checkpointed: Option<(u64, PathBuf)>,
    /// Training samples consumed over all ranks (the sample stream's
    /// position).
    pub samples_seen: u64,
    /// The data-parallel group, when this is one of several ranks: each
    /// takes its shard of the global batch, gradients are averaged over
    /// the ranks, and rank 0 alone writes metrics and checkpoints.
    pub group: Option<Arc<ProcessGroup>>,
}

/// What a trainer is built from.
pub struct Setup {
    pub section: TrainSection,
    pub optim: OptimSection,
    pub model: crate::model::ModelConfig,
    pub graph: crate::model::GraphBuffers,
    pub loss: CombinedLoss,
    pub train: Arc<dyn SampleSource>,
    pub valid: Option<Arc<dyn SampleSource>>,
    pub info: RunInfo,
    pub device: tch::Device,
    pub group: Option<ProcessGroup>,
}

/// Builds a trainer: seeds libtorch, creates the model in a fresh var
/// store on the device and the optimiser over its trainable parameters.
pub fn build(setup: Setup) -> Result<Trainer> {
    let Setup {
        section,
        optim,
        model: model_config,
        graph,
        loss,
        train,
        valid,
        info,
        device,
        group,
    } = setup;
    let group = group.map(Arc::new);
    let mut loss = loss;
    if let Some(g) = &group {
        // one running AMSE normaliser for all ranks
        let g = g.clone();
        loss.set_reducer(Box::new(move |v| {
            let mean = g.mean(v).map_err(|e| e.to_string())?;
            v.copy_from_slice(&mean);
            Ok(())
        }));
    }
    section.validate()?;
    optim.validate()?;
    if section.threads > 0 {
        tch::set_num_threads(section.threads);
    }
    tch::manual_seed(section.seed as i64);
    let vs = VarStore::new(device);
    let mut model = FastNet::new(&vs.root(), &model_config, &graph)?;
    model.set_precision(section.precision);
    let params: Vec<(String, Tensor)> = vs
        .variables()
        .into_iter()
        .filter(|(_, t)| t.requires_grad())
        .collect();
    let optimizer = AdamW::new(optim, params);
    Ok(Trainer {
        section,
        model,
        vs,
        optimizer,
        loss,
        train,
        valid,
        info,
        step: 0,
        stop: Arc::new(AtomicBool::new(false)),
        last_loss: None,
        checkpointed: None,
        samples_seen: 0,
        group,
    })
}

/// Which samples this rank trains on from `step` on: its `batch_size`
/// shard of every step's global batch in the seeded sample stream (global
/// positions: the same for a given seed and position however the run got
/// there, whatever the number of ranks).
#[derive(Clone, Copy, Debug)]
struct Plan {
    /// First step and the stream position of its global batch.
    step: u64,
    position: u64,
    rank: usize,
    /// Samples per step on this rank and over all ranks.
    batch: usize,
    global: u64,
    seed: u64,
}

impl Plan {
    /// The `k`-th sample this rank takes: (rollout, window index).
    fn sample(
        &self,
        section: &TrainSection,
        src: &dyn SampleSource,
        k: u64,
    ) -> Result<(usize, Sample)> {
        let b = self.batch as u64;
        let step = self.step + k / b;
        let position = self.position + (k / b) * self.global + self.rank as u64 * b + k % b;
        let rollout = section.rollout_at(step);
        let n = src.len(rollout);
        if n == 0 {
            return Err(FastnetError::State(format!(
                "no training windows of {rollout} step(s) in the training period"
            ))
            .into());
        }
        let index = Sampler { seed: self.seed }.window(position, 1, n)[0];
        Ok((rollout, src.get(index, rollout)?))
    }
}

impl Trainer {
    pub(super) fn rank(&self) -> usize {
        self.group.as_ref().map_or(0, |g| g.rank())
    }

    pub(super) fn world(&self) -> usize {
        self.group.as_ref().map_or(1, |g| g.world())
    }

    /// This rank's samples from the current step on.
    fn plan(&self) -> Plan {
        Plan {
            step: self.step,
            position: self.samples_seen,
            rank: self.rank(),
            batch: self.section.batch_size,
            global: self.global_batch(),
            seed: self.section.seed,
        }
    }

    /// Background threads that build this rank's samples from the current
    /// step on, in order ([`fastnet_data::loader::Prefetch`], the data
    /// crate's one prefetch): `train.loader_workers` threads, about
    /// `train.prefetch` batches ahead.
    fn batches(&self) -> Prefetch<(usize, Sample), anyhow::Error> {
        let (plan, section, src) = (self.plan(), self.section.clone(), self.train.clone());
        let total = self.section.steps.saturating_sub(self.step) * self.section.batch_size as u64;
        let make: MakeItem<(usize, Sample), anyhow::Error> = Arc::new(move || {
            let (section, src) = (section.clone(), src.clone());
            Box::new(move |k| plan.sample(&section, &*src, k))
        });
        Prefetch::new(
            total,
            self.section.workers(self.world()),
            self.section.prefetch.max(1) * self.section.batch_size,
            make,
        )
    }

    /// Samples per step over all ranks.
    fn global_batch(&self) -> u64 {
        (self.section.batch_size * self.world()) as u64
    }

    fn shapes(&self) -> Shapes {
        let (cnf, cf) = self.train.channels();
        Shapes::new(&self.train.grid_shape(), cnf, cf)
    }

    /// Restores weights, optimiser state, the loss's running normaliser and
    /// the step from the newest checkpoint in the checkpoint folder.
    /// Returns false when there is none.
    pub fn resume(&mut self) -> Result<bool> {
        let Some((_, json)) = checkpoint::list(&self.section.checkpoint_dir)?.pop() else {
            return Ok(false);
        };
        let (_, sidecar) = checkpoint::read_sidecar(&json)?;
        let run = &self.info.sidecar;
        if sidecar.channels != run.channels || sidecar.model != run.model {
            return Err(FastnetError::State(format!(
                "{}: the checkpoint is of a model with channels [{}] and {:?}; this run has [{}] and {:?}: resume with the configuration that wrote it, or choose another train.checkpoint_dir",
                json.display(),
                sidecar.channels.names().join(", "),
                sidecar.model,
                run.channels.names().join(", "),
                run.model
            ))
            .into());
        }
        if sidecar.graph_sha256 != self.info.sidecar.graph_sha256 {
            return Err(FastnetError::GraphMismatch {
                path: json,
                checkpoint: sidecar.graph_sha256,
                run: self.info.sidecar.graph_sha256.clone(),
            }
            .into());
        }
        let dir = &self.section.checkpoint_dir;
        checkpoint::load_into(
            &self.vs,
            &checkpoint::read_tensors(&dir.join(&sidecar.weights))?,
            &dir.join(&sidecar.weights),
        )?;
        self.optimizer.load_state(
            &checkpoint::read_optimizer(&dir.join(&sidecar.optimizer))?,
            sidecar.step,
        )?;
        if let Some(state) = &sidecar.loss.amse_running {
            self.loss.restore_running_state(state)?;
        }
        self.step = sidecar.step;
        self.samples_seen = sidecar.samples_seen;
        self.last_loss = sidecar.last_loss;
        self.checkpointed = Some((sidecar.step, json));
        Ok(true)
    }

    /// Writes a checkpoint for the completed steps (every rank checks the
    /// parameters agree; rank 0 writes it, and it is then the newest on
    /// every rank).
    pub fn checkpoint(&mut self) -> Result<PathBuf> {
        self.check_in_sync()?;
        let dir = &self.section.checkpoint_dir;
        if self.rank() != 0 {
            let path = dir.join(checkpoint::file_names(self.step).2);
            self.checkpointed = Some((self.step, path.clone()));
            return Ok(path);
        }
        let mut sc = self.info.sidecar.clone();
        sc.step = self.step;
        sc.samples_seen = self.samples_seen;
        sc.world_size = self.world();
        sc.last_loss = self.last_loss;
        sc.loss.amse_running = self.loss.running_state().map(<[f64]>::to_vec);
        let path = checkpoint::save(
            &self.section.checkpoint_dir,
            &self.vs,
            &self.optimizer.state(),
            sc,
            self.section.keep_checkpoints,
        )?;
        self.checkpointed = Some((self.step, path.clone()));
        Ok(path)
    }

    /// Rolls out over `samples` and back-propagates the loss into the
    /// gradients (no optimiser step): the rollout's loss and terms.
    pub fn rollout_backward(
        &mut self,
        samples: &[Sample],
        rollout: usize,
    ) -> Result<(f64, BTreeMap<String, f64>)> {
        let shapes = self.shapes();
        let batch = stack(samples, shapes, rollout as i64, self.vs.device());
        let cx = RolloutContext {
            shapes,
            recompute: self.section.recompute,
            step: self.step + 1,
            forecast_names: &self.info.forecast_names,
            checkpoint_dir: &self.section.checkpoint_dir,
        };
        train_rollout(&self.model, &mut self.loss, batch, &cx)
    }

    /// One optimiser step on a fetched batch; samples/s counted from `t0`.
    fn train_on(
        &mut self,
        (rollout, samples): (usize, Vec<Sample>),
        t0: Instant,
    ) -> Result<StepMetrics> {
        self.optimizer.zero_grad();
        let (mut total, mut terms) = self.rollout_backward(&samples, rollout)?;
        if let Some(g) = &self.group {
            // the step's loss over the global batch: the mean of the ranks'
            let mut values = vec![total];
            values.extend(terms.values().copied());
            let mean = g.mean(&values)?;
            total = mean[0];
            for (v, m) in terms.values_mut().zip(&mean[1..]) {
                *v = *m;
            }
        }
        self.average_gradients()?;
        let lr = self.optimizer.config.lr_at(self.step, self.section.steps);
        let norm = self.optimizer.grad_norm();
        if !norm.is_finite() {
            return Err(FastnetError::NonFiniteGradient {
                step: self.step + 1,
                value: norm,
                checkpoint_dir: self.section.checkpoint_dir.clone(),
            }
            .into());
        }
        let grad_norm = self.optimizer.step(lr);
        self.step += 1;
        self.samples_seen += self.global_batch();
        self.last_loss = Some(total);
        Ok(StepMetrics {
            step: self.step,
            loss: total,
            terms,
            lr,
            grad_norm,
            rollout,
            samples_per_s: (samples.len() * self.world()) as f64 / t0.elapsed().as_secs_f64(),
            data_wait_s: 0.0,
        })
    }

    /// Validation RMSE per forecast channel (physical units).
    pub fn validate(&self) -> Result<Option<PerChannel>> {
        let Some(valid) = &self.valid else {
            return Ok(None);
        };
        Validation {
            shapes: self.shapes(),
            batch_size: self.section.batch_size,
            batches: self.section.valid_batches,
            area_weights: &self.info.area_weights,
            names: &self.info.forecast_names,
            std: &self.info.forecast_std,
            group: self.group.as_deref(),
        }
        .rmse(&self.model, &**valid, self.vs.device())
    }

    /// Runs until `section.steps` (or Ctrl-C), appending metrics to the
    /// JSONL file and calling `on_step` after every step. Returns the
    /// newest checkpoint, which is always that of the last completed step.
    ///
    /// The metrics file is first cut back to the steps already done (a run
    /// killed after it wrote lines for steps it never checkpointed, or an
    /// older run's lines when this one starts from step 0), so that it
    /// holds each step once.
    pub fn run(
        &mut self,
        on_step: &mut dyn FnMut(&StepMetrics, Option<&PerChannel>),
    ) -> Result<Option<PathBuf>> {
        let lead = self.rank() == 0;
        let mut metrics = if lead {
            truncate_metrics(&self.section.metrics, self.step)?;
            Some(open_append(&self.section.metrics)?)
        } else {
            None
        };
        let mut log = |line: String| -> Result<()> {
            if let Some(m) = &mut metrics {
                writeln!(m, "{line}")?;
            }
            Ok(())
        };
        // The samples are built on background threads while steps compute;
        // they depend only on the stream position, so the run (and a resumed
        // one) trains on exactly what a synchronous loop would.
        let mut batches = self.batches();
        let b = self.section.batch_size;
        {
            while self.step < self.section.steps {
                if self.stop_requested()? {
                    let p = match &self.checkpointed {
                        Some((step, p)) if *step == self.step => p.clone(),
                        _ => self.checkpoint()?,
                    };
                    log(serde_json::json!({ "step": self.step, "event": "interrupted", "checkpoint": p }).to_string())?;
                    break;
                }
                let t0 = Instant::now();
                let mut rollout = 0;
                let mut samples = Vec::with_capacity(b);
                for _ in 0..b {
                    let (r, sample) = batches.next().context("the sample stream ended early")??;
                    rollout = r;
                    samples.push(sample);
                }
                let batch_data = (rollout, samples);
                let waited = t0.elapsed().as_secs_f64();
                let mut m = self.train_on(batch_data, t0)?;
                m.data_wait_s = waited;
                log(serde_json::to_string(&m)?)?;
                let mut valid = None;
                if self.section.valid_interval > 0
                    && self.step.is_multiple_of(self.section.valid_interval)
                {
                    valid = self.validate()?;
                    if let Some(v) = &valid {
                        log(serde_json::json!({ "step": self.step, "valid_rmse": v }).to_string())?;
                    }
                }
                if self.section.checkpoint_interval > 0
                    && self.step.is_multiple_of(self.section.checkpoint_interval)
                {
                    self.checkpoint()?;
                }
                if lead {
                    on_step(&m, valid.as_ref());
                }
            }
        }
        drop(batches);
        if self.checkpointed.as_ref().is_none_or(|c| c.0 != self.step) {
            self.checkpoint()?;
        }
        Ok(self.checkpointed.as_ref().map(|c| c.1.clone()))
    }
}

fn open_append(path: &Path) -> Result<std::fs::File> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .with_context(|| format!("opening metrics file {}", path.display()))
}

/// Drops the metrics lines of steps after `step` (and a torn last line);
/// with `step` 0, every line.
fn truncate_metrics(path: &Path, step: u64) -> Result<()> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    };
    let text = String::from_utf8_lossy(&bytes);
    let keep: String = text
        .lines()
        .filter(|l| {
            step > 0
                && serde_json::from_str::<serde_json::Value>(l)
                    .ok()
                    .and_then(|v| v.get("step").and_then(|s| s.as_u64()))
                    .is_some_and(|s| s <= step)
        })
        .flat_map(|l| [l, "\n"])
        .collect();
    if keep.as_bytes() != bytes.as_slice() {
        fastnet_mesh::atomic::write_atomic(path, keep.as_bytes())
            .with_context(|| format!("rewriting {}", path.display()))?;
    }
    Ok(())
}
