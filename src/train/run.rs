//! `fastnet train`: from a [`TrainConfig`] to a running [`Trainer`]: open
//! the data, resolve channels, load statistics, get the graph, build the
//! loss context, train, checkpoint.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use fastnet_data::channels::{ChannelSet, Source};
use fastnet_data::features::FeatureReader;
use fastnet_data::sample::Normaliser;
use fastnet_data::stats::Stats;
use fastnet_data::time::{parse_date, Timestamp};
use fastnet_data::Dataset;
use fastnet_eval::Sht;
use fastnet_losses::gradient::GradientOperator;
use fastnet_losses::sht::TorchSht;
use fastnet_losses::weights::{channel_weights, ChannelSpec};
use fastnet_losses::wind::WindPair;
use fastnet_losses::{CombinedLoss, LossContext};
use fastnet_mesh::Graph;
use tch::{Device, Kind, Tensor};

use super::checkpoint::{Sidecar, FORMAT};
use super::config::TrainConfig;
use super::era5::Era5Source;
use super::source::SampleSource;
use super::trainer::{build, parse_device, RunInfo, Setup};
use crate::model::{GraphBuffers, ModelConfig, Precision};

/// `[from, to]` from config strings; a bare date as `to` means the end of that day.
pub fn period(range: &[String; 2], field: &str) -> Result<(Timestamp, Timestamp)> {
    let from = parse_date(&range[0]).with_context(|| {
        format!(
            "{field}[0] = {:?}: not a date (2020-01-01 or 2020-01-01T06)",
            range[0]
        )
    })?;
    let mut to = parse_date(&range[1])
        .with_context(|| format!("{field}[1] = {:?}: not a date", range[1]))?;
    if !range[1].contains(['T', ' ']) {
        to += 86_400 - 1;
    }
    if to < from {
        bail!("{field} = {range:?}: the end is before the start");
    }
    Ok((from, to))
}

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
    let requested = match (&cfg.data.non_forecast, &cfg.data.forecast) {
        (None, None) => ChannelSet::fastnet(),
        (nf, f) => ChannelSet::from_names(
            nf.as_deref().unwrap_or(&[]),
            f.as_deref()
                .context("data.forecast is required when data.non_forecast is given")?,
        )?,
    };
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

/// Forecast channels as (variable, level).
fn forecast_specs(set: &ChannelSet) -> Vec<ChannelSpec> {
    set.channels()[set.n_non_forecast()..]
        .iter()
        .map(|c| match &c.source {
            Source::Field { var, level } => ChannelSpec {
                variable: var.clone(),
                level_hpa: level.map(f64::from),
            },
            _ => ChannelSpec {
                variable: c.name.clone(),
                level_hpa: None,
            },
        })
        .collect()
}

/// The loss context: area and channel weights, and the operators the
/// switched-on terms need, with gradient and wind-speed statistics taken
/// from the first training windows.
pub fn loss_context(
    cfg: &TrainConfig,
    p: &Prepared,
    train: &dyn SampleSource,
    device: Device,
) -> Result<LossContext> {
    let grid = &p.reader.ds.grid;
    let nf = p.set.n_non_forecast();
    let fstats = &p.stats.channels[nf..];
    let inv_var: Vec<f64> = fstats
        .iter()
        .map(|c| {
            if c.change_std > 0.0 && c.std > 0.0 {
                Ok((c.std / c.change_std).powi(2))
            } else {
                bail!("{}: channel {} has 6-hour-change std {} (constant in time?); it cannot be a forecast channel", cfg.data.stats.display(), c.name, c.change_std)
            }
        })
        .collect::<Result<_>>()?;
    let cw = channel_weights(
        &forecast_specs(&p.set),
        &inv_var,
        &cfg.data.surface_weights,
        cfg.data.surface_default,
    )?;
    let to_t = |v: &[f64]| Tensor::from_slice(v).to_kind(Kind::Float).to_device(device);
    let area = grid
        .latitude_weights()
        .context("the data grid has no latitude rings")?;
    let (nlat, nlon) = train.grid_shape();
    // a few target fields for derivative and wind-speed statistics
    let n = train.len(1).min(8);
    let mut targets = Vec::new();
    for k in 0..n {
        targets.extend(train.get(k * train.len(1) / n.max(1), 1)?.targets);
    }
    let c = fstats.len() as i64;
    let sample = Tensor::from_slice(&targets)
        .view([n as i64, (nlat * nlon) as i64, c])
        .transpose(1, 2)
        .reshape([n as i64, c, nlat as i64, nlon as i64])
        .to_device(device);
    let sht = if cfg.loss.amse > 0.0 {
        Some(TorchSht::new(
            &*Sht::for_grid(grid, None)?,
            Kind::Float,
            device,
        ))
    } else {
        None
    };
    let gradient = if cfg.loss.grad_x + cfg.loss.grad_y > 0.0 {
        let op = GradientOperator::new(grid, Kind::Float, device)?;
        let (sx, sy) = op.derivative_std(&sample)?;
        let floor = |s: Tensor| s.clamp_min(1e-12);
        Some((op, floor(sx), floor(sy)))
    } else {
        None
    };
    let mut wind_pairs = Vec::new();
    if cfg.loss.wind {
        let names: Vec<&str> = p.set.names()[nf..].to_vec();
        let find = |n: &str| names.iter().position(|x| *x == n);
        let mut pairs: Vec<(usize, usize)> = Vec::new();
        if let (Some(u), Some(v)) = (find("u10"), find("v10")) {
            pairs.push((u, v));
        }
        for (i, n) in names.iter().enumerate() {
            if let Some(level) = n.strip_prefix('u').filter(|l| l.parse::<u32>().is_ok()) {
                if let Some(v) = find(&format!("v{level}")) {
                    pairs.push((i, v));
                }
            }
        }
        for (u, v) in pairs {
            let (su, sv) = (&fstats[u], &fstats[v]);
            let phys = |k: usize, s: &fastnet_data::stats::ChannelStats| {
                sample.narrow(1, k as i64, 1) * s.std + s.mean
            };
            let speed = (phys(u, su).square() + phys(v, sv).square()).sqrt();
            let speed_std = f64::try_from(speed.std(true))?.max(1e-6);
            wind_pairs.push(WindPair {
                u_channel: u as i64,
                v_channel: v as i64,
                u_mean: su.mean,
                u_std: su.std,
                v_mean: sv.mean,
                v_std: sv.std,
                speed_std,
            });
        }
    }
    Ok(LossContext {
        area_weights: to_t(&area),
        channel_weights: to_t(&cw),
        sht,
        gradient,
        wind_pairs,
    })
}

