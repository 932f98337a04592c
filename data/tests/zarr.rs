//! anemoi-datasets Zarr stores as input: genuine stores built by
//! `anemoi-datasets create` (0.5.47, in the setup's Python) from NetCDF
//! files written by xarray (scripts/anemoi_fixture.py), read back through
//! [`Dataset`] and compared value for value with the same NetCDF read
//! through the NetCDF path; the store's statistics checked against the
//! values; and one test per way a store can be wrong.

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

use fastnet_data::fixture::{build_anemoi_store, scratch_dir};
use fastnet_data::time::{format_time, parse_date};
use fastnet_data::zarr::{AnemoiStore, StoreSpec};
use fastnet_data::{DataError, Dataset};
use fastnet_mesh::Grid;

/// One test at a time: the NetCDF reads share HDF5, which is not
/// thread-safe.
fn serial() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

/// Builds (once per test binary) the fixture `kind` and returns its folder.
fn fixture(kind: &str) -> PathBuf {
    static DIRS: OnceLock<std::sync::Mutex<std::collections::BTreeMap<String, PathBuf>>> =
        OnceLock::new();
    let dirs = DIRS.get_or_init(Default::default);
    let mut dirs = dirs.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(d) = dirs.get(kind) {
        return d.clone();
    }
    let out = scratch_dir(&format!("anemoi-{kind}"));
    build_anemoi_store(kind, &out).unwrap_or_else(|e| panic!("{e}"));
    dirs.insert(kind.to_string(), out.clone());
    out
}

fn read(ds: &Dataset, var: &str, level: Option<u32>, t: i64) -> Vec<f32> {
    let mut out = vec![0f32; ds.grid.len()];
    ds.read_field(var, level, t, &mut out)
        .unwrap_or_else(|e| panic!("{var} {level:?} {}: {e}", format_time(t)));
    out
}

/// Every (variable, level, time) of `a` equals `b`'s, bit for bit.
fn assert_same_fields(a: &Dataset, b: &Dataset, pairs: &[(&str, &str)]) {
    assert_eq!(a.times, b.times);
    let mut checked = 0;
    for &(va, vb) in pairs {
        let levels = a.vars[va].levels.clone();
        assert_eq!(levels, b.vars[vb].levels, "{va} levels");
        let levels: Vec<Option<u32>> = match levels {
            Some(ls) => ls.into_iter().map(Some).collect(),
            None => vec![None],
        };
        for &t in &a.times {
            for &l in &levels {
                assert_eq!(
                    read(a, va, l, t),
                    read(b, vb, l, t),
                    "{va} {l:?} {}",
                    format_time(t)
                );
                checked += 1;
            }
        }
    }
    assert!(checked > 10);
}

#[test]
fn lat_lon_store_reads_like_its_netcdf() {
    let _s = serial();
    let dir = fixture("latlon");
    let store = Dataset::open(&[dir.join("store.zarr")]).unwrap();
    let nc = Dataset::open(&[dir.join("source.nc")]).unwrap();
    // 10° with poles; stored south to north from -180: canonical in memory.
    assert_eq!(store.grid, Grid::equiangular(19, 36, true).unwrap());
    assert_eq!(store.grid, nc.grid);
    let names: Vec<&str> = store.vars.keys().map(String::as_str).collect();
    assert_eq!(
        names,
        [
            "lsm",
            "msl",
            "orography_source",
            "t",
            "t2m",
            "u10",
            "v10",
            "z"
        ],
        "anemoi names (2t, 10u, t_500, surface z, ...) map to fastnet's"
    );
    assert_eq!(store.vars["t"].levels, Some(vec![500, 850]));
    assert_eq!(store.times.len(), 7);
    assert_same_fields(
        &store,
        &nc,
        &[
            ("t", "t"),
            ("z", "z"),
            ("t2m", "t2m"),
            ("u10", "u10"),
            ("v10", "v10"),
            ("msl", "msl"),
        ],
    );
    // Static fields: surface geopotential (renamed zs -> z in the recipe)
    // and the land-sea mask.
    let t0 = nc.times[0];
    assert_eq!(
        read(&store, "orography_source", None, t0),
        read(&nc, "zs", None, t0)
    );
    assert_eq!(read(&store, "lsm", None, 0), read(&nc, "lsm", None, 0));
    let oro = read(&store, "orography", None, 0);
    let zs = read(&nc, "zs", None, t0);
    assert!((oro[5] as f64 - zs[5] as f64 / 9.80665).abs() < 1e-3);
}

#[test]
fn store_statistics_agree_with_the_values() {
    let _s = serial();
    let dir = fixture("latlon");
    let spec = StoreSpec::parse(&dir.join("store.zarr")).unwrap().unwrap();
    let store = AnemoiStore::open(&spec).unwrap();
    let stats = store.statistics().unwrap();
    let (from, to) = store.statistics_period().unwrap();
    let nc = Dataset::open(&[dir.join("source.nc")]).unwrap();
    // anemoi-datasets' statistics: plain (unweighted) moments over every
    // point of every date in the statistics period.
    for (name, var, level) in [
        ("t_850", "t", Some(850)),
        ("2t", "t2m", None),
        ("msl", "msl", None),
    ] {
        let s = stats.iter().find(|s| s.variable == name).unwrap();
        let vals: Vec<f64> = nc
            .times
            .iter()
            .filter(|&&t| t >= from && t <= to)
            .flat_map(|&t| read(&nc, var, level, t))
            .map(f64::from)
            .collect();
        let n = vals.len() as f64;
        let mean = vals.iter().sum::<f64>() / n;
        let std = (vals.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n).sqrt();
        let min = vals.iter().copied().fold(f64::INFINITY, f64::min);
        let max = vals.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        assert!(
            (s.mean - mean).abs() <= 1e-9 * mean.abs().max(1.0),
            "{name} mean {} vs {mean}",
            s.mean
        );
        assert!(
            (s.stdev - std).abs() <= 1e-6 * std,
            "{name} stdev {} vs {std}",
            s.stdev
        );
        assert_eq!((s.minimum, s.maximum), (min, max), "{name}");
    }
}

