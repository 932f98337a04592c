//! Does the loader keep the trainer fed? At 1° (or RES) with FastNet's 84
//! channels (int16-packed ERA5-layout files) and a tiny model, for W loader
//! threads: the standalone loader's samples/s, the trainer's samples/s with
//! the same W, and the model's own rate (the same training on samples held
//! in memory, no loader work); the trainer's share of the slower of the two
//! says whether the loader keeps it fed.
//!
//! `cargo bench --bench loader [-- DIR TIMES RES]`; the fixture is written to
//! DIR (default `$TMPDIR/fastnet-bench-loader-1deg`) once and reused.

use std::sync::Arc;
use std::time::Instant;

use fastnet::train::config::TrainConfig;
use fastnet::train::run::{train_with_source, Event};
use fastnet::train::source::{Sample, SampleSource};
use fastnet_data::channels::ChannelSet;
use fastnet_data::features::FeatureReader;
use fastnet_data::fixture::write_fastnet_fixture;
use fastnet_data::loader::{Loader, LoaderConfig};
use fastnet_data::sample::{windows, Normaliser, WindowConfig};
use fastnet_data::time::{parse_date, HOUR};
use fastnet_data::writer::WriteOptions;
use fastnet_data::Dataset;
use fastnet_mesh::Grid;

const STEPS: u64 = 24;

/// A source's one-step windows held in memory (longer rollouts from the
/// source itself).
struct InMemory {
    inner: Arc<dyn SampleSource>,
    one_step: Vec<Sample>,
}

impl SampleSource for InMemory {
    fn len(&self, rollout: usize) -> usize {
        self.inner.len(rollout)
    }
    fn get(&self, index: usize, rollout: usize) -> anyhow::Result<Sample> {
        match (rollout, self.one_step.get(index)) {
            (1, Some(s)) => Ok(s.clone()),
            _ => self.inner.get(index, rollout),
        }
    }
    fn grid_shape(&self) -> Vec<usize> {
        self.inner.grid_shape()
    }
    fn channels(&self) -> (usize, usize) {
        self.inner.channels()
    }
}

/// Samples/s of a training run of `cfg` from its third step on.
fn trainer_rate(cfg: &TrainConfig, in_memory: bool) -> Result<f64, Box<dyn std::error::Error>> {
    let mut first: Option<Instant> = None;
    let mut steps = 0u64;
    let mut end = Instant::now();
    let wrap = |s: Arc<dyn SampleSource>| -> Arc<dyn SampleSource> {
        if !in_memory {
            return s;
        }
        let one_step = (0..s.len(1)).filter_map(|i| s.get(i, 1).ok()).collect();
        Arc::new(InMemory { inner: s, one_step })
    };
    train_with_source(
        cfg,
        false,
        &mut |e| {
            if let Event::Step { metrics, .. } = e {
                // from the third step on: threads started, caches warm
                if metrics.step == 2 {
                    first = Some(Instant::now());
                } else if metrics.step > 2 {
                    steps += 1;
                    end = Instant::now();
                }
            }
        },
        &wrap,
    )?;
    Ok(steps as f64 / (end - first.ok_or("no steps")?).as_secs_f64())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let res: f64 = args.get(2).map_or(Ok(1.0), |s| s.parse())?;
    let dir = args
        .first()
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join(format!("fastnet-bench-loader-{res}deg")));
    let n: i64 = args.get(1).map_or(Ok(16), |s| s.parse())?;
    let grid = Grid::equiangular_deg(res, true)?;
    let t0 = parse_date("2020-01-01").ok_or("date")?;
    let ts: Vec<i64> = (0..n).map(|k| t0 + 6 * HOUR * k).collect();
    if !dir.join("era5_static.nc").exists() {
        std::fs::create_dir_all(&dir)?;
        write_fastnet_fixture(&dir, &grid, &ts, &WriteOptions::old_cds())?;
    }
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!(
        "machine: {cores} cores; grid {}; 84 channels; {n} times",
        grid.describe()
    );
    let ds = Arc::new(Dataset::open(&[&dir])?);
    let (set, _) = ChannelSet::fastnet().resolve(&ds, false)?;
    let reader = Arc::new(FeatureReader::new(ds.clone(), set)?);
    let stats_path = dir.join("stats.json");
    let last = fastnet_data::time::format_time(*ts.last().ok_or("times")?);
    if !stats_path.exists() {
        let s = fastnet_data::stats::compute(&reader, ts[0], ts[ts.len() - 1], 6, &mut |_, _| {})?;
        s.save(&stats_path)?;
    }
    let stats = fastnet_data::stats::Stats::load(&stats_path)?;
    let norm = Normaliser::from_stats(&stats, &reader, &stats_path)?;
    let window = WindowConfig {
        step_hours: 6,
        history: 1,
        rollout: 1,
    };
    let inits = windows(&reader, &window, ts[0], ts[ts.len() - 1])?.init_times;

    println!(
        "\n| W | loader samples/s | per worker | model alone samples/s | trainer samples/s | trainer / min(loader, model) |"
    );
    println!("|---|---|---|---|---|---|");
    for w in 1..=cores.max(2) {
        // the standalone loader: one epoch, the first sample excluded
        let loader = Loader::new(
            reader.clone(),
            norm.clone(),
            inits.clone(),
            LoaderConfig {
                window,
                workers: w,
                queue: 2 * w,
                ..LoaderConfig::default()
            },
        )?;
        let mut it = loader.epoch(0);
        it.next().ok_or("empty epoch")??;
        let start = Instant::now();
        let mut count = 0;
        for s in it {
            s?;
            count += 1;
        }
        let loader_rate = count as f64 / start.elapsed().as_secs_f64();

        // the trainer with the same W: a tiny model on the same files
        let run = dir.join(format!("run-w{w}"));
        let _ = std::fs::remove_dir_all(&run);
        std::fs::create_dir_all(&run)?;
        let cfg_path = run.join("train.toml");
        let write = |workers: usize| {
            std::fs::write(
                &cfg_path,
                format!(
                    "[data]\npaths = [{:?}]\nstats = {:?}\ntrain = [\"2020-01-01\", {:?}]\n[graph]\nmesh_level = 2\n[model]\nhidden = 8\nprocessor_layers = 1\n[train]\nbatch_size = 1\nsteps = {STEPS}\nvalid_interval = 0\ndevice = \"cpu\"\ncheckpoint_interval = 0\nloader_workers = {workers}\nprefetch = 2\n",
                    dir.display().to_string(),
                    stats_path.display().to_string(),
                    last
                ),
            )
        };
        // the model alone: every one-step window in memory, one light thread
        write(1)?;
        let model_rate = trainer_rate(&TrainConfig::load(&cfg_path)?, true)?;
        let _ = std::fs::remove_dir_all(&run);
        std::fs::create_dir_all(&run)?;
        write(w)?;
        let trainer = trainer_rate(&TrainConfig::load(&cfg_path)?, false)?;
        println!(
            "| {w} | {loader_rate:.2} | {:.2} | {model_rate:.2} | {trainer:.2} | {:.2} |",
            loader_rate / w as f64,
            trainer / loader_rate.min(model_rate)
        );
    }
    Ok(())
}
