//! `fastnet train`: from a [`TrainConfig`] to a running [`Trainer`]: open
//! the data, resolve channels, load statistics, get the graph, set the loss
//! up (or restore it from the checkpoint a resumed run continues), train.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use fastnet_data::channels::ChannelSet;
use fastnet_data::features::FeatureReader;
use fastnet_data::sample::Normaliser;
use fastnet_data::stats::Stats;
use fastnet_data::Dataset;
use fastnet_mesh::Graph;
use tch::Tensor;

use super::config::TrainConfig;
use super::era5::Era5Source;
use super::period;
use super::source::SampleSource;
use super::trainer::{build, RunInfo, Setup};
use crate::checkpoint::{self, Sidecar, FORMAT, FORMAT_VERSION};
use crate::dist::{Launch, ProcessGroup};
use crate::loss_setup::{
    spread, LossSetup, LossState, MeasuredNormalisers, SurfaceWeights, MEASURED_FIELDS,
};
use crate::model::{GraphBuffers, ModelConfig, Precision};
use crate::runtime::DeviceSpec;

/// Data, channels, statistics and graph of a run.
pub struct Prepared {
    pub reader: Arc<FeatureReader>,
    pub set: ChannelSet,
    pub stats: Stats,
    pub graph: Graph,
    pub norm: Normaliser,
    pub warnings: Vec<String>,
}

pub fn prepare(cfg: &TrainConfig) -> Result<Prepared> {
    let ds = Dataset::open(&cfg.data.paths).context("opening the training data")?;
    let requested = ChannelSet::requested(
        cfg.data.non_forecast.as_deref(),
        cfg.data.forecast.as_deref(),
    )?;
    let (set, warnings) = requested.resolve(&ds, cfg.data.require_static)?;
    let stats = Stats::load(&cfg.data.stats)?;
    let graph = match &cfg.graph.file {
        Some(f) => {
            let g = Graph::load(f)?;
            if g.grid != ds.grid {
                bail!(
                    "{}: graph grid {} differs from the data grid {}",
                    f.display(),
                    g.grid.describe(),
                    ds.grid.describe()
                );
            }
            g
        }
        None => Graph::build(&ds.grid, &cfg.graph.build_config())?,
    };
    let reader = Arc::new(FeatureReader::new(Arc::new(ds), set.clone())?);
    let norm = Normaliser::from_stats(&stats, &reader, &cfg.data.stats)?;
    Ok(Prepared {
        reader,
        set,
        stats,
        graph,
        norm,
        warnings,
    })
}

/// Normalised forecast-channel targets `[n, C_f, nlat, nlon]` of up to 8
/// one-step windows spread evenly over the training period, on which the
/// loss measures its normalisers.
fn measurement_targets(train: &dyn SampleSource) -> Result<Tensor> {
    let shape = train.grid_shape();
    let points: usize = shape.iter().product();
    let c = train.channels().1 as i64;
    let picks = spread(train.len(1), MEASURED_FIELDS);
    if picks.is_empty() {
        bail!("no one-step training windows to measure the loss normalisers on");
    }
    let n = picks.len();
    let mut targets = Vec::new();
    for k in picks {
        targets.extend(train.get(k, 1)?.targets);
    }
    let mut dims = vec![n as i64, c];
    dims.extend(shape.iter().map(|&d| d as i64));
    Ok(Tensor::from_slice(&targets)
        .view([n as i64, points as i64, c])
        .transpose(1, 2)
        .reshape(dims))
}

/// A finished (or interrupted) training run.
pub struct Trained {
    /// The sidecar of the newest checkpoint, that of the last step done.
    pub checkpoint: std::path::PathBuf,
    /// Steps done.
    pub step: u64,
}

/// Trains as configured; `resume` continues from the newest checkpoint,
/// and a run without it refuses a checkpoint folder that holds an earlier
/// run's checkpoints. `on_event` sees every step (for a progress bar).
pub fn train(cfg: &TrainConfig, resume: bool, on_event: &mut dyn FnMut(Event)) -> Result<Trained> {
    train_with_source(cfg, resume, on_event, &|s| s)
}

