//! Channels, features and statistics on generated ERA5 files.

use std::path::Path;

use fastnet_data::channels::ChannelSet;
use fastnet_data::features::FeatureReader;
use fastnet_data::fixture::{scratch_dir, value, write_static, write_synthetic};
use fastnet_data::forcings::toa_hour_integrated_j_m2;
use fastnet_data::stats::{self, Moments, Stats};
use fastnet_data::time::{parse_date, HOUR};
use fastnet_data::writer::WriteOptions;
use fastnet_data::{DataError, Dataset};
use fastnet_mesh::Grid;

const LEVELS: &[u32] = &[500, 850];

/// Pressure-level, surface and static files on `grid` at `n` 6-hourly times
/// from 2020-01-01; the static file has lsm, surface z and slor (no sdor).
pub fn make_data(dir: &Path, grid: &Grid, n: usize) -> Vec<i64> {
    let t0 = parse_date("2020-01-01").unwrap();
    let ts: Vec<i64> = (0..n as i64).map(|k| t0 + 6 * HOUR * k).collect();
    let opts = WriteOptions::old_cds();
    write_synthetic(&dir.join("pl.nc"), grid, &ts, &["z", "t"], LEVELS, &opts).unwrap();
    write_synthetic(
        &dir.join("sfc.nc"),
        grid,
        &ts,
        &["t2m", "msl"],
        LEVELS,
        &WriteOptions::new_cds(),
    )
    .unwrap();
    write_static(&dir.join("static.nc"), grid, ts[0], &["lsm", "z", "slor"]).unwrap();
    ts
}

/// One test at a time: concurrent HDF5 opens in one process occasionally
/// failed under load (see tests/reader.rs).
fn serial() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

fn small_set() -> ChannelSet {
    let nf = ChannelSet::fastnet();
    let non_forecast: Vec<&str> = nf.names()[..nf.n_non_forecast()].to_vec();
    ChannelSet::from_names(&non_forecast, &["z500", "t850", "t2m", "msl"]).unwrap()
}

