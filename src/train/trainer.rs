//! The training loop: sample a batch, roll the model out autoregressively,
//! apply the combined loss at every step, backpropagate through the whole
//! rollout, clip, AdamW step; validation RMSE, JSONL metrics, checkpoints,
//! exact resume, Ctrl-C and NaN handling.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use fastnet_losses::CombinedLoss;
use serde::{Deserialize, Serialize};
use tch::{nn::VarStore, Device, Kind, Tensor};

use super::checkpoint::{self, Sidecar};
use super::optim::{AdamW, OptimConfig};
use super::source::{Sample, SampleSource, Sampler};
use crate::model::{FastNet, Precision};

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
    /// `auto` (CUDA if present), `cpu` or `cuda:N`.
    pub device: String,
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
            device: "auto".into(),
            threads: 0,
            checkpoint_dir: "checkpoints".into(),
            checkpoint_interval: 250,
            keep_checkpoints: 3,
            metrics: "metrics.jsonl".into(),
            precision: Precision::F32,
            recompute: false,
        }
    }
}

impl TrainSection {
    pub fn validate(&self) -> Result<()> {
        if self.batch_size == 0 {
            bail!("train.batch_size = 0: expected at least 1");
        }
        if self.steps == 0 {
            bail!("train.steps = 0: expected at least 1");
        }
        if self.curriculum.first().is_none_or(|s| s.from_step != 0) {
            bail!("train.curriculum must start with a stage at from_step = 0");
        }
        if self.curriculum.iter().any(|s| s.rollout == 0) {
            bail!("train.curriculum: every rollout must be at least 1 step");
        }
        if self
            .curriculum
            .windows(2)
            .any(|w| w[1].from_step <= w[0].from_step)
        {
            bail!("train.curriculum: from_step must increase from stage to stage");
        }
        if self.keep_checkpoints == 0 {
            bail!("train.keep_checkpoints = 0: expected at least 1 (the last good checkpoint)");
        }
        parse_device(&self.device)?;
        Ok(())
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

/// `auto`, `cpu`, `cuda` or `cuda:N`.
pub fn parse_device(s: &str) -> Result<Device> {
    Ok(match s {
        "auto" => Device::cuda_if_available(),
        "cpu" => Device::Cpu,
        "cuda" => Device::Cuda(0),
        other => match other
            .strip_prefix("cuda:")
            .and_then(|n| n.parse::<usize>().ok())
        {
            Some(n) => Device::Cuda(n),
            None => bail!("train.device = {other:?}: expected auto, cpu, cuda or cuda:N"),
        },
    })
}

/// A value per channel name (validation RMSE).
pub type PerChannel = std::collections::BTreeMap<String, f64>;

/// What one training step reports.
#[derive(Clone, Debug, Serialize)]
pub struct StepMetrics {
    pub step: u64,
    pub loss: f64,
    pub terms: std::collections::BTreeMap<String, f64>,
    pub lr: f64,
    pub grad_norm: f64,
    pub rollout: usize,
    pub samples_per_s: f64,
}

/// Everything fixed about a run besides the model and the data.
pub struct RunInfo {
    /// Forecast channel names (model order) and their standard deviations
    /// (physical units), for validation RMSE.
    pub forecast_names: Vec<String>,
    pub forecast_std: Vec<f64>,
    /// Cell-area weights per latitude ring (mean 1).
    pub area_weights: Vec<f64>,
    /// Template of the checkpoint sidecar (step, files and loss are filled in).
    pub sidecar: Sidecar,
}

/// A training run in progress.
pub struct Trainer<'a> {
    pub section: TrainSection,
    pub model: FastNet,
    pub vs: VarStore,
    pub optimizer: AdamW,
    pub loss: CombinedLoss,
    pub train: &'a dyn SampleSource,
    pub valid: Option<&'a dyn SampleSource>,
    pub info: RunInfo,
    /// Completed steps.
    pub step: u64,
    pub stop: Arc<AtomicBool>,
    last_loss: f64,
}

/// Stacked tensors of a batch: input `[B, G, C]`, forcings `[R, B, G, C_nf]`,
/// targets `[R, B, G, C_f]`.
fn stack(
    samples: &[Sample],
    grid: i64,
    (c_nf, c_f): (i64, i64),
    rollout: i64,
    device: Device,
) -> Result<(Tensor, Tensor, Tensor)> {
    let b = samples.len() as i64;
    let cat = |f: &dyn Fn(&Sample) -> &Vec<f32>| -> Vec<f32> {
        samples.iter().flat_map(|s| f(s).iter().copied()).collect()
    };
    let input = Tensor::from_slice(&cat(&|s| &s.input)).view([b, grid, c_nf + c_f]);
    let forcings = Tensor::from_slice(&cat(&|s| &s.forcings))
        .view([b, rollout, grid, c_nf])
        .transpose(0, 1);
    let targets = Tensor::from_slice(&cat(&|s| &s.targets))
        .view([b, rollout, grid, c_f])
        .transpose(0, 1);
    Ok((
        input.to_device(device),
        forcings.to_device(device),
        targets.to_device(device),
    ))
}

/// `[B, G, C]` -> `[B, C, nlat, nlon]`.
fn to_bcyx(t: &Tensor, nlat: i64, nlon: i64) -> Tensor {
    let s = t.size();
    t.transpose(1, 2).reshape([s[0], s[2], nlat, nlon])
}

impl<'a> Trainer<'a> {
    fn shapes(&self) -> (i64, i64, (i64, i64)) {
        let (nlat, nlon) = self.train.grid_shape();
        let (cnf, cf) = self.train.channels();
        (nlat as i64, nlon as i64, (cnf as i64, cf as i64))
    }