/// [`train`] with the training source passed through `wrap` first (to
/// cache it in memory, say: the loader benchmark measures the model's own
/// rate that way).
pub fn train_with_source(
    cfg: &TrainConfig,
    resume: bool,
    on_event: &mut dyn FnMut(Event),
    wrap: &dyn Fn(Arc<dyn SampleSource>) -> Arc<dyn SampleSource>,
) -> Result<Trained> {
    // one of several ranks (torchrun, SLURM)? LOCAL_RANK picks the GPU
    let launch = Launch::from_env()?;
    let device = match (&launch, cfg.train.device) {
        (Some(l), DeviceSpec::Auto) if tch::Cuda::is_available() => {
            DeviceSpec::Cuda(l.local_rank).resolve()?
        }
        (Some(l), DeviceSpec::Cuda(_)) => DeviceSpec::Cuda(l.local_rank).resolve()?,
        (_, spec) => spec.resolve()?,
    };
    let group = match &launch {
        Some(l) => Some(ProcessGroup::join_with(
            l,
            std::time::Duration::from_secs(cfg.train.dist_timeout_s),
            cfg.train.dist_backend.resolve(device)?,
            device,
        )?),
        None => None,
    };
    let lead = group.as_ref().is_none_or(|g| g.rank() == 0);
    let on_event = &mut |e: Event| {
        if lead {
            on_event(e)
        }
    };
    if !resume {
        if let Some((step, _)) = checkpoint::list(&cfg.train.checkpoint_dir)?.pop() {
            bail!(
                "{}: holds checkpoints of an earlier run (up to step {step}): pass --resume to continue it, or set another train.checkpoint_dir",
                cfg.train.checkpoint_dir.display()
            );
        }
    }
    let p = prepare(cfg)?;
    for w in &p.warnings {
        on_event(Event::Warning(w.clone()));
    }
    let (from, to) = period(&cfg.data.train, "data.train")?;
    let train_src = Arc::new(Era5Source::new(
        p.reader.clone(),
        p.norm.clone(),
        cfg.data.step_hours,
        from,
        to,
    ));
    let valid_src = match &cfg.data.valid {
        Some(v) => {
            let (a, b) = period(v, "data.valid")?;
            Some(Arc::new(Era5Source::new(
                p.reader.clone(),
                p.norm.clone(),
                cfg.data.step_hours,
                a,
                b,
            )))
        }
        None => None,
    };
    let first_rollout = cfg.train.rollout_at(0);
    let windows = train_src.init_times(first_rollout)?.len();
    on_event(Event::Info(format!(
        "{} training windows in {} .. {} ({} skipped for missing times); {} channels ({} forecast)",
        windows,
        cfg.data.train[0],
        cfg.data.train[1],
        train_src
            .skipped
            .lock()
            .map(|s| s.get(&first_rollout).copied().unwrap_or(0))
            .unwrap_or(0),
        p.set.len(),
        p.set.n_forecast()
    )));
    // A resumed run restores the normalisers its checkpoint measured.
    let resumed = match resume {
        true => checkpoint::list(&cfg.train.checkpoint_dir)?.pop(),
        false => None,
    };
    let measured: MeasuredNormalisers = match &resumed {
        Some((_, json)) => checkpoint::read_sidecar(json)?.1.loss.measured,
        None => LossSetup::measure(
            &p.set,
            &p.stats,
            &cfg.data.stats,
            &p.reader.ds.grid,
            &measurement_targets(&*train_src)?,
        )?,
    };
    let setup = LossSetup::new(
        &cfg.loss,
        SurfaceWeights {
            weights: &cfg.data.surface_weights,
            default: cfg.data.surface_default,
        },
        &p.set,
        &p.stats,
        &cfg.data.stats,
        &p.reader.ds.grid,
        measured.clone(),
    )?;
    let loss = setup.combined(device)?;
    let model = ModelConfig {
        hidden: cfg.model.hidden,
        processor_layers: cfg.model.processor_layers,
        forecast_channels: p.set.n_forecast() as i64,
        nonforecast_channels: p.set.n_non_forecast() as i64,
    };
    let nf = p.set.n_non_forecast();
    let info = RunInfo {
        forecast_names: p.set.names()[nf..].iter().map(|s| s.to_string()).collect(),
        forecast_std: setup.moments.iter().map(|m| m.1).collect(),
        area_weights: setup.area_weights()?,
        sidecar: Sidecar {
            format: FORMAT.into(),
            format_version: FORMAT_VERSION,
            step: 0,
            weights: String::new(),
            optimizer: String::new(),
            config: cfg.clone(),
            model: model.clone(),
            channels: p.set.clone(),
            stats: p.stats.clone(),
            grid: p.reader.ds.grid.clone(),
            graph_sha256: p.graph.content_hash(),
            seed: cfg.train.seed,
            samples_seen: 0,
            world_size: 1,
            last_loss: None,
            loss: LossState {
                measured,
                amse_running: None,
            },
        },
    };
    let mut trainer = build(Setup {
        section: cfg.train.clone(),
        optim: cfg.optim.clone(),
        model,
        graph: GraphBuffers::from_graph(&p.graph),
        loss,
        train: wrap(train_src.clone()),
        valid: valid_src.map(|v| v as Arc<dyn SampleSource>),
        info,
        device,
        group,
    })?;
    trainer.broadcast_parameters()?;
    on_event(Event::Info(format!(
        "model: {} parameters on {device:?}, {:?} matmuls{}",
        trainer.model.parameters(),
        cfg.train.precision,
        if cfg.train.recompute {
            ", activations recomputed in the backward pass"
        } else {
            ""
        }
    )));
    if cfg.train.precision == Precision::Bf16 && device == tch::Device::Cpu {
        on_event(Event::Warning(
            "train.precision = \"bf16\" on CPU: most CPUs run bf16 matmuls slower than f32; it is meant for GPUs".into(),
        ));
    }
    if resume && trainer.resume()? {
        on_event(Event::Info(format!(
            "resumed from step {} in {}",
            trainer.step,
            cfg.train.checkpoint_dir.display()
        )));
    }
    // Ctrl-C: finish the current step, checkpoint, exit cleanly. The
    // process has one handler and one flag; this run clears it and watches it.
    crate::runtime::install_interrupt_handler();
    trainer.stop = crate::runtime::interrupt_flag();
    trainer.stop.store(false, Ordering::SeqCst);
    let total = cfg.train.steps;
    let start = trainer.step;
    let out = trainer.run(&mut |m, v| {
        on_event(Event::Step {
            metrics: m.clone(),
            valid: v.cloned(),
            start,
            total,
        })
    })?;
    Ok(Trained {
        checkpoint: out.context("training produced no checkpoint")?,
        step: trainer.step,
    })
}

/// What [`train`] reports while it runs.
pub enum Event {
    Info(String),
    Warning(String),
    Step {
        metrics: super::trainer::StepMetrics,
        valid: Option<BTreeMap<String, f64>>,
        start: u64,
        total: u64,
    },
}