#[test]
fn absent_static_fields_are_skipped_with_a_warning_unless_required() {
    let _serial = serial();
    let dir = scratch_dir("static");
    let grid = Grid::equiangular(19, 36, true).unwrap();
    make_data(&dir, &grid, 2);
    let ds = std::sync::Arc::new(Dataset::open(&[&dir]).unwrap());
    let (set, warnings) = small_set().resolve(&ds, false).unwrap();
    assert_eq!(set.len(), 16 - 1);
    assert_eq!(set.n_non_forecast(), 11);
    assert!(set.index("sdor").is_none() && set.index("orography").is_some());
    assert_eq!(warnings.len(), 1);
    assert!(warnings[0].contains("sdor"), "{}", warnings[0]);
    let e = small_set().resolve(&ds, true).unwrap_err();
    assert!(
        matches!(e, DataError::VariableAbsent { .. }) && e.to_string().contains("sdor"),
        "{e}"
    );
    let e = ChannelSet::from_names(&["cos_lat"], &["z300"])
        .unwrap()
        .resolve(&ds, false)
        .unwrap_err();
    assert!(
        matches!(e, DataError::LevelAbsent { level: 300, .. }),
        "{e}"
    );
    let e = ChannelSet::from_names(&["cos_lat"], &["q500"])
        .unwrap()
        .resolve(&ds, false)
        .unwrap_err();
    assert!(matches!(e, DataError::VariableAbsent { .. }), "{e}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn features_hold_the_right_values_in_the_right_slots() {
    let _serial = serial();
    let dir = scratch_dir("features");
    let grid = Grid::equiangular(19, 36, true).unwrap();
    let ts = make_data(&dir, &grid, 2);
    let ds = std::sync::Arc::new(Dataset::open(&[&dir]).unwrap());
    let (set, _) = small_set().resolve(&ds, false).unwrap();
    let reader = FeatureReader::new(ds.clone(), set.clone()).unwrap();
    let nc = set.len();
    let mut state = vec![0f32; grid.len() * nc];
    let t = ts[1];
    reader.state(t, 0..nc, &mut state).unwrap();
    let pts = grid.point_lat_lon();
    for (g, &(lat, lon)) in pts.iter().enumerate() {
        let at = |name: &str| state[g * nc + set.index(name).unwrap()] as f64;
        assert!((at("cos_lat") - lat.to_radians().cos()).abs() < 1e-6);
        assert!((at("sin_lon") - lon.to_radians().sin()).abs() < 1e-6);
        let toa = toa_hour_integrated_j_m2(t, lat, lon);
        assert!((at("toa_incident_solar") - toa).abs() <= 1e-6 * toa + 1e-3);
        let oro = value("orography_source", 0, 0, lat, lon) as f64 / 9.80665;
        assert!((at("orography") - oro).abs() < 1e-3 * oro.abs().max(1.0));
        let t2m = value("t2m", 0, t, lat, lon) as f64;
        assert!((at("t2m") - t2m).abs() < 1e-4 * t2m);
        let z = value("z", 500, t, lat, lon) as f64;
        assert!((at("z500") - z).abs() < 2e-4 * z.abs());
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn stats_equal_a_two_pass_recomputation_and_round_trip_through_json() {
    let _serial = serial();
    let dir = scratch_dir("stats");
    let grid = Grid::equiangular(19, 36, true).unwrap();
    let ts = make_data(&dir, &grid, 6);
    let ds = std::sync::Arc::new(Dataset::open(&[&dir]).unwrap());
    let (set, _) = small_set().resolve(&ds, false).unwrap();
    let reader = FeatureReader::new(ds.clone(), set.clone()).unwrap();
    let mut calls = 0;
    let s = stats::compute(&reader, ts[0], ts[5], 6, &mut |_, _| calls += 1).unwrap();
    assert_eq!((s.times_used, s.change_pairs, s.times_skipped), (6, 5, 0));
    assert_eq!(calls, 7);

    // Independent two-pass recomputation over all (time, point) values.
    let nc = set.len();
    let n = grid.len();
    let states: Vec<Vec<f32>> = ts
        .iter()
        .map(|&t| {
            let mut s = vec![0f32; n * nc];
            reader.state(t, 0..nc, &mut s).unwrap();
            s
        })
        .collect();
    let w1 = grid.area_weights();
    for c in 0..nc {
        let vals: Vec<f64> = states
            .iter()
            .flat_map(|s| (0..n).map(move |g| s[g * nc + c] as f64))
            .collect();
        let w: Vec<f64> = ts.iter().flat_map(|_| w1.iter().copied()).collect();
        let m = Moments::of(vals.iter().copied(), &w);
        let diffs: Vec<f64> = states
            .windows(2)
            .flat_map(|p| (0..n).map(move |g| p[1][g * nc + c] as f64 - p[0][g * nc + c] as f64))
            .collect();
        let dm = Moments::of(diffs.iter().copied(), &w[..diffs.len()]);
        let got = &s.channels[c];
        let close = |a: f64, b: f64| (a - b).abs() <= 1e-9 * b.abs().max(1e-12) + 1e-12;
        assert!(
            close(got.mean, m.mean),
            "{} mean {} vs {}",
            got.name,
            got.mean,
            m.mean
        );
        assert!(
            close(got.std, m.std()),
            "{} std {} vs {}",
            got.name,
            got.std,
            m.std()
        );
        assert!(
            close(got.change_std, dm.std()),
            "{} change {} vs {}",
            got.name,
            got.change_std,
            dm.std()
        );
    }
    // Area weighting, closed form: the area mean of cos φ over the sphere is
    // ∫cos²φ dφ / ∫cos φ dφ = π/4 (an unweighted ring mean would give ~0.6).
    let cl = &s.channels[set.index("cos_lat").unwrap()];
    assert!(
        (cl.mean - std::f64::consts::FRAC_PI_4).abs() < 5e-3,
        "{}",
        cl.mean
    );
    assert_eq!(cl.change_std, 0.0);

    let path = dir.join("stats.json");
    s.save(&path).unwrap();
    let back = Stats::load(&path).unwrap();
    // serde_json's default float parser may differ in the last bit.
    assert_eq!(
        (&back.files, back.times_used, &back.from),
        (&s.files, s.times_used, &s.from)
    );
    for (a, b) in back.channels.iter().zip(&s.channels) {
        assert_eq!(a.name, b.name);
        for (x, y) in [
            (a.mean, b.mean),
            (a.std, b.std),
            (a.change_std, b.change_std),
        ] {
            assert!((x - y).abs() <= 1e-14 * y.abs());
        }
    }
    back.check_channels(&set, &path).unwrap();
    assert!(back.check_channels(&small_set(), &path).is_err());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn empty_date_range_is_an_error() {
    let _serial = serial();
    let dir = scratch_dir("empty");
    let grid = Grid::equiangular(19, 36, true).unwrap();
    let ts = make_data(&dir, &grid, 2);
    let ds = std::sync::Arc::new(Dataset::open(&[&dir]).unwrap());
    let (set, _) = small_set().resolve(&ds, false).unwrap();
    let reader = FeatureReader::new(ds.clone(), set).unwrap();
    let from = parse_date("2021-01-01").unwrap();
    let e = stats::compute(&reader, from, from + 86400, 6, &mut |_, _| {}).unwrap_err();
    let m = e.to_string();
    assert!(matches!(e, DataError::EmptyRange { .. }), "{m}");
    assert!(
        m.contains("2021-01-01T00:00") && m.contains("2020-01-01T00:00"),
        "{m}"
    );
    // A range inside the data but between the 6-hourly times is empty too.
    let e = stats::compute(&reader, ts[0] + HOUR, ts[0] + 2 * HOUR, 6, &mut |_, _| {}).unwrap_err();
    assert!(matches!(e, DataError::EmptyRange { .. }));
    std::fs::remove_dir_all(&dir).unwrap();
}
