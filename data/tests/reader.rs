//! Reading ERA5 files of every layout back to the values written, and one
//! test per bad-input error.

use std::path::PathBuf;

use fastnet_data::fixture::{scratch_dir, value, values, write_synthetic};
use fastnet_data::time::{parse_date, HOUR};
use fastnet_data::writer::{write_era5, Encoding, Layout, VarData, WriteOptions};
use fastnet_data::{DataError, Dataset, MissingPolicy};
use fastnet_mesh::Grid;

/// These tests run one at a time: under load, concurrent HDF5 opens in one
/// process occasionally failed with "NetCDF: HDF error" on a file another
/// test had just written (seen only with several tests in parallel on a
/// busy machine; every call goes through netcdf's global lock).
fn serial() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

fn times(n: usize) -> Vec<i64> {
    let t0 = parse_date("2020-01-01").unwrap();
    (0..n as i64).map(|k| t0 + 6 * HOUR * k).collect()
}

const LEVELS: &[u32] = &[500, 850];

/// Reads back every (variable, level, time) and compares with the analytic
/// field; `tol` covers int16 packing (half a packing step).
fn check_roundtrip(ds: &Dataset, vars: &[&str], tol_frac: f64) {
    let g = &ds.grid;
    let pts = g.point_lat_lon();
    let mut out = vec![0f32; g.len()];
    for &v in vars {
        let e = &ds.vars[v];
        let levels: Vec<Option<u32>> = match &e.levels {
            Some(l) => l.iter().map(|&x| Some(x)).collect(),
            None => vec![None],
        };
        for &t in &ds.times {
            for &l in &levels {
                ds.read_field(v, l, t, &mut out).unwrap();
                let want: Vec<f32> = pts
                    .iter()
                    .map(|&(la, lo)| value(v, l.unwrap_or(0), t, la, lo))
                    .collect();
                let range = want.iter().fold(0f32, |a, &b| a.max(b.abs()));
                for (k, (a, b)) in out.iter().zip(&want).enumerate() {
                    let tol = tol_frac * range as f64 + 1e-6 * b.abs() as f64;
                    assert!(
                        ((a - b).abs() as f64) <= tol,
                        "{v} {l:?} t={t} point {k} {:?}: read {a}, wrote {b}",
                        pts[k]
                    );
                }
            }
        }
    }
}

