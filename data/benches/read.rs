//! Decoded read throughput and loader samples/s on a generated 1° (or any
//! equiangular) grid with the 84 FastNet channels (int16 packed like ERA5,
//! netCDF4, old CDS layout).
//!
//! `cargo bench -p fastnet-data --bench read [-- DIR TIMES RES]`; the
//! fixture is written to DIR (default `$TMPDIR/fastnet-bench-1deg`) once and
//! reused. RES in degrees (default 1; 0.25 is ERA5's native grid, about
//! 150 MB of int16 per time).
//! Compare with `scripts/bench_read.py DIR` (Python netCDF4 on the same files).

use std::sync::Arc;
use std::time::Instant;

use fastnet_data::channels::{ChannelSet, Source};
use fastnet_data::features::FeatureReader;
use fastnet_data::fixture::write_fastnet_fixture;
use fastnet_data::loader::{Loader, LoaderConfig};
use fastnet_data::sample::{windows, Normaliser, WindowConfig};
use fastnet_data::time::{parse_date, HOUR};
use fastnet_data::writer::WriteOptions;
use fastnet_data::Dataset;
use fastnet_mesh::Grid;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let dir = args
        .first()
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("fastnet-bench-1deg"));
    let n: i64 = args.get(1).map_or(Ok(12), |s| s.parse())?;
    let res: f64 = args.get(2).map_or(Ok(1.0), |s| s.parse())?;
    let grid = Grid::equiangular_deg(res, true)?;
    let t0 = parse_date("2020-01-01").ok_or("date")?;
    let ts: Vec<i64> = (0..n).map(|k| t0 + 6 * HOUR * k).collect();
    if !dir.join("era5_static.nc").exists() {
        std::fs::create_dir_all(&dir)?;
        let start = Instant::now();
        write_fastnet_fixture(&dir, &grid, &ts, &WriteOptions::old_cds())?;
        println!(
            "fixture: {} times on {} written in {:.1} s to {}",
            n,
            grid.describe(),
            start.elapsed().as_secs_f64(),
            dir.display()
        );
    }
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!("machine: {threads} cores");
    let ds = Arc::new(Dataset::open(&[&dir])?);
    let set = ChannelSet::fastnet();
    let g = ds.grid.len();

    // 1. Decoded read of the 72 forecast fields per time, one thread.
    let fields: Vec<(String, Option<u32>)> = set
        .channels()
        .iter()
        .filter_map(|c| match &c.source {
            Source::Field { var, level } => Some((var.clone(), *level)),
            _ => None,
        })
        .collect();
    let mut out = vec![0f32; g];
    let start = Instant::now();
    for &t in &ds.times {
        for (v, l) in &fields {
            ds.read_field(v, *l, t, &mut out)?;
        }
    }
    let secs = start.elapsed().as_secs_f64();
    let nfields = (fields.len() * ds.times.len()) as f64;
    let mb = nfields * g as f64 * 4.0 / 1e6;
    println!(
        "read_field, 1 thread: {} fields in {:.3} s = {:.0} fields/s, {:.0} MB/s decoded f32 ({:.0} MB/s int16 on disk)",
        nfields, secs, nfields / secs, mb / secs, mb / 2.0 / secs
    );

    // 2. Full 84-channel states (reads + forcings + interleave), one thread.
    let reader = Arc::new(FeatureReader::new(ds.clone(), set.clone())?);
    let mut state = vec![0f32; g * set.len()];
    let start = Instant::now();
    for &t in &ds.times {
        reader.state(t, 0..set.len(), &mut state)?;
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "84-channel state, 1 thread: {:.2} states/s ({:.1} ms each)",
        ds.times.len() as f64 / secs,
        1e3 * secs / ds.times.len() as f64
    );

    // 3. The prefetching loader, rollout 1 (2 states per sample).
    let cfg = WindowConfig::default();
    let w = windows(
        &reader,
        &cfg,
        ds.times[0],
        *ds.times.last().ok_or("no times")?,
    )?;
    let mut counts = vec![1, 2, threads];
    counts.dedup();
    for workers in counts {
        let l = Loader::new(
            reader.clone(),
            Normaliser::identity(set.len()),
            w.init_times.clone(),
            LoaderConfig {
                window: cfg,
                workers,
                queue: 4,
                ..LoaderConfig::default()
            },
        )?;
        let start = Instant::now();
        let mut count = 0;
        for epoch in 0..3 {
            for s in l.epoch(epoch) {
                s?;
                count += 1;
            }
        }
        let secs = start.elapsed().as_secs_f64();
        println!("loader, {workers} workers, rollout 1, 3 epochs: {count} samples in {secs:.2} s = {:.2} samples/s", count as f64 / secs);
    }
    Ok(())
}
