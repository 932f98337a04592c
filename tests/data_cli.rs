//! `fastnet data inspect` and `fastnet stats` on generated ERA5 files.

mod common;
use common::fastnet;

use fastnet_data::fixture::{scratch_dir, values, write_synthetic};
use fastnet_data::stats::Stats;
use fastnet_data::writer::{write_era5, VarData, WriteOptions};
use fastnet_mesh::Grid;

const T0: i64 = 1_577_836_800; // 2020-01-01T00:00Z

/// The tests of this binary write NetCDF in-process (HDF5 is not
/// thread-safe), so they take turns.
fn netcdf_serial() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

#[test]
fn inspect_and_stats_on_a_folder() {
    let _serial = netcdf_serial();
    let dir = scratch_dir("cli");
    let grid = Grid::equiangular(19, 36, true).unwrap();
    let ts: Vec<i64> = (0..4).map(|k| T0 + 6 * 3600 * k).collect();
    write_synthetic(
        &dir.join("pl.nc"),
        &grid,
        &ts,
        &["z", "t"],
        &[500, 850],
        &WriteOptions::old_cds(),
    )
    .unwrap();
    write_synthetic(
        &dir.join("sfc.nc"),
        &grid,
        &ts,
        &["t2m"],
        &[],
        &WriteOptions::new_cds(),
    )
    .unwrap();
    let d = dir.to_str().unwrap();

    let ok = fastnet(&["data", "inspect", d]);
    let out = String::from_utf8_lossy(&ok.stdout);
    assert!(
        ok.status.success(),
        "{out}\n{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert!(
        out.contains("4 times every 6 h") && out.contains("int16 packed"),
        "{out}"
    );

    let missing = dir.join("absent.nc");
    let bad = fastnet(&["data", "inspect", d, missing.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(!bad.status.success());
    assert_eq!(
        err.lines().filter(|l| l.starts_with("problem: ")).count(),
        1,
        "{err}"
    );
    assert!(err.contains("absent.nc: no such file"), "{err}");

    let json = dir.join("stats.json");
    let run = fastnet(&[
        "stats",
        "--data",
        d,
        "--from",
        "2020-01-01",
        "--to",
        "2020-01-01T18",
        "-o",
        json.to_str().unwrap(),
        "--non-forecast",
        "cos_lat,lsm",
        "--forecast",
        "z500,t2m",
    ]);
    let err = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "{err}");
    assert!(err.contains("warning: static channel lsm skipped"), "{err}");
    let s = Stats::load(&json).unwrap();
    assert_eq!(
        s.channels
            .iter()
            .map(|c| c.name.as_str())
            .collect::<Vec<_>>(),
        ["cos_lat", "z500", "t2m"]
    );
    assert_eq!((s.times_used, s.change_pairs), (4, 3));

    let empty = fastnet(&[
        "stats",
        "--data",
        d,
        "--from",
        "2021-01-01",
        "--to",
        "2021-02-01",
        "-o",
        json.to_str().unwrap(),
        "--non-forecast",
        "cos_lat",
        "--forecast",
        "t2m",
    ]);
    assert!(!empty.status.success());
    assert!(String::from_utf8_lossy(&empty.stderr).contains("holds no usable time"));

    // NaN in a field: only `--values` reads the data and finds it.
    let nan_dir = dir.join("nan");
    std::fs::create_dir_all(&nan_dir).unwrap();
    let mut v = values("t2m", None, &grid, &ts[..1]);
    v[40] = f32::NAN;
    let var = VarData {
        name: "t2m".into(),
        units: "K".into(),
        levels: None,
        values: v,
    };
    write_era5(
        &nan_dir.join("t2m.nc"),
        &grid,
        &ts[..1],
        &[var],
        &WriteOptions::old_cds(),
    )
    .unwrap();
    let nd = nan_dir.to_str().unwrap();
    assert!(fastnet(&["data", "inspect", nd]).status.success());
    let checked = fastnet(&["data", "inspect", "--values", nd]);
    let err = String::from_utf8_lossy(&checked.stderr);
    assert!(!checked.status.success());
    assert!(
        err.contains("problem: t2m in") && err.contains("1 missing values"),
        "{err}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn regrid_to_o8_then_inspect_and_stats_on_the_output() {
    let _serial = netcdf_serial();
    let dir = scratch_dir("cli-regrid");
    let grid = Grid::equiangular(19, 36, true).unwrap();
    let ts: Vec<i64> = (0..2).map(|k| T0 + 6 * 3600 * k).collect();
    write_synthetic(
        &dir.join("pl.nc"),
        &grid,
        &ts,
        &["z", "t"],
        &[500, 850],
        &WriteOptions::old_cds(),
    )
    .unwrap();
    write_synthetic(
        &dir.join("sfc.nc"),
        &grid,
        &ts,
        &["t2m"],
        &[],
        &WriteOptions::new_cds(),
    )
    .unwrap();
    let out = dir.join("o8");
    let run = fastnet(&[
        "data",
        "regrid",
        "--grid",
        "o8",
        "--method",
        "conservative",
        dir.join("pl.nc").to_str().unwrap(),
        dir.join("sfc.nc").to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ]);
    let text = String::from_utf8_lossy(&run.stdout);
    assert!(
        run.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&run.stderr)
    );
    // 2 variables x 2 levels x 2 times + 2 times
    assert!(
        text.contains("regridded 10 fields in 2 files") && text.contains("O8"),
        "{text}"
    );
    let inspected = fastnet(&["data", "inspect", out.to_str().unwrap()]);
    let text = String::from_utf8_lossy(&inspected.stdout);
    assert!(inspected.status.success(), "{text}");
    assert!(
        text.contains("octahedral reduced Gaussian O8 (16 rings, 544 points)"),
        "{text}"
    );
    let json = dir.join("stats.json");
    let stats = fastnet(&[
        "stats",
        "--data",
        out.to_str().unwrap(),
        "--from",
        "2020-01-01",
        "--to",
        "2020-01-01T06",
        "-o",
        json.to_str().unwrap(),
        "--non-forecast",
        "cos_lat",
        "--forecast",
        "z500,t2m",
    ]);
    assert!(
        stats.status.success(),
        "{}",
        String::from_utf8_lossy(&stats.stderr)
    );
    assert!(Stats::load(&json).unwrap().grid.contains("O8"));
    // a file already on O8 is refused with its name
    let again = fastnet(&[
        "data",
        "regrid",
        "--grid",
        "o16",
        out.join("sfc.nc").to_str().unwrap(),
        "-o",
        dir.join("o16").to_str().unwrap(),
    ]);
    let err = String::from_utf8_lossy(&again.stderr);
    assert!(!again.status.success());
    assert!(err.contains("already on a Gaussian grid"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}