#[test]
fn every_layout_reads_back_in_canonical_orientation() {
    let _serial = serial();
    let dir = scratch_dir("layouts");
    let grid = Grid::equiangular(19, 36, true).unwrap();
    let ts = times(3);
    let vars = ["z", "t", "t2m", "msl"];
    let mut cases: Vec<(&str, WriteOptions, f64)> = vec![
        ("old_nc4_packed", WriteOptions::old_cds(), 2e-4),
        (
            "old_nc3_packed",
            WriteOptions {
                netcdf3: true,
                ..WriteOptions::old_cds()
            },
            2e-4,
        ),
        ("new_float_zlib", WriteOptions::new_cds(), 1e-7),
        (
            "new_number_expver_dims",
            WriteOptions {
                extra_dims: vec![("number".into(), 1), ("expver".into(), 1)],
                ..WriteOptions::new_cds()
            },
            1e-7,
        ),
        (
            "weatherbench_ascending_signed_days",
            WriteOptions {
                lat_ascending: true,
                lon_signed: true,
                time_units: Some("days since 2000-01-01".into()),
                encoding: Encoding::Float32,
                ..WriteOptions::old_cds()
            },
            1e-7,
        ),
    ];
    // Without poles too (WeatherBench 5.625° layout).
    let nopoles = Grid::equiangular(32, 64, false).unwrap();
    for (name, opts, tol) in cases.drain(..) {
        for g in [&grid, &nopoles] {
            let path = dir.join(format!("{name}_{}.nc", g.len()));
            write_synthetic(&path, g, &ts, &vars, LEVELS, &opts).unwrap();
            let ds = Dataset::open(&[&path]).unwrap();
            assert_eq!(&ds.grid, g, "{name}");
            assert_eq!(ds.times, ts, "{name}");
            assert_eq!(ds.vars["z"].levels.as_deref(), Some(LEVELS));
            let f = &ds.files[0];
            assert_eq!(f.lat_flipped, opts.lat_ascending, "{name}");
            assert_eq!(f.lon_shift != 0, opts.lon_signed, "{name}");
            assert_eq!(f.format, if opts.netcdf3 { "netCDF3" } else { "netCDF4" });
            if opts.time_units.is_none() {
                assert_eq!(f.layout, Some(opts.layout));
            }
            check_roundtrip(&ds, &vars, tol);
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn files_split_by_time_and_variable_merge_and_folders_and_globs_expand() {
    let _serial = serial();
    let dir = scratch_dir("merge");
    let grid = Grid::equiangular(19, 36, true).unwrap();
    let ts = times(6);
    let opts = WriteOptions::old_cds();
    write_synthetic(
        &dir.join("pl_a.nc"),
        &grid,
        &ts[..3],
        &["z", "t"],
        LEVELS,
        &opts,
    )
    .unwrap();
    write_synthetic(
        &dir.join("pl_b.nc"),
        &grid,
        &ts[3..],
        &["z", "t"],
        LEVELS,
        &WriteOptions::new_cds(),
    )
    .unwrap();
    write_synthetic(
        &dir.join("sfc.nc"),
        &grid,
        &ts,
        &["t2m", "u10"],
        LEVELS,
        &opts,
    )
    .unwrap();
    let ds = Dataset::open(&[&dir]).unwrap();
    assert_eq!(ds.files.len(), 3);
    assert_eq!(ds.times, ts);
    assert_eq!(
        ds.vars["z"].times[&ts[4]].0, 1,
        "time 4 of z comes from pl_b.nc"
    );
    check_roundtrip(&ds, &["z", "t", "t2m", "u10"], 2e-4);
    let globbed = Dataset::open(&[dir.join("pl_*.nc")]).unwrap();
    assert_eq!(globbed.files.len(), 2);
    assert!(!globbed.vars.contains_key("t2m"));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn open_file_handles_stay_under_the_limit() {
    let _serial = serial();
    let dir = scratch_dir("handles");
    let grid = Grid::equiangular(19, 36, true).unwrap();
    let ts = times(4);
    for (k, t) in ts.iter().enumerate() {
        let p = dir.join(format!("m{k}.nc"));
        write_synthetic(&p, &grid, &[*t], &["t2m"], LEVELS, &WriteOptions::old_cds()).unwrap();
    }
    let mut ds = Dataset::open(&[&dir]).unwrap();
    ds.max_open_files = 2;
    let mut out = vec![0f32; grid.len()];
    for _ in 0..2 {
        for &t in &ts {
            ds.read_field("t2m", None, t, &mut out).unwrap();
            assert!(ds.open_files() <= 2, "{} open", ds.open_files());
        }
    }
    check_roundtrip(&ds, &["t2m"], 2e-4);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn surface_geopotential_becomes_orography_in_metres() {
    let _serial = serial();
    let dir = scratch_dir("orography");
    let grid = Grid::equiangular(19, 36, true).unwrap();
    let heights: Vec<f32> = (0..grid.len()).map(|k| (k % 97) as f32 * 40.0).collect();
    let z: Vec<f32> = heights.iter().map(|h| h * 9.80665).collect();
    let path = dir.join("static.nc");
    let var = |name: &str, units: &str, values: Vec<f32>| VarData {
        name: name.into(),
        units: units.into(),
        levels: None,
        values,
    };
    write_era5(
        &path,
        &grid,
        &times(1),
        &[
            var("z", "m**2 s**-2", z),
            var("lsm", "(0 - 1)", vec![1.0; grid.len()]),
        ],
        &WriteOptions {
            encoding: Encoding::Float32,
            ..WriteOptions::old_cds()
        },
    )
    .unwrap();
    let ds = Dataset::open(&[&path]).unwrap();
    assert!(ds.times.is_empty(), "static fields add no times");
    let mut out = vec![0f32; grid.len()];
    ds.read_field("orography", None, 12345, &mut out).unwrap();
    for (a, b) in out.iter().zip(&heights) {
        assert!((a - b).abs() < 1e-3 * b.max(1.0), "{a} vs {b}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A WeatherBench-style file written by netCDF's own `ncgen` from CDL (an
/// independent writer): `lat`/`lon` names, latitudes ascending, longitudes
/// -180..180, `days since` time unit, float64 data. Skipped without ncgen.
#[test]
fn a_file_written_by_ncgen_reads_back_in_canonical_orientation() {
    let _serial = serial();
    let dir = scratch_dir("ncgen");
    let cdl = dir.join("wb.cdl");
    let nc = dir.join("wb.nc");
    // 3 latitudes (-60, 0, 60: no poles, step 60) x 4 longitudes (-180, -90,
    // 0, 90), 2 times; value = 100 * time index + 10 * lat index + lon index
    // in file order.
    let mut data = Vec::new();
    for t in 0..2 {
        for i in 0..3 {
            for j in 0..4 {
                data.push(format!("{}", 100 * t + 10 * i + j));
            }
        }
    }
    let text = format!(
        "netcdf wb {{\ndimensions:\n time = UNLIMITED ; lat = 3 ; lon = 4 ;\nvariables:\n \
         double time(time) ; time:units = \"days since 1979-01-01\" ;\n \
         float lat(lat) ; float lon(lon) ;\n \
         double t2m(time, lat, lon) ; t2m:units = \"K\" ;\ndata:\n \
         time = 0, 0.25 ;\n lat = -60, 0, 60 ;\n lon = -180, -90, 0, 90 ;\n t2m = {} ;\n}}\n",
        data.join(", ")
    );
    std::fs::write(&cdl, text).unwrap();
    let made = std::process::Command::new("ncgen")
        .args(["-o", nc.to_str().unwrap(), cdl.to_str().unwrap()])
        .status();
    if !made.is_ok_and(|s| s.success()) {
        eprintln!("ncgen not available: skipped");
        return;
    }
    let ds = Dataset::open(&[&nc]).unwrap();
    assert_eq!(ds.grid, Grid::equiangular(3, 4, false).unwrap());
    let t0 = parse_date("1979-01-01").unwrap();
    assert_eq!(ds.times, vec![t0, t0 + 6 * HOUR]);
    let mut out = vec![0f32; 12];
    ds.read_field("t2m", None, t0 + 6 * HOUR, &mut out).unwrap();
    // Canonical row i (north to south) is file row 2 - i; canonical column j
    // (0, 90, 180, 270 °E) is file column (j + 2) % 4.
    for i in 0..3 {
        for j in 0..4 {
            let want = 100 + 10 * (2 - i) + (j + 2) % 4;
            assert_eq!(out[i * 4 + j], want as f32, "row {i} column {j}");
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

// ---- bad input: one test per error ----

fn msg(e: DataError) -> String {
    e.to_string()
}

#[test]
fn missing_file_folder_and_glob() {
    let _serial = serial();
    let dir = scratch_dir("missing");
    let e = Dataset::open(&[dir.join("nope.nc")]).err().unwrap();
    assert!(matches!(e, DataError::Missing { .. }), "{e}");
    assert!(msg(e).contains("nope.nc"));
    let e = Dataset::open(&[dir.join("*.nc")]).err().unwrap();
    assert!(matches!(e, DataError::NoMatch { .. }), "{e}");
    let e = Dataset::open(&[&dir]).err().unwrap();
    assert!(matches!(e, DataError::NoMatch { .. }), "{e}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn truncated_and_non_netcdf_files_are_refused_with_their_path() {
    let _serial = serial();
    let dir = scratch_dir("truncated");
    let grid = Grid::equiangular(19, 36, true).unwrap();
    for (name, opts) in [
        ("nc4.nc", WriteOptions::old_cds()),
        (
            "nc3.nc",
            WriteOptions {
                netcdf3: true,
                ..WriteOptions::old_cds()
            },
        ),
    ] {
        let path = dir.join(name);
        write_synthetic(&path, &grid, &times(4), &["z", "t"], LEVELS, &opts).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
        // Either the open or the first read must fail, naming the file.
        let result = match Dataset::open(&[&path]) {
            Err(e) => Err(e),
            Ok(ds) => {
                let mut out = vec![0f32; grid.len()];
                ds.times
                    .iter()
                    .try_for_each(|&t| ds.read_field("t", Some(850), t, &mut out))
            }
        };
        let e = result
            .err()
            .unwrap_or_else(|| panic!("{name}: truncated file read without error"));
        assert!(
            matches!(e, DataError::Open { .. } | DataError::Read { .. }),
            "{e}"
        );
        assert!(msg(e).contains(name));
    }
    let path = dir.join("text.nc");
    std::fs::write(&path, "this is not netcdf").unwrap();
    let e = Dataset::open(&[&path]).err().unwrap();
    assert!(matches!(e, DataError::Open { .. }) && msg(e).contains("text.nc"));
    std::fs::remove_dir_all(&dir).unwrap();
}

fn one_file(dir: &std::path::Path, name: &str, ts: &[i64], vars: &[&str]) -> PathBuf {
    let grid = Grid::equiangular(19, 36, true).unwrap();
    let path = dir.join(name);
    write_synthetic(&path, &grid, ts, vars, LEVELS, &WriteOptions::old_cds()).unwrap();
    path
}

#[test]
fn absent_variable_level_and_time() {
    let _serial = serial();
    let dir = scratch_dir("absent");
    let ts = times(2);
    let ds = Dataset::open(&[one_file(&dir, "a.nc", &ts, &["z", "t2m"])]).unwrap();
    let mut out = vec![0f32; ds.grid.len()];
    let e = ds.read_field("q", Some(500), ts[0], &mut out).unwrap_err();
    assert!(matches!(e, DataError::VariableAbsent { .. }) && msg(e).contains("q"));
    let e = ds.read_field("z", Some(300), ts[0], &mut out).unwrap_err();
    let m = e.to_string();
    assert!(
        matches!(e, DataError::LevelAbsent { level: 300, .. }),
        "{m}"
    );
    assert!(m.contains("300") && m.contains("[500, 850]"), "{m}");
    let e = ds
        .read_field("t2m", None, ts[1] + HOUR, &mut out)
        .unwrap_err();
    assert!(matches!(e, DataError::TimeAbsent { .. }), "{e}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn grids_that_differ_between_files() {
    let _serial = serial();
    let dir = scratch_dir("grids");
    let a = one_file(&dir, "a.nc", &times(1), &["t2m"]);
    let b = dir.join("b.nc");
    write_synthetic(
        &b,
        &Grid::equiangular(37, 72, true).unwrap(),
        &times(2)[1..],
        &["t2m"],
        LEVELS,
        &WriteOptions::old_cds(),
    )
    .unwrap();
    let e = Dataset::open(&[a, b]).err().unwrap();
    let m = e.to_string();
    assert!(matches!(e, DataError::GridMismatch { .. }), "{m}");
    assert!(
        m.contains("b.nc") && m.contains("a.nc") && m.contains("37 x 72"),
        "{m}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn duplicate_and_non_monotonic_times() {
    let _serial = serial();
    let dir = scratch_dir("times");
    let ts = times(3);
    let grid = Grid::equiangular(19, 36, true).unwrap();
    let write = |name: &str, t: &[i64]| {
        let p = dir.join(name);
        write_synthetic(&p, &grid, t, &["t2m"], LEVELS, &WriteOptions::old_cds()).unwrap();
        p
    };
    let e = Dataset::open(&[write("dup.nc", &[ts[0], ts[1], ts[1]])])
        .err()
        .unwrap();
    assert!(
        matches!(
            e,
            DataError::DuplicateTimeInFile {
                first: 1,
                second: 2,
                ..
            }
        ),
        "{e}"
    );
    let e = Dataset::open(&[write("back.nc", &[ts[0], ts[2], ts[1]])])
        .err()
        .unwrap();
    assert!(
        matches!(e, DataError::NonMonotonicTimes { index: 2, .. }),
        "{e}"
    );
    let a = write("a.nc", &ts[..2]);
    let b = write("b.nc", &ts[1..]);
    let e = Dataset::open(&[a, b]).err().unwrap();
    let m = e.to_string();
    assert!(
        matches!(e, DataError::DuplicateTimeAcrossFiles { .. }),
        "{m}"
    );
    assert!(
        m.contains("t2m")
            && m.contains("2020-01-01T06:00")
            && m.contains("a.nc")
            && m.contains("b.nc"),
        "{m}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn levels_that_differ_between_files() {
    let _serial = serial();
    let dir = scratch_dir("levels");
    let grid = Grid::equiangular(19, 36, true).unwrap();
    let ts = times(2);
    let a = dir.join("a.nc");
    let b = dir.join("b.nc");
    write_synthetic(
        &a,
        &grid,
        &ts[..1],
        &["t"],
        &[500, 850],
        &WriteOptions::old_cds(),
    )
    .unwrap();
    write_synthetic(
        &b,
        &grid,
        &ts[1..],
        &["t"],
        &[500],
        &WriteOptions::old_cds(),
    )
    .unwrap();
    let e = Dataset::open(&[a, b]).err().unwrap();
    assert!(matches!(e, DataError::LevelsDiffer { .. }), "{e}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn missing_values_are_an_error_with_count_and_first_position() {
    let _serial = serial();
    let dir = scratch_dir("nan");
    let grid = Grid::equiangular(19, 36, true).unwrap();
    let ts = times(1);
    for enc in [Encoding::PackedInt16, Encoding::Float32] {
        let mut vals = values("t2m", None, &grid, &ts);
        // Canonical point (ring 2, column 5) = lat 70, lon 50; and two more.
        for k in [2 * 36 + 5, 10 * 36, 18 * 36 + 35] {
            vals[k] = f32::NAN;
        }
        let path = dir.join(format!("{enc:?}.nc"));
        let opts = WriteOptions {
            encoding: enc,
            lat_ascending: true,
            lon_signed: true,
            ..WriteOptions::old_cds()
        };
        write_era5(
            &path,
            &grid,
            &ts,
            &[VarData {
                name: "t2m".into(),
                units: "K".into(),
                levels: None,
                values: vals,
            }],
            &opts,
        )
        .unwrap();
        let mut ds = Dataset::open(&[&path]).unwrap();
        let mut out = vec![0f32; grid.len()];
        let e = ds.read_field("t2m", None, ts[0], &mut out).unwrap_err();
        let m = e.to_string();
        assert!(
            matches!(e, DataError::MissingValues { count: 3, .. }),
            "{m}"
        );
        assert!(
            m.contains("lat 70") && m.contains("lon 50") && m.contains("t2m"),
            "{m}"
        );
        ds.missing = MissingPolicy::Nan;
        ds.read_field("t2m", None, ts[0], &mut out).unwrap();
        assert_eq!(out.iter().filter(|x| x.is_nan()).count(), 3);
        assert!(out[2 * 36 + 5].is_nan());
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn units_that_contradict_the_variable() {
    let _serial = serial();
    let dir = scratch_dir("units");
    let grid = Grid::equiangular(19, 36, true).unwrap();
    let ts = times(1);
    let path = dir.join("era5_2020.nc");
    let z = VarData {
        name: "z".into(),
        units: "m".into(),
        levels: Some(vec![500]),
        values: values("z", Some(&[500]), &grid, &ts),
    };
    write_era5(&path, &grid, &ts, &[z], &WriteOptions::old_cds()).unwrap();
    let e = Dataset::open(&[&path]).err().unwrap();
    let m = e.to_string();
    assert!(matches!(e, DataError::UnitsMismatch { .. }), "{m}");
    assert_eq!(
        m,
        format!(
            "z in {}: units \"m\" but geopotential needs \"m**2 s**-2\" (did you pass geopotential height? multiply by g = 9.80665)",
            path.display()
        )
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn extra_dimensions_longer_than_one_and_bad_time_units() {
    let _serial = serial();
    let dir = scratch_dir("extra");
    let grid = Grid::equiangular(19, 36, true).unwrap();
    let ts = times(1);
    let p = dir.join("expver.nc");
    let opts = WriteOptions {
        extra_dims: vec![("expver".into(), 2)],
        ..WriteOptions::new_cds()
    };
    write_synthetic(&p, &grid, &ts, &["t2m"], LEVELS, &opts).unwrap();
    let e = Dataset::open(&[&p]).err().unwrap();
    assert!(
        matches!(e, DataError::ExtraDimension { len: 2, .. }) && e.to_string().contains("expver"),
        "{e}"
    );
    let p = dir.join("months.nc");
    let opts = WriteOptions {
        time_units: Some("months since 2000-01-01".into()),
        ..WriteOptions::old_cds()
    };
    // The writer itself refuses units it cannot produce.
    assert!(write_synthetic(&p, &grid, &ts, &["t2m"], LEVELS, &opts).is_err());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn new_layout_is_detected() {
    let _serial = serial();
    let dir = scratch_dir("layout");
    let grid = Grid::equiangular(19, 36, true).unwrap();
    let p = dir.join("new.nc");
    write_synthetic(
        &p,
        &grid,
        &times(2),
        &["u", "u10"],
        LEVELS,
        &WriteOptions::new_cds(),
    )
    .unwrap();
    let ds = Dataset::open(&[&p]).unwrap();
    assert_eq!(ds.files[0].layout, Some(Layout::NewCds));
    std::fs::remove_dir_all(&dir).unwrap();
}