/// Trains as configured; `resume` continues from the newest checkpoint.
/// `on_step` sees every step (for a progress bar). Returns the final
/// checkpoint's sidecar path.
pub fn train(
    cfg: &TrainConfig,
    resume: bool,
    on_event: &mut dyn FnMut(Event),
) -> Result<std::path::PathBuf> {
    let p = prepare(cfg)?;
    for w in &p.warnings {
        on_event(Event::Warning(w.clone()));
    }
    let device = parse_device(&cfg.train.device)?;
    let (from, to) = period(&cfg.data.train, "data.train")?;
    let train_src = Era5Source::new(
        p.reader.clone(),
        p.norm.clone(),
        cfg.data.step_hours,
        from,
        to,
    );
    let valid_src = match &cfg.data.valid {
        Some(v) => {
            let (a, b) = period(v, "data.valid")?;
            Some(Era5Source::new(
                p.reader.clone(),
                p.norm.clone(),
                cfg.data.step_hours,
                a,
                b,
            ))
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
    let ctx = loss_context(cfg, &p, &train_src, device)?;
    let loss = CombinedLoss::new(cfg.loss.clone(), ctx)?;
    let model = ModelConfig {
        hidden: cfg.model.hidden,
        processor_layers: cfg.model.processor_layers,
        forecast_channels: p.set.n_forecast() as i64,
        nonforecast_channels: p.set.n_non_forecast() as i64,
    };
    let nf = p.set.n_non_forecast();
    let info = RunInfo {
        forecast_names: p.set.names()[nf..].iter().map(|s| s.to_string()).collect(),
        forecast_std: p.stats.channels[nf..].iter().map(|c| c.std).collect(),
        area_weights: p
            .reader
            .ds
            .grid
            .latitude_weights()
            .context("grid has no rings")?,
        sidecar: Sidecar {
            format: FORMAT.into(),
            format_version: 1,
            step: 0,
            weights: String::new(),
            optimizer: String::new(),
            config: serde_json::to_value(cfg)?,
            model: model.clone(),
            channels: serde_json::to_value(&p.set)?,
            stats: serde_json::to_value(&p.stats)?,
            grid: p.reader.ds.grid.clone(),
            graph_sha256: p.graph.content_hash(),
            seed: cfg.train.seed,
            last_loss: f64::NAN,
        },
    };
    let mut trainer = build(Setup {
        section: cfg.train.clone(),
        optim: cfg.optim.clone(),
        model,
        graph: GraphBuffers::from_graph(&p.graph),
        loss,
        train: &train_src,
        valid: valid_src.as_ref().map(|v| v as &dyn SampleSource),
        info,
    })?;
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
    let stop = trainer.stop.clone();
    // Ctrl-C: finish the current step, checkpoint, exit cleanly. A second
    // handler cannot be installed in one process; later runs share the first.
    let _ = ctrlc::set_handler(move || stop.store(true, Ordering::SeqCst));
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
    out.context("training produced no checkpoint")
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
