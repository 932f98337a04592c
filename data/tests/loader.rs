//! Windows, samples and the prefetching loader on generated files.

use std::sync::Arc;

use fastnet_data::channels::ChannelSet;
use fastnet_data::features::FeatureReader;
use fastnet_data::fixture::{scratch_dir, value, write_synthetic};
use fastnet_data::loader::{Loader, LoaderConfig};
use fastnet_data::sample::{make_sample, windows, Normaliser, StateCache, WindowConfig};
use fastnet_data::time::{parse_date, HOUR};
use fastnet_data::writer::WriteOptions;
use fastnet_data::{DataError, Dataset};
use fastnet_mesh::Grid;

/// One test at a time: concurrent HDF5 opens in one process occasionally
/// failed under load (see tests/reader.rs).
fn serial() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

/// Hourly t2m/msl/z500 data at `hours` (hours after 2020-01-01T00).
fn hourly(dir: &std::path::Path, hours: &[i64]) -> Arc<FeatureReader> {
    let grid = Grid::equiangular(19, 36, true).unwrap();
    let t0 = parse_date("2020-01-01").unwrap();
    let ts: Vec<i64> = hours.iter().map(|h| t0 + h * HOUR).collect();
    write_synthetic(
        &dir.join("sfc.nc"),
        &grid,
        &ts,
        &["t2m", "msl"],
        &[500],
        &WriteOptions::new_cds(),
    )
    .unwrap();
    write_synthetic(
        &dir.join("pl.nc"),
        &grid,
        &ts,
        &["z"],
        &[500],
        &WriteOptions::old_cds(),
    )
    .unwrap();
    let ds = Arc::new(Dataset::open(&[dir]).unwrap());
    let set = ChannelSet::from_names(&["cos_lat", "toa_incident_solar"], &["z500", "t2m", "msl"])
        .unwrap();
    Arc::new(FeatureReader::new(ds, set).unwrap())
}

fn t(h: i64) -> i64 {
    parse_date("2020-01-01").unwrap() + h * HOUR
}

