//! Tests of the training loop on a tiny advection problem: the loss falls,
//! recomputed rollouts give the stored gradients, Ctrl-C checkpoints, resume
//! is bit-exact with every loss option on, NaN stops with its step, term and
//! channel.

use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;

use anyhow::Result;
use tch::Tensor;

use super::config::{OptimSection, TrainSection};
use super::source::{Sample, SampleSource};
use super::trainer::*;
use crate::checkpoint::{self, Sidecar};
use crate::loss_setup::{LossSetup, LossState, SurfaceWeights};
use crate::model::{GraphBuffers, ModelConfig};
use crate::train::config::{RolloutStage, TrainConfig};
use fastnet_data::channels::ChannelSet;
use fastnet_data::stats::{ChannelStats, Stats};
use fastnet_losses::LossConfig;
use fastnet_mesh::{Graph, GraphConfig, Grid};

/// The lat-lon grid of most tests: 8 x 16 without poles.
const LAT_LON: &str = "latlon-nopoles:8x16";

/// Two forecast channels advected eastwards, one static non-forecast
/// channel, on any ring grid: on ring `i` of `n` and at longitude `λ`,
/// channel `c` at time `t` is `sin((c + 1)(λ − 2πt/16) + c) (1 + i/n)`
/// (on the 8 x 16 lat-lon grid: one column per step). `bad` puts a NaN
/// into the targets.
#[derive(Clone)]
struct Advection {
    times: usize,
    bad: bool,
    grid: Grid,
}