    /// Restores weights, optimiser state and step from the newest
    /// checkpoint in the checkpoint folder. Returns false when there is none.
    pub fn resume(&mut self) -> Result<bool> {
        let Some((_, json)) = checkpoint::list(&self.section.checkpoint_dir)?.pop() else {
            return Ok(false);
        };
        let (_, sidecar) = checkpoint::read_sidecar(&json)?;
        if sidecar.graph_sha256 != self.info.sidecar.graph_sha256 {
            bail!(
                "{}: checkpoint was trained on graph {}, this run uses {}",
                json.display(),
                sidecar.graph_sha256,
                self.info.sidecar.graph_sha256
            );
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
        self.step = sidecar.step;
        self.last_loss = sidecar.last_loss;
        Ok(true)
    }

    /// Writes a checkpoint for the completed steps.
    pub fn checkpoint(&self) -> Result<PathBuf> {
        let mut sc = self.info.sidecar.clone();
        sc.step = self.step;
        sc.last_loss = self.last_loss;
        checkpoint::save(
            &self.section.checkpoint_dir,
            &self.vs,
            &self.optimizer.state(),
            sc,
            self.section.keep_checkpoints,
        )
    }

    /// Rolls the model out over a batch, back-propagates the mean loss over
    /// the rollout steps into the parameters' gradients and returns it,
    /// with each term summed over steps / R. A non-finite term stops
    /// training with the step, term and channel that went bad.
    fn rollout_backward(
        &mut self,
        samples: &[Sample],
        rollout: usize,
    ) -> Result<(f64, std::collections::BTreeMap<String, f64>)> {
        let (nlat, nlon, ch) = self.shapes();
        let (input, forcings, targets) =
            stack(samples, nlat * nlon, ch, rollout as i64, self.vs.device())?;
        let mut terms = std::collections::BTreeMap::new();
        let (loss, info, dir) = (&mut self.loss, &self.info, &self.section.checkpoint_dir);
        let step = self.step + 1;
        let total = rollout_backward(
            &self.model,
            input,
            &forcings,
            &targets,
            self.section.recompute,
            &mut |y, target, k, evaluation| {
                let (y, target) = (to_bcyx(y, nlat, nlon), to_bcyx(target, nlat, nlon));
                let Evaluation::Again(beta) = evaluation else {
                    let out = loss.forward(&y, &target)?;
                    for (name, v) in &out.terms {
                        if !v.is_finite() {
                            let channel = out
                                .per_channel
                                .iter()
                                .find(|(n, _)| n == name)
                                .and_then(|(_, vals)| vals.iter().position(|x| !x.is_finite()))
                                .map(|c| {
                                    info.forecast_names
                                        .get(c)
                                        .cloned()
                                        .unwrap_or_else(|| format!("#{c}"))
                                })
                                .unwrap_or_else(|| "(all)".into());
                            bail!(
                                "step {step}: loss term `{name}` is {v} in channel `{channel}` at rollout step {}; training stopped, the last good checkpoint in {} is intact",
                                k + 1,
                                dir.display()
                            );
                        }
                        *terms.entry(name.to_string()).or_insert(0.0) += v / rollout as f64;
                    }
                    return Ok((out.total / rollout as f64, out.amse_beta));
                };
                let out = loss.forward_with_beta(&y, &target, beta)?;
                Ok((out.total / rollout as f64, out.amse_beta))
            },
        )?;
        Ok((total, terms))
    }

    /// One optimiser step (the `self.step + 1`-th).
    pub fn train_step(&mut self) -> Result<StepMetrics> {
        let t0 = Instant::now();
        let batch = fetch_batch(self.train, &self.section, self.step)?;
        self.train_on(batch, t0)
    }

    /// One optimiser step on a fetched batch; samples/s counted from `t0`.
    fn train_on(
        &mut self,
        (rollout, samples): (usize, Vec<Sample>),
        t0: Instant,
    ) -> Result<StepMetrics> {
        self.optimizer.zero_grad();
        let (total, terms) = self.rollout_backward(&samples, rollout)?;
        let lr = self.optimizer.config.lr_at(self.step, self.section.steps);
        let norm = self.optimizer.grad_norm();
        if !norm.is_finite() {
            bail!("step {}: gradient norm is {norm}; training stopped, the last good checkpoint is intact", self.step + 1);
        }
        let grad_norm = self.optimizer.step(lr);
        self.step += 1;
        self.last_loss = total;
        Ok(StepMetrics {
            step: self.step,
            loss: self.last_loss,
            terms,
            lr,
            grad_norm,
            rollout,
            samples_per_s: samples.len() as f64 / t0.elapsed().as_secs_f64(),
        })
    }

    /// Validation RMSE per forecast channel (physical units) of one-step
    /// forecasts over `valid_batches` batches spread over the validation set.
    pub fn validate(&self) -> Result<Option<PerChannel>> {
        let Some(valid) = self.valid else {
            return Ok(None);
        };
        let n = valid.len(1);
        if n == 0 || self.section.valid_batches == 0 {
            return Ok(None);
        }
        let (nlat, nlon, ch) = self.shapes();
        let grid = nlat * nlon;
        let b = self.section.batch_size;
        let count = (self.section.valid_batches * b).min(n);
        let w = Tensor::from_slice(&self.info.area_weights)
            .to_kind(Kind::Float)
            .to_device(self.vs.device())
            .view([1, 1, nlat, 1]);
        let mut sum = Tensor::zeros([ch.1], (Kind::Double, self.vs.device()));
        let mut batches = 0;
        let _guard = tch::no_grad_guard();
        for chunk in (0..count)
            .map(|k| k * n / count)
            .collect::<Vec<_>>()
            .chunks(b)
        {
            let samples = chunk
                .iter()
                .map(|&i| valid.get(i, 1))
                .collect::<Result<Vec<_>>>()?;
            let (x, _, targets) = stack(&samples, grid, ch, 1, self.vs.device())?;
            let y = self.model.forward(&x)?;
            let e = (to_bcyx(&y, nlat, nlon) - to_bcyx(&targets.get(0), nlat, nlon)).square() * &w;
            sum += e.mean_dim([0i64, 2, 3].as_slice(), false, Kind::Double) / w.mean(Kind::Double);
            batches += 1;
        }
        let mse: Vec<f64> = Vec::try_from((sum / batches as f64).to_device(Device::Cpu))?;
        Ok(Some(
            self.info
                .forecast_names
                .iter()
                .zip(mse.iter().zip(&self.info.forecast_std))
                .map(|(name, (m, s))| (name.clone(), m.sqrt() * s))
                .collect(),
        ))
    }

    /// Runs until `section.steps` (or Ctrl-C), appending metrics to the
    /// JSONL file and calling `on_step` after every step.
    pub fn run(
        &mut self,
        on_step: &mut dyn FnMut(&StepMetrics, Option<&PerChannel>),
    ) -> Result<Option<PathBuf>> {
        let mut metrics = open_append(&self.section.metrics)?;
        let mut last_ckpt = None;
        // The next step's batch is read on a background thread while this
        // step computes; batches depend only on the step, so the run (and a
        // resumed one) trains on exactly what the synchronous loop would.
        let (src, section) = (self.train, self.section.clone());
        std::thread::scope(|scope| -> Result<()> {
            let prefetch = |step: u64| {
                let section = &section;
                scope.spawn(move || fetch_batch(src, section, step))
            };
            let mut next = (self.step < self.section.steps).then(|| prefetch(self.step));
            while self.step < self.section.steps {
                if self.stop.load(Ordering::SeqCst) {
                    let p = self.checkpoint()?;
                    writeln!(
                        metrics,
                        "{}",
                        serde_json::json!({ "step": self.step, "event": "interrupted", "checkpoint": p })
                    )?;
                    last_ckpt = Some(p);
                    return Ok(());
                }
                let t0 = Instant::now();
                let batch = next
                    .take()
                    .context("no batch prefetched")?
                    .join()
                    .map_err(|_| anyhow::anyhow!("the data thread panicked"))??;
                if self.step + 1 < self.section.steps {
                    next = Some(prefetch(self.step + 1));
                }
                let m = self.train_on(batch, t0)?;
                writeln!(metrics, "{}", serde_json::to_string(&m)?)?;
                let mut valid = None;
                if self.section.valid_interval > 0 && self.step % self.section.valid_interval == 0 {
                    valid = self.validate()?;
                    if let Some(v) = &valid {
                        writeln!(
                            metrics,
                            "{}",
                            serde_json::json!({ "step": self.step, "valid_rmse": v })
                        )?;
                    }
                }
                if self.section.checkpoint_interval > 0
                    && self.step % self.section.checkpoint_interval == 0
                {
                    last_ckpt = Some(self.checkpoint()?);
                }
                on_step(&m, valid.as_ref());
            }
            Ok(())
        })?;
        if self.stop.load(Ordering::SeqCst) && self.step < self.section.steps {
            return Ok(last_ckpt);
        }
        if last_ckpt
            .as_ref()
            .is_none_or(|p| !p.to_string_lossy().contains(&format!("{:08}", self.step)))
        {
            last_ckpt = Some(self.checkpoint()?);
        }
        Ok(last_ckpt)
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

/// What a trainer is built from.
pub struct Setup<'a> {
    pub section: TrainSection,
    pub optim: OptimConfig,
    pub model: crate::model::ModelConfig,
    pub graph: crate::model::GraphBuffers,
    pub loss: CombinedLoss,
    pub train: &'a dyn SampleSource,
    pub valid: Option<&'a dyn SampleSource>,
    pub info: RunInfo,
}

/// The batch of training step `step` (0-based): its rollout length and
/// samples, the same for a given seed and step however the run got there.
fn fetch_batch(
    src: &dyn SampleSource,
    section: &TrainSection,
    step: u64,
) -> Result<(usize, Vec<Sample>)> {
    let rollout = section.rollout_at(step);
    let n = src.len(rollout);
    if n == 0 {
        bail!("no training windows of {rollout} step(s) in the training period");
    }
    let idx = Sampler { seed: section.seed }.batch(step, section.batch_size, n);
    let samples = idx
        .iter()
        .map(|&i| src.get(i, rollout))
        .collect::<Result<Vec<_>>>()?;
    Ok((rollout, samples))
}

/// How [`rollout_backward`] asks for a rollout step's loss.
pub enum Evaluation<'a> {
    /// As training goes: a loss with state (the running AMSE normaliser)
    /// advances it and returns the state it used.
    First,
    /// The same step again, with the state the first evaluation returned.
    Again(Option<&'a [f64]>),
}

/// A rollout step's loss: `(prediction [B, G, C_f], target, step k,
/// evaluation) -> (loss, state to replay it)`.
pub type StepLoss<'a> =
    dyn FnMut(&Tensor, &Tensor, usize, Evaluation) -> Result<(Tensor, Option<Vec<f64>>)> + 'a;

/// Rolls `model` out `R` autoregressive steps from `input` `[B, G, C]`
/// (non-forecast channels first) with `forcings` `[R, B, G, C_nf]` (step
/// `k` is fed `forcings[k]` with the previous prediction) and `targets`
/// `[R, B, G, C_f]`, back-propagates `Σ_k loss(y_k, targets[k], k)` into
/// the parameters' gradients and returns its value.
///
/// With `recompute` (activation checkpointing), a forward pass without the
/// autograd graph keeps only every step's input state and evaluates the
/// losses in step order; then, last step first, each step is recomputed
/// with its graph and back-propagated together with the gradient the
/// later steps sent to its output, `∂/∂θ [L_k(y_k) + <y_k, g_k>]`, and
/// `g_{k-1}` is read off its input. Memory is one step's activations
/// whatever `R`; the gradients are the same.
pub fn rollout_backward(
    model: &FastNet,
    input: Tensor,
    forcings: &Tensor,
    targets: &Tensor,
    recompute: bool,
    loss: &mut StepLoss<'_>,
) -> Result<f64> {
    let rollout = targets.size()[0] as usize;
    let c_nf = forcings.size()[3];
    let c_f = targets.size()[3];
    if !recompute {
        let mut state = input;
        let mut total = Tensor::zeros([], (Kind::Float, state.device()));
        for k in 0..rollout {
            let y = model.forward(&state)?;
            total += loss(&y, &targets.get(k as i64), k, Evaluation::First)?.0;
            if k + 1 < rollout {
                state = Tensor::cat(&[forcings.get(k as i64 + 1), y], 2);
            }
        }
        total.backward();
        return Ok(f64::try_from(&total)?);
    }
    let mut states = vec![input];
    let mut replay = Vec::new();
    let mut total = 0.0;
    {
        let _guard = tch::no_grad_guard();
        for k in 0..rollout {
            let y = model.forward(&states[k])?;
            let (l, state) = loss(&y, &targets.get(k as i64), k, Evaluation::First)?;
            replay.push(state);
            total += f64::try_from(&l)?;
            if k + 1 < rollout {
                states.push(Tensor::cat(&[forcings.get(k as i64 + 1), y], 2));
            }
        }
    }
    let mut upstream: Option<Tensor> = None;
    for k in (0..rollout).rev() {
        let x = states[k].detach().set_requires_grad(k > 0);
        let y = model.forward(&x)?;
        let (mut objective, _) = loss(
            &y,
            &targets.get(k as i64),
            k,
            Evaluation::Again(replay[k].as_deref()),
        )?;
        if let Some(g) = upstream.take() {
            objective += (&y * g).sum(Kind::Float);
        }
        objective.backward();
        if k > 0 {
            upstream = Some(x.grad().narrow(2, c_nf, c_f));
        }
    }
    Ok(total)
}

/// Builds a trainer: seeds libtorch, creates the model in a fresh var
/// store on the configured device and the optimiser over its trainable
/// parameters.
pub fn build(setup: Setup<'_>) -> Result<Trainer<'_>> {
    let Setup {
        section,
        optim,
        model: model_config,
        graph,
        loss,
        train,
        valid,
        info,
    } = setup;
    section.validate()?;
    optim.validate()?;
    let device = parse_device(&section.device)?;
    if section.threads > 0 {
        tch::set_num_threads(section.threads);
    }
    tch::manual_seed(section.seed as i64);
    let vs = VarStore::new(device);
    let mut model = FastNet::new(&vs.root(), &model_config, &graph)?;
    model.set_precision(section.precision);
    let mut params: Vec<(String, Tensor)> = vs
        .variables()
        .into_iter()
        .filter(|(_, t)| t.requires_grad())
        .collect();
    params.sort_by(|a, b| a.0.cmp(&b.0));
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
        last_loss: f64::NAN,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{GraphBuffers, ModelConfig};
    use fastnet_losses::{LossConfig, LossContext};
    use fastnet_mesh::{Graph, GraphConfig, Grid};

    const NLAT: usize = 8;
    const NLON: usize = 16;

    /// Two forecast channels advected eastwards one column per step, one
    /// static non-forecast channel; `bad` puts a NaN into the targets.
    struct Advection {
        times: usize,
        bad: bool,
    }

    impl Advection {
        fn field(&self, t: usize, c: usize) -> Vec<f32> {
            let mut v = Vec::with_capacity(NLAT * NLON);
            for i in 0..NLAT {
                for j in 0..NLON {
                    let phase = 2.0 * std::f32::consts::PI * (j as f32 - t as f32) / NLON as f32;
                    v.push(
                        ((c + 1) as f32 * phase + c as f32).sin() * (1.0 + i as f32 / NLAT as f32),
                    );
                }
            }
            v
        }
        fn forcing(&self) -> Vec<f32> {
            (0..NLAT * NLON)
                .map(|p| ((p / NLON) as f32 / NLAT as f32) - 0.5)
                .collect()
        }
        fn state(&self, t: usize) -> Vec<f32> {
            let (a, b, f) = (self.field(t, 0), self.field(t, 1), self.forcing());
            (0..NLAT * NLON).flat_map(|p| [f[p], a[p], b[p]]).collect()
        }
    }

    impl SampleSource for Advection {
        fn len(&self, rollout: usize) -> usize {
            self.times - rollout
        }
        fn get(&self, index: usize, rollout: usize) -> Result<Sample> {
            let mut forcings = Vec::new();
            let mut targets = Vec::new();
            for k in 1..=rollout {
                forcings.extend(self.forcing()); // static: the same at every input time
                let (a, b) = (self.field(index + k, 0), self.field(index + k, 1));
                targets.extend((0..NLAT * NLON).flat_map(|p| [a[p], b[p]]));
            }
            if self.bad {
                targets[5] = f32::NAN;
            }
            Ok(Sample {
                input: self.state(index),
                forcings,
                targets,
            })
        }
        fn grid_shape(&self) -> (usize, usize) {
            (NLAT, NLON)
        }
        fn channels(&self) -> (usize, usize) {
            (1, 2)
        }
    }

    fn setup<'a>(src: &'a Advection, dir: &Path, steps: u64, interval: u64) -> Trainer<'a> {
        let grid = Grid::from_spec("latlon-nopoles:8x16").unwrap();
        let graph = Graph::build(&grid, &GraphConfig::fastnet(1)).unwrap();
        let area = grid.latitude_weights().unwrap();
        let ctx = LossContext {
            area_weights: Tensor::from_slice(&area).to_kind(Kind::Float),
            channel_weights: Tensor::from_slice(&[1.0f32, 1.0]),
            sht: None,
            gradient: None,
            wind_pairs: vec![],
        };
        let loss = CombinedLoss::new(LossConfig::default(), ctx).unwrap();
        let section = TrainSection {
            batch_size: 2,
            steps,
            curriculum: vec![
                RolloutStage {
                    from_step: 0,
                    rollout: 1,
                },
                RolloutStage {
                    from_step: 4,
                    rollout: 2,
                },
            ],
            valid_interval: 0,
            device: "cpu".into(),
            checkpoint_dir: dir.join("ckpt"),
            checkpoint_interval: interval,
            keep_checkpoints: 5,
            metrics: dir.join("metrics.jsonl"),
            ..TrainSection::default()
        };
        let optim = OptimConfig {
            lr: 3e-3,
            warmup_steps: 2,
            ..OptimConfig::default()
        };
        let model = ModelConfig {
            hidden: 16,
            processor_layers: 1,
            forecast_channels: 2,
            nonforecast_channels: 1,
        };
        let info = RunInfo {
            forecast_names: vec!["a".into(), "b".into()],
            forecast_std: vec![1.0, 1.0],
            area_weights: area,
            sidecar: Sidecar {
                format: checkpoint::FORMAT.into(),
                format_version: 1,
                step: 0,
                weights: String::new(),
                optimizer: String::new(),
                config: serde_json::json!({}),
                model: model.clone(),
                channels: serde_json::json!(["f", "a", "b"]),
                stats: serde_json::json!({}),
                grid: grid.clone(),
                graph_sha256: graph.content_hash(),
                seed: 0,
                last_loss: f64::NAN,
            },
        };
        build(Setup {
            section,
            optim,
            model,
            graph: GraphBuffers::from_graph(&graph),
            loss,
            train: src,
            valid: Some(src),
            info,
        })
        .unwrap()
    }

    fn tmp(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("fastnet-train-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn a_few_steps_lower_the_loss_and_validation_reports_every_channel() {
        let src = Advection {
            times: 30,
            bad: false,
        };
        let dir = tmp("lower");
        let mut t = setup(&src, &dir, 40, 0);
        t.section.curriculum.truncate(1);
        let mut losses = Vec::new();
        t.run(&mut |m, _| losses.push(m.loss)).unwrap();
        let first: f64 = losses[..5].iter().sum::<f64>() / 5.0;
        let last: f64 = losses[35..].iter().sum::<f64>() / 5.0;
        assert!(last < 0.5 * first, "loss {first} -> {last}");
        let v = t.validate().unwrap().unwrap();
        assert_eq!(v.keys().cloned().collect::<Vec<_>>(), ["a", "b"]);
        let lines = std::fs::read_to_string(dir.join("metrics.jsonl")).unwrap();
        assert_eq!(lines.lines().count(), 40);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn recomputed_rollout_gradients_equal_the_stored_ones() {
        let src = Advection {
            times: 30,
            bad: false,
        };
        let dir = tmp("recompute");
        let mut plain = setup(&src, &dir.join("a"), 1, 0);
        let mut recompute = setup(&src, &dir.join("b"), 1, 0);
        recompute.section.recompute = true;
        // the same weights (other tests may draw from libtorch's global RNG
        // between the two initialisations)
        recompute.vs.copy(&plain.vs).unwrap();
        let samples = vec![src.get(3, 4).unwrap(), src.get(11, 4).unwrap()];
        let (la, ta) = plain.rollout_backward(&samples, 4).unwrap();
        let (lb, tb) = recompute.rollout_backward(&samples, 4).unwrap();
        assert!((la - lb).abs() <= 1e-6 * la.abs(), "{la} vs {lb}");
        assert_eq!(ta.keys().collect::<Vec<_>>(), tb.keys().collect::<Vec<_>>());
        let (va, vb) = (plain.vs.variables(), recompute.vs.variables());
        let mut compared = 0;
        for (name, a) in va.iter().filter(|(_, t)| t.requires_grad()) {
            let (ga, gb) = (a.grad(), vb[name].grad());
            let scale = f64::try_from(ga.abs().max()).unwrap().max(1e-12);
            let diff = f64::try_from((&ga - &gb).abs().max()).unwrap();
            assert!(
                diff <= 1e-4 * scale,
                "{name}: gradients differ by {diff} (scale {scale})"
            );
            compared += 1;
        }
        // the gradient reaches the first step's weights only through the
        // hand-carried state gradients: a missing chain would show here
        assert!(compared > 10);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_stop_request_checkpoints_the_completed_steps_and_returns() {
        let src = Advection {
            times: 30,
            bad: false,
        };
        let dir = tmp("stop");
        let mut t = setup(&src, &dir, 10, 0);
        let stop = t.stop.clone();
        let ckpt = t
            .run(&mut |m, _| {
                if m.step == 3 {
                    stop.store(true, Ordering::SeqCst); // what Ctrl-C does
                }
            })
            .unwrap()
            .unwrap();
        assert_eq!(t.step, 3);
        assert!(
            ckpt.to_string_lossy().contains("00000003"),
            "{}",
            ckpt.display()
        );
        let saved: Vec<u64> = checkpoint::list(&dir.join("ckpt"))
            .unwrap()
            .iter()
            .map(|c| c.0)
            .collect();
        assert_eq!(saved, [3]);
        let lines = std::fs::read_to_string(dir.join("metrics.jsonl")).unwrap();
        assert!(
            lines.lines().last().unwrap().contains("\"interrupted\""),
            "{lines}"
        );
        assert_eq!(lines.lines().filter(|l| l.contains("\"loss\"")).count(), 3);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn resume_equals_uninterrupted_and_checkpoints_round_trip_bit_exactly() {
        let src = Advection {
            times: 30,
            bad: false,
        };
        let dir_a = tmp("resume-a");
        let mut a = setup(&src, &dir_a, 8, 3);
        let mut la = Vec::new();
        a.run(&mut |m, _| la.push(m.loss)).unwrap();
        // the rollout curriculum switched to 2 steps at step 4
        assert_eq!(
            checkpoint::list(&dir_a.join("ckpt"))
                .unwrap()
                .iter()
                .map(|c| c.0)
                .collect::<Vec<_>>(),
            [3, 6, 8]
        );

        // a second run picks up the step-3 checkpoint only
        let dir_b = tmp("resume-b");
        std::fs::create_dir_all(dir_b.join("ckpt")).unwrap();
        let (w, o, j) = checkpoint::file_names(3);
        for f in [w, o, j] {
            std::fs::copy(dir_a.join("ckpt").join(&f), dir_b.join("ckpt").join(&f)).unwrap();
        }
        let mut b = setup(&src, &dir_b, 8, 3);
        assert!(b.resume().unwrap());
        assert_eq!(b.step, 3);
        let mut lb = Vec::new();
        b.run(&mut |m, _| lb.push(m.loss)).unwrap();
        assert_eq!(lb, la[3..].to_vec(), "resumed losses differ");

        // the final weights of both runs and a reload are bit-identical
        let (_, sc) = checkpoint::read_sidecar(&dir_a.join("ckpt")).unwrap();
        assert_eq!(sc.step, 8);
        let saved = checkpoint::read_tensors(&dir_a.join("ckpt").join(&sc.weights)).unwrap();
        let c = setup(&src, &tmp("resume-c"), 8, 3);
        checkpoint::load_into(&c.vs, &saved, Path::new("ckpt")).unwrap();
        for (name, t) in a.vs.variables() {
            assert!(
                t.equal(&c.vs.variables()[&name]),
                "{name} differs after reload"
            );
            assert!(
                t.equal(&b.vs.variables()[&name]),
                "{name} differs between runs"
            );
        }
        for d in [dir_a, dir_b] {
            std::fs::remove_dir_all(&d).unwrap();
        }
    }

    #[test]
    fn nan_loss_stops_with_step_term_and_channel_and_keeps_the_checkpoint() {
        let good = Advection {
            times: 30,
            bad: false,
        };
        let dir = tmp("nan");
        let mut t = setup(&good, &dir, 2, 2);
        t.run(&mut |_, _| {}).unwrap();
        let before = checkpoint::list(&dir.join("ckpt")).unwrap();
        let bad = Advection {
            times: 30,
            bad: true,
        };
        let mut t = setup(&bad, &dir, 4, 1);
        assert!(t.resume().unwrap());
        let err = t.run(&mut |_, _| {}).unwrap_err().to_string();
        assert!(
            err.contains("step 3") && err.contains("`mse`") && err.contains("channel `b`"),
            "{err}"
        );
        assert_eq!(checkpoint::list(&dir.join("ckpt")).unwrap(), before);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn bad_sections_name_the_field() {
        let s = TrainSection {
            batch_size: 0,
            ..TrainSection::default()
        };
        assert!(s
            .validate()
            .unwrap_err()
            .to_string()
            .contains("train.batch_size"));
        let s = TrainSection {
            device: "tpu".into(),
            ..TrainSection::default()
        };
        assert!(s
            .validate()
            .unwrap_err()
            .to_string()
            .contains("train.device"));
        let s = TrainSection {
            curriculum: vec![RolloutStage {
                from_step: 5,
                rollout: 1,
            }],
            ..TrainSection::default()
        };
        assert!(s.validate().is_err());
        let s = TrainSection::default();
        assert_eq!(s.rollout_at(10_000), 1);
    }
}