#[test]
fn windows_subsample_hourly_data_and_skip_missing_times() {
    let _serial = serial();
    let dir = scratch_dir("windows");
    // Hourly 0..=48 h except 18 h and 19 h.
    let hours: Vec<i64> = (0..=48).filter(|h| *h != 18 && *h != 19).collect();
    let reader = hourly(&dir, &hours);
    let cfg = WindowConfig {
        step_hours: 6,
        history: 1,
        rollout: 2,
    };
    let w = windows(&reader, &cfg, t(0), t(48)).unwrap();
    // Init times 0,6,...,36 (targets up to 48); those touching 18 h are
    // 6 (targets 12, 18), 12 (18, 24), 18 itself: 3 skipped.
    assert_eq!(w.init_times, vec![t(0), t(24), t(30), t(36)]);
    assert_eq!(w.skipped, 3);
    assert_eq!(w.first_missing.as_deref(), Some("2020-01-01T18:00"));
    // History 2 needs t − 6 h too; and the split bounds hold the whole window.
    let cfg2 = WindowConfig {
        history: 2,
        rollout: 1,
        ..cfg
    };
    let w2 = windows(&reader, &cfg2, t(24), t(42)).unwrap();
    assert_eq!(w2.init_times, vec![t(30), t(36)]);
    // Empty split and bad config.
    let e = windows(&reader, &cfg, t(100), t(200)).unwrap_err();
    assert!(matches!(e, DataError::EmptyRange { .. }), "{e}");
    let e = windows(&reader, &WindowConfig { rollout: 0, ..cfg }, t(0), t(48)).unwrap_err();
    assert!(matches!(e, DataError::BadConfig { .. }) && e.to_string().contains("rollout"));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn sample_arrays_hold_the_right_times_and_channels() {
    let _serial = serial();
    let dir = scratch_dir("sample");
    let hours: Vec<i64> = (0..=24).collect();
    let reader = hourly(&dir, &hours);
    let cfg = WindowConfig {
        step_hours: 6,
        history: 2,
        rollout: 2,
    };
    let norm = Normaliser::identity(reader.set.len());
    let mut cache = StateCache::new(3);
    let s = make_sample(&reader, &norm, &cfg, t(6), &mut cache).unwrap();
    let g = reader.ds.grid.len();
    assert_eq!(
        (
            s.shape.history,
            s.shape.rollout,
            s.shape.grid,
            s.shape.channels,
            s.shape.non_forecast,
            s.shape.forecast
        ),
        (2, 2, g, 5, 2, 3)
    );
    assert_eq!(s.inputs.len(), 2 * g * 5);
    assert_eq!(s.forcings.len(), 2 * g * 2);
    assert_eq!(s.targets.len(), 2 * g * 3);
    let pts = reader.ds.grid.point_lat_lon();
    let k = 200; // some grid point
    let (lat, lon) = pts[k];
    let close = |a: f32, b: f32| (a - b).abs() <= 2e-4 * b.abs().max(1.0);
    // inputs[h=0] is t−6 h = 0 h; inputs[h=1] is 6 h; channel 3 = t2m.
    assert!(close(s.inputs[k * 5 + 3], value("t2m", 0, t(0), lat, lon)));
    assert!(close(
        s.inputs[g * 5 + k * 5 + 3],
        value("t2m", 0, t(6), lat, lon)
    ));
    // targets[r] at t + (r+1)Δ: forecast channel 0 = z500.
    assert!(close(s.targets[k * 3], value("z", 500, t(12), lat, lon)));
    assert!(close(
        s.targets[g * 3 + k * 3 + 2],
        value("msl", 0, t(18), lat, lon)
    ));
    // forcings[r] at t + rΔ: channel 1 = TOA.
    let toa = fastnet_data::forcings::toa_hour_integrated_j_m2(t(12), lat, lon) as f32;
    assert!(close(s.forcings[g * 2 + k * 2 + 1], toa));
    // The cache never holds more than its capacity; a hit returns the same
    // state as a fresh read.
    let mut small = StateCache::new(2);
    let first = small.get(&reader, &norm, t(0)).unwrap().to_vec();
    for h in [6, 12, 18, 24] {
        small.get(&reader, &norm, t(h)).unwrap();
        assert!(small.len() <= 2);
    }
    assert_eq!(small.get(&reader, &norm, t(0)).unwrap(), &first[..]);
    // Normalisation: (x − mean) / std.
    let mut norm2 = Normaliser::identity(5);
    norm2.mean[3] = 200.0;
    norm2.inv_std[3] = 0.5;
    let s2 = make_sample(&reader, &norm2, &cfg, t(6), &mut StateCache::new(1)).unwrap();
    assert!(close(
        s2.inputs[k * 5 + 3],
        (value("t2m", 0, t(0), lat, lon) - 200.0) * 0.5
    ));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn loader_order_is_deterministic_and_independent_of_worker_count() {
    let _serial = serial();
    let dir = scratch_dir("loader");
    let hours: Vec<i64> = (0..=72).step_by(6).collect();
    let reader = hourly(&dir, &hours);
    let cfg = WindowConfig {
        step_hours: 6,
        history: 1,
        rollout: 2,
    };
    let w = windows(&reader, &cfg, t(0), t(72)).unwrap();
    assert_eq!(w.init_times.len(), 11);
    let run = |workers: usize, epoch: u64| -> Vec<(i64, Vec<f32>)> {
        let c = LoaderConfig {
            window: cfg,
            workers,
            queue: 3,
            seed: 42,
            ..LoaderConfig::default()
        };
        let l = Loader::new(
            reader.clone(),
            Normaliser::identity(5),
            w.init_times.clone(),
            c,
        )
        .unwrap();
        l.epoch(epoch)
            .map(|s| s.map(|s| (s.init_time, s.targets)).unwrap())
            .collect()
    };
    let a = run(1, 0);
    assert_eq!(a.len(), 11);
    assert_eq!(a, run(3, 0), "same order and content with 3 workers");
    let b = run(2, 1);
    assert_ne!(
        a.iter().map(|x| x.0).collect::<Vec<_>>(),
        b.iter().map(|x| x.0).collect::<Vec<_>>()
    );
    let mut times: Vec<i64> = b.iter().map(|x| x.0).collect();
    times.sort_unstable();
    assert_eq!(times, w.init_times, "every window once per epoch");
    // Content equals a direct build.
    let direct = make_sample(
        &reader,
        &Normaliser::identity(5),
        &cfg,
        a[0].0,
        &mut StateCache::new(1),
    )
    .unwrap();
    assert_eq!(direct.targets, a[0].1);
    // Dropping an epoch early stops the workers (no hang).
    let l = Loader::new(
        reader.clone(),
        Normaliser::identity(5),
        w.init_times.clone(),
        LoaderConfig {
            window: cfg,
            ..LoaderConfig::default()
        },
    )
    .unwrap();
    assert_eq!(l.epoch(0).take(2).count(), 2);
    std::fs::remove_dir_all(&dir).unwrap();
}