#[test]
fn ensemble_stores_need_a_member_and_skip_missing_dates() {
    let _s = serial();
    let dir = fixture("ensemble");
    let path = dir.join("store.zarr");
    let err = Dataset::open(&[&path])
        .err()
        .expect("three members, none chosen");
    let text = err.to_string();
    assert!(
        text.contains("3 ensemble members") && text.contains("#member=N"),
        "{text}"
    );
    let m1 = PathBuf::from(format!("{}#member=1", path.display()));
    let store = Dataset::open(&[&m1]).unwrap();
    // 2020-01-01 00 .. 2020-01-02 12 every 12 h is four dates; the store
    // lists 2020-01-02 00 as missing, so it is not on the time axis.
    let missing = parse_date("2020-01-02T00").unwrap();
    assert_eq!(store.times.len(), 3);
    assert!(!store.times.contains(&missing));
    assert!(matches!(
        store.read_field("t2m", None, missing, &mut vec![0.0; store.grid.len()]),
        Err(DataError::TimeAbsent { .. })
    ));
    let member = Dataset::open(&[dir.join("member1.nc")]).unwrap();
    for &t in &store.times {
        for (var, level) in [
            ("t", Some(500)),
            ("t", Some(850)),
            ("z", Some(500)),
            ("t2m", None),
        ] {
            assert_eq!(read(&store, var, level, t), read(&member, var, level, t));
        }
    }
    let err = Dataset::open(&[PathBuf::from(format!("{}#member=3", path.display()))])
        .err()
        .unwrap();
    assert!(
        err.to_string().contains("member 3") && err.to_string().contains("0 to 2"),
        "{err}"
    );
    let err = Dataset::open(&[PathBuf::from(format!("{}#member=one", path.display()))])
        .err()
        .unwrap();
    assert!(err.to_string().contains("member index"), "{err}");
}

#[test]
fn reduced_grid_store_reads_like_its_netcdf() {
    let _s = serial();
    let dir = fixture("o8");
    let store = Dataset::open(&[dir.join("store.zarr")]).unwrap();
    let nc = Dataset::open(&[dir.join("source.nc")]).unwrap();
    assert_eq!(store.grid, Grid::octahedral(8).unwrap());
    assert_eq!(nc.grid, store.grid);
    assert_same_fields(
        &store,
        &nc,
        &[("t", "t"), ("z", "z"), ("t2m", "t2m"), ("u10", "u10")],
    );
}

#[test]
fn damaged_stores_fail_naming_the_store_and_array() {
    let _s = serial();
    let dir = fixture("o8");
    let copy = scratch_dir("anemoi-o8-damaged").join("anemoi-o8-truncated.zarr");
    let _ = std::fs::remove_dir_all(&copy);
    let r = Command::new("cp")
        .arg("-r")
        .arg(dir.join("store.zarr"))
        .arg(&copy)
        .status()
        .unwrap();
    assert!(r.success());
    let chunk = copy.join("data").join("2.0.0.0");
    let bytes = std::fs::read(&chunk).unwrap();
    std::fs::write(&chunk, &bytes[..bytes.len() / 2]).unwrap();
    let ds = Dataset::open(&[&copy]).unwrap();
    let mut out = vec![0f32; ds.grid.len()];
    ds.read_field("t2m", None, ds.times[1], &mut out).unwrap();
    let err = ds
        .read_field("t2m", None, ds.times[2], &mut out)
        .unwrap_err();
    let text = err.to_string();
    assert!(
        matches!(err, DataError::Read { .. })
            && text.contains("data")
            && text.contains("anemoi-o8-truncated.zarr"),
        "{text}"
    );
    // A variable the store does not have is named with what it has.
    let err = ds
        .read_field("q", Some(500), ds.times[0], &mut out)
        .unwrap_err();
    assert!(matches!(err, DataError::VariableAbsent { .. }), "{err}");
    // A folder that is no store, and a store that is not anemoi's.
    let empty = scratch_dir("anemoi-empty").join("empty.zarr");
    std::fs::create_dir_all(&empty).unwrap();
    let err = Dataset::open(&[&empty]).err().unwrap();
    assert!(matches!(err, DataError::ZarrOpen { .. }), "{err}");
    std::fs::remove_dir_all(copy.join("latitudes")).unwrap();
    let err = Dataset::open(&[&copy]).err().unwrap();
    assert!(err.to_string().contains("no `latitudes` array"), "{err}");
    // A store whose `data` stops short of end_date (interrupted build).
    let _ = std::fs::remove_dir_all(&copy);
    assert!(Command::new("cp")
        .arg("-r")
        .arg(dir.join("store.zarr"))
        .arg(&copy)
        .status()
        .unwrap()
        .success());
    let attrs = copy.join(".zattrs");
    let text = std::fs::read_to_string(&attrs).unwrap();
    std::fs::write(
        &attrs,
        text.replace("2020-01-03T18:00:00", "2020-01-04T18:00:00"),
    )
    .unwrap();
    let err = Dataset::open(&[&copy]).err().unwrap();
    assert!(err.to_string().contains("end_date"), "{err}");
}