impl Advection {
    fn on(grid: &str, times: usize, bad: bool) -> Advection {
        Advection {
            times,
            bad,
            grid: Grid::from_spec(grid).unwrap(),
        }
    }
    fn lat_lon(times: usize, bad: bool) -> Advection {
        Advection::on(LAT_LON, times, bad)
    }
    fn points(&self) -> usize {
        self.grid.len()
    }
    /// `(ring / nrings, longitude in radians)` of every point, in order.
    fn coordinates(&self) -> Vec<(f32, f32)> {
        let rings = self.grid.rings().unwrap();
        let n = rings.lengths.len();
        rings
            .lengths
            .iter()
            .enumerate()
            .flat_map(|(i, &len)| {
                (0..len).map(move |k| {
                    (
                        i as f32 / n as f32,
                        2.0 * std::f32::consts::PI * k as f32 / len as f32,
                    )
                })
            })
            .collect()
    }
    fn field(&self, t: usize, c: usize) -> Vec<f32> {
        self.coordinates()
            .into_iter()
            .map(|(y, lon)| {
                let phase = lon - 2.0 * std::f32::consts::PI * t as f32 / 16.0;
                ((c + 1) as f32 * phase + c as f32).sin() * (1.0 + y)
            })
            .collect()
    }
    fn forcing(&self) -> Vec<f32> {
        self.coordinates()
            .into_iter()
            .map(|(y, _)| y - 0.5)
            .collect()
    }
    fn state(&self, t: usize) -> Vec<f32> {
        let (a, b, f) = (self.field(t, 0), self.field(t, 1), self.forcing());
        (0..self.points())
            .flat_map(|p| [f[p], a[p], b[p]])
            .collect()
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
            targets.extend((0..self.points()).flat_map(|p| [a[p], b[p]]));
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
    fn grid_shape(&self) -> Vec<usize> {
        self.grid.shape()
    }
    fn channels(&self) -> (usize, usize) {
        (1, 2)
    }
}

/// The two advected channels as a 10 m wind, so that every loss term
/// (MSE, AMSE, gradients, wind) has something to act on.
fn channels() -> ChannelSet {
    ChannelSet::from_names(&["cos_lat"], &["u10", "v10"]).unwrap()
}

fn stats() -> Stats {
    let channels = channels()
        .names()
        .iter()
        .map(|n| ChannelStats {
            name: n.to_string(),
            mean: 0.0,
            std: 1.0,
            change_std: 0.5,
        })
        .collect();
    Stats {
        format: fastnet_data::stats::STATS_FORMAT.into(),
        grid: LAT_LON.into(),
        from: "2020-01-01".into(),
        to: "2020-01-02".into(),
        step_hours: 6,
        times_used: 30,
        times_skipped: 0,
        change_pairs: 29,
        files: vec![],
        n_non_forecast: 1,
        channels,
        statistics_source: None,
    }
}

fn config() -> TrainConfig {
    toml::from_str(
        "[data]\npaths = ['x.nc']\nstats = 's.json'\ntrain = ['2020-01-01', '2020-01-02']\n",
    )
    .unwrap()
}

fn setup(src: &Advection, dir: &Path, steps: u64, interval: u64) -> Trainer {
    setup_with(src, dir, steps, interval, LossConfig::default())
}

/// Every loss option on: MSE + AMSE with the running normaliser +
/// gradients + wind.
fn every_loss_term() -> LossConfig {
    LossConfig {
        amse: 0.5,
        amse_running_normaliser: true,
        amse_running_decay: 0.5,
        grad_x: 0.3,
        grad_y: 0.2,
        wind: true,
        ..LossConfig::default()
    }
}

fn setup_with(
    src: &Advection,
    dir: &Path,
    steps: u64,
    interval: u64,
    loss_config: LossConfig,
) -> Trainer {
    let grid = src.grid.clone();
    let graph = Graph::build(&grid, &GraphConfig::fastnet(1)).unwrap();
    let targets: Vec<f32> = (0..4)
        .flat_map(|k| src.get(k * 5, 1).unwrap().targets)
        .collect();
    // [4, G, 2] -> [4, 2, *grid], the layout of the losses
    let mut layout = vec![4i64, 2];
    layout.extend(grid.shape().iter().map(|&n| n as i64));
    let targets = Tensor::from_slice(&targets)
        .view([4, grid.len() as i64, 2])
        .transpose(1, 2)
        .reshape(layout.as_slice());
    let (set, stats) = (channels(), stats());
    let measured = LossSetup::measure(&set, &stats, Path::new("s.json"), &grid, &targets).unwrap();
    let loss_setup = LossSetup::new(
        &loss_config,
        SurfaceWeights {
            weights: &[("t2m".to_string(), 1.0)].into(),
            default: 1.0,
        },
        &set,
        &stats,
        Path::new("s.json"),
        &grid,
        measured.clone(),
    )
    .unwrap();
    let area = loss_setup.area_weights().unwrap();
    let loss = loss_setup.combined(tch::Device::Cpu).unwrap();
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
        device: crate::runtime::DeviceSpec::Cpu,
        checkpoint_dir: dir.join("ckpt"),
        checkpoint_interval: interval,
        keep_checkpoints: 5,
        metrics: dir.join("metrics.jsonl"),
        ..TrainSection::default()
    };
    let optim = OptimSection {
        lr: 3e-3,
        warmup_steps: 2,
        ..OptimSection::default()
    };
    let model = ModelConfig {
        hidden: 16,
        processor_layers: 1,
        forecast_channels: 2,
        nonforecast_channels: 1,
    };
    let info = RunInfo {
        forecast_names: vec!["u10".into(), "v10".into()],
        forecast_std: vec![1.0, 1.0],
        area_weights: area,
        sidecar: Sidecar {
            format: checkpoint::FORMAT.into(),
            format_version: checkpoint::FORMAT_VERSION,
            step: 0,
            weights: String::new(),
            optimizer: String::new(),
            config: config(),
            model: model.clone(),
            channels: set,
            stats,
            grid: grid.clone(),
            graph_sha256: graph.content_hash(),
            seed: 0,
            samples_seen: 0,
            world_size: 1,
            last_loss: None,
            loss: LossState {
                measured,
                amse_running: None,
            },
        },
    };
    build(Setup {
        section,
        optim,
        model,
        graph: GraphBuffers::from_graph(&graph),
        loss,
        train: std::sync::Arc::new(src.clone()),
        valid: Some(std::sync::Arc::new(src.clone())),
        info,
        device: tch::Device::Cpu,
        group: None,
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
    let src = Advection::lat_lon(30, false);
    let dir = tmp("lower");
    let mut t = setup(&src, &dir, 40, 0);
    t.section.curriculum.truncate(1);
    let mut losses = Vec::new();
    t.run(&mut |m, _| losses.push(m.loss)).unwrap();
    let first: f64 = losses[..5].iter().sum::<f64>() / 5.0;
    let last: f64 = losses[35..].iter().sum::<f64>() / 5.0;
    assert!(last < 0.5 * first, "loss {first} -> {last}");
    let v = t.validate().unwrap().unwrap();
    assert_eq!(v.keys().cloned().collect::<Vec<_>>(), ["u10", "v10"]);
    let lines = std::fs::read_to_string(dir.join("metrics.jsonl")).unwrap();
    assert_eq!(lines.lines().count(), 40);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn recomputed_rollout_gradients_equal_the_stored_ones() {
    let src = Advection::lat_lon(30, false);
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
    let src = Advection::lat_lon(30, false);
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
    let src = Advection::lat_lon(30, false);
    // every loss option on, activation checkpointing, a curriculum
    let run = |dir: &Path| {
        let mut t = setup_with(&src, dir, 8, 3, every_loss_term());
        t.section.recompute = true;
        t
    };
    let dir_a = tmp("resume-a");
    let mut a = run(&dir_a);
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
    // the killed run had written metrics past its checkpoint
    std::fs::write(
        dir_b.join("metrics.jsonl"),
        "{\"step\":1,\"loss\":1}\n{\"step\":3,\"loss\":1}\n{\"step\":4,\"loss\":9}\n{\"st",
    )
    .unwrap();
    let mut b = run(&dir_b);
    assert!(b.resume().unwrap());
    assert_eq!(b.step, 3);
    let mut lb = Vec::new();
    b.run(&mut |m, _| lb.push(m.loss)).unwrap();
    assert_eq!(lb, la[3..].to_vec(), "resumed losses differ");
    let steps: Vec<u64> = std::fs::read_to_string(dir_b.join("metrics.jsonl"))
        .unwrap()
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["step"]
                .as_u64()
                .unwrap()
        })
        .collect();
    assert_eq!(steps, [1, 3, 4, 5, 6, 7, 8]);

    // the final weights of both runs and a reload are bit-identical
    let (_, sc) = checkpoint::read_sidecar(&dir_a.join("ckpt")).unwrap();
    assert_eq!(sc.step, 8);
    let saved = checkpoint::read_tensors(&dir_a.join("ckpt").join(&sc.weights)).unwrap();
    let c = run(&tmp("resume-c"));
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
    let good = Advection::lat_lon(30, false);
    let dir = tmp("nan");
    let mut t = setup(&good, &dir, 2, 2);
    t.run(&mut |_, _| {}).unwrap();
    let before = checkpoint::list(&dir.join("ckpt")).unwrap();
    let bad = Advection::lat_lon(30, true);
    let mut t = setup(&bad, &dir, 4, 1);
    assert!(t.resume().unwrap());
    let err = t.run(&mut |_, _| {}).unwrap_err().to_string();
    assert!(
        err.contains("step 3") && err.contains("`mse`") && err.contains("channel `v10`"),
        "{err}"
    );
    assert_eq!(checkpoint::list(&dir.join("ckpt")).unwrap(), before);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn every_loss_term_trains_on_an_octahedral_grid() {
    // O8: 16 rings of 20 ... 48 points, 544 in all; fields [B, C, 544],
    // AMSE through the reduced transform, gradients along and across rings
    let src = Advection::on("o8", 30, false);
    let dir = tmp("octahedral");
    let config = LossConfig {
        amse_running_normaliser: false, // so that the total can fall
        ..every_loss_term()
    };
    let mut t = setup_with(&src, &dir, 30, 0, config);
    t.section.curriculum.truncate(1);
    let mut losses = Vec::new();
    let mut terms = Vec::new();
    t.run(&mut |m, _| {
        losses.push(m.loss);
        terms = m.terms.keys().cloned().collect();
    })
    .unwrap();
    assert_eq!(
        terms,
        [
            "amse",
            "grad_x",
            "grad_y",
            "mse",
            "wind_direction",
            "wind_speed"
        ]
    );
    assert!(losses.iter().all(|l| l.is_finite()), "{losses:?}");
    let first: f64 = losses[..5].iter().sum::<f64>() / 5.0;
    let last: f64 = losses[25..].iter().sum::<f64>() / 5.0;
    assert!(last < first, "loss {first} -> {last}");
    let v = t.validate().unwrap().unwrap();
    assert_eq!(v.keys().cloned().collect::<Vec<_>>(), ["u10", "v10"]);
    assert!(v.values().all(|r| r.is_finite() && *r > 0.0), "{v:?}");
    std::fs::remove_dir_all(&dir).unwrap();
}
