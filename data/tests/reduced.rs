//! Reduced Gaussian grids in files: anemoi-inference's layout (a point
//! dimension `values` with per-point `latitude`/`longitude`) written and read
//! back, an independently written file (ncgen), features and statistics on
//! such data, and one test per way a `values` file can be wrong.

use std::path::Path;
use std::sync::Arc;

use fastnet_data::channels::ChannelSet;
use fastnet_data::features::FeatureReader;
use fastnet_data::fixture::{scratch_dir, value, values, write_synthetic};
use fastnet_data::inspect::inspect;
use fastnet_data::scan::gaussian_grid_of;
use fastnet_data::time::{parse_date, HOUR};
use fastnet_data::writer::{write_era5, Encoding, VarData, WriteOptions};
use fastnet_data::{DataError, Dataset};
use fastnet_mesh::Grid;

/// One test at a time (see tests/reader.rs: concurrent HDF5 opens).
fn serial() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

fn times(n: usize) -> Vec<i64> {
    let t0 = parse_date("2020-01-01").unwrap();
    (0..n as i64).map(|k| t0 + 6 * HOUR * k).collect()
}

const LEVELS: &[u32] = &[500, 850];

#[test]
fn gaussian_files_of_every_layout_read_back_in_point_order() {
    let _serial = serial();
    let dir = scratch_dir("reduced-layouts");
    let ts = times(2);
    let vars = ["z", "t", "t2m"];
    for grid in [
        Grid::octahedral(12).unwrap(),
        Grid::regular_gaussian(8).unwrap(),
    ] {
        for (name, opts, tol) in [
            ("old_packed", WriteOptions::old_cds(), 2e-4),
            (
                "old_nc3",
                WriteOptions {
                    netcdf3: true,
                    ..WriteOptions::old_cds()
                },
                2e-4,
            ),
            ("new_float", WriteOptions::new_cds(), 1e-7),
            (
                "new_signed_lon",
                WriteOptions {
                    lon_signed: true,
                    ..WriteOptions::new_cds()
                },
                1e-7,
            ),
        ] {
            let path = dir.join(format!("{name}_{}.nc", grid.spec().unwrap()));
            write_synthetic(&path, &grid, &ts, &vars, LEVELS, &opts).unwrap();
            let ds = Dataset::open(&[&path]).unwrap();
            assert_eq!(ds.grid, grid, "{name}");
            assert_eq!(ds.files[0].grid_dims, ["values"]);
            assert_eq!(ds.times, ts);
            assert_eq!(ds.vars["t"].levels.as_deref(), Some(LEVELS));
            let pts = grid.point_lat_lon();
            let mut out = vec![0f32; grid.len()];
            for &v in &vars {
                let levels: Vec<Option<u32>> = match &ds.vars[v].levels {
                    Some(l) => l.iter().map(|&x| Some(x)).collect(),
                    None => vec![None],
                };
                for &t in &ts {
                    for &l in &levels {
                        ds.read_field(v, l, t, &mut out).unwrap();
                        let want: Vec<f32> = pts
                            .iter()
                            .map(|&(la, lo)| value(v, l.unwrap_or(0), t, la, lo))
                            .collect();
                        let range = want.iter().fold(0f32, |a, &b| a.max(b.abs())) as f64;
                        for (k, (a, b)) in out.iter().zip(&want).enumerate() {
                            assert!(
                                ((a - b).abs() as f64) <= tol * range + 1e-6 * b.abs() as f64,
                                "{name} {v} {l:?} point {k}: {a} vs {b}"
                            );
                        }
                    }
                }
            }
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// An O2 file written by netCDF's `ncgen` from CDL, with latitudes from the
/// closed form (the roots of P_4: x = ±√(3/7 ∓ (2/7)√(6/5))), longitudes
/// given in [-180, 180) as anemoi/earthkit sometimes write them, and
/// `valid_time` in seconds. Skipped without ncgen.
#[test]
fn an_o2_file_written_by_ncgen_reads_back() {
    let _serial = serial();
    let dir = scratch_dir("reduced-ncgen");
    let x1 = (3.0 / 7.0 - 2.0 / 7.0 * (6.0f64 / 5.0).sqrt()).sqrt();
    let x2 = (3.0 / 7.0 + 2.0 / 7.0 * (6.0f64 / 5.0).sqrt()).sqrt();
    let rings = [(x2, 20usize), (x1, 24), (-x1, 24), (-x2, 20)];
    let (mut lat, mut lon, mut data) = (Vec::new(), Vec::new(), Vec::new());
    for &(x, len) in &rings {
        for k in 0..len {
            lat.push(format!("{:.12}", x.asin().to_degrees()));
            let l = 360.0 * k as f64 / len as f64;
            lon.push(format!("{}", if l >= 180.0 { l - 360.0 } else { l }));
        }
    }
    for t in 0..2 {
        for k in 0..88 {
            data.push(format!("{}", 1000 * t + k));
        }
    }
    let text = format!(
        "netcdf o2 {{\ndimensions:\n valid_time = 2 ; values = 88 ;\nvariables:\n \
         int64 valid_time(valid_time) ; valid_time:units = \"seconds since 1970-01-01\" ;\n \
         double latitude(values) ; latitude:units = \"degrees_north\" ;\n \
         double longitude(values) ; longitude:units = \"degrees_east\" ;\n \
         float t2m(valid_time, values) ; t2m:units = \"K\" ;\ndata:\n \
         valid_time = 1577836800, 1577858400 ;\n latitude = {} ;\n longitude = {} ;\n t2m = {} ;\n}}\n",
        lat.join(", "),
        lon.join(", "),
        data.join(", ")
    );
    let cdl = dir.join("o2.cdl");
    let nc = dir.join("o2.nc");
    std::fs::write(&cdl, text).unwrap();
    let made = std::process::Command::new("ncgen")
        .args(["-4", "-o", nc.to_str().unwrap(), cdl.to_str().unwrap()])
        .status();
    if !made.is_ok_and(|s| s.success()) {
        eprintln!("ncgen not available: skipped");
        return;
    }
    let ds = Dataset::open(&[&nc]).unwrap();
    assert_eq!(ds.grid, Grid::octahedral(2).unwrap());
    assert_eq!(ds.times, vec![1_577_836_800, 1_577_858_400]);
    let mut out = vec![0f32; 88];
    ds.read_field("t2m", None, 1_577_858_400, &mut out).unwrap();
    for (k, &v) in out.iter().enumerate() {
        assert_eq!(v, (1000 + k) as f32, "point {k}");
    }
    let report = inspect(&[&nc]);
    assert!(report.problems.is_empty(), "{:?}", report.problems);
    assert_eq!(
        report.files[0].grid,
        "octahedral reduced Gaussian O2 (4 rings, 88 points)"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn features_and_statistics_on_a_gaussian_grid_use_its_points_and_weights() {
    let _serial = serial();
    let dir = scratch_dir("reduced-features");
    let grid = Grid::octahedral(8).unwrap();
    let ts = times(2);
    write_synthetic(
        &dir.join("sfc.nc"),
        &grid,
        &ts,
        &["t2m"],
        &[],
        &WriteOptions::new_cds(),
    )
    .unwrap();
    let ds = Arc::new(Dataset::open(&[&dir]).unwrap());
    let set = ChannelSet::from_names(&["cos_lat", "sin_lon"], &["t2m"]).unwrap();
    let reader = FeatureReader::new(ds.clone(), set).unwrap();
    let mut state = vec![0f32; grid.len() * 3];
    reader.state(ts[1], 0..3, &mut state).unwrap();
    for (g, &(la, lo)) in grid.point_lat_lon().iter().enumerate() {
        assert!((state[g * 3] as f64 - la.to_radians().cos()).abs() < 1e-6);
        assert!((state[g * 3 + 1] as f64 - lo.to_radians().sin()).abs() < 1e-6);
        assert!((state[g * 3 + 2] - value("t2m", 0, ts[1], la, lo)).abs() < 1e-3);
    }
    // The mean of t2m weighted independently: Gauss–Legendre weight of the
    // ring over its number of points.
    let s = fastnet_data::stats::compute(&reader, ts[0], ts[1], 6, &mut |_, _| {}).unwrap();
    let (_, w) = fastnet_mesh::gaussian::gauss_legendre(16);
    let rings = grid.rings().unwrap();
    let mut num = 0.0;
    let mut den = 0.0;
    let pts = grid.point_lat_lon();
    for &t in &ts {
        for (r, &wr) in w.iter().enumerate() {
            for &(la, lo) in &pts[rings.offsets[r]..rings.offsets[r + 1]] {
                let wp = wr / rings.lengths[r] as f64;
                num += wp * value("t2m", 0, t, la, lo) as f64;
                den += wp;
            }
        }
    }
    let t2m = &s.channels[2];
    assert!(
        (t2m.mean - num / den).abs() < 1e-4,
        "{} vs {}",
        t2m.mean,
        num / den
    );
    assert!(s.grid.contains("O8"), "{}", s.grid);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn missing_values_on_a_gaussian_grid_name_the_point() {
    let _serial = serial();
    let dir = scratch_dir("reduced-nan");
    let grid = Grid::octahedral(8).unwrap();
    let ts = times(1);
    let mut vals = values("t2m", None, &grid, &ts);
    let p = 100;
    vals[p] = f32::NAN;
    let path = dir.join("nan.nc");
    let var = VarData {
        name: "t2m".into(),
        units: "K".into(),
        levels: None,
        values: vals,
    };
    let opts = WriteOptions {
        encoding: Encoding::PackedInt16,
        ..WriteOptions::old_cds()
    };
    write_era5(&path, &grid, &ts, &[var], &opts).unwrap();
    let ds = Dataset::open(&[&path]).unwrap();
    let mut out = vec![0f32; grid.len()];
    let e = ds.read_field("t2m", None, ts[0], &mut out).unwrap_err();
    let (la, lo) = grid.point_lat_lon()[p];
    assert!(
        matches!(e, DataError::MissingValues { count: 1, lat, lon, .. }
            if lat == la as f32 && lon == lo as f32),
        "{e}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

// ---- bad reduced grids: one test per way ----

fn coords(grid: &Grid) -> (Vec<f64>, Vec<f64>) {
    grid.point_lat_lon().into_iter().unzip()
}

fn refused(lat: &[f64], lon: &[f64]) -> String {
    let e = gaussian_grid_of(Path::new("x.nc"), lat, lon).unwrap_err();
    assert!(matches!(e, DataError::ReducedGrid { .. }), "{e}");
    let m = e.to_string();
    eprintln!("{m}");
    assert!(m.starts_with("x.nc: point dimension `values`: "), "{m}");
    m
}

#[test]
fn ring_structures_that_are_not_gaussian_are_refused_with_what_was_found() {
    let o12 = Grid::octahedral(12).unwrap();
    let rings = o12.rings().unwrap();
    let (lat, lon) = coords(&o12);
    assert_eq!(
        gaussian_grid_of(Path::new("x.nc"), &lat, &lon).unwrap(),
        o12
    );

    // a point short on ring 3 (28 points on O12)
    let cut = rings.offsets[3] - 1;
    let (mut la, mut lo) = (lat.clone(), lon.clone());
    la.remove(cut);
    lo.remove(cut);
    let m = refused(&la, &lo);
    assert!(
        m.contains("ring 3 (from the north, of 24) has 27 points"),
        "{m}"
    );
    assert!(
        m.contains("expected 28, as on the octahedral grid O12"),
        "{m}"
    );

    // a ring too few: 23 latitudes
    let end = rings.offsets[23];
    let m = refused(&lat[..end], &lon[..end]);
    assert!(m.contains("23 distinct latitudes"), "{m}");

    // latitudes 0.01° off
    let shifted: Vec<f64> = lat.iter().map(|x| x - 0.01).collect();
    let m = refused(&shifted, &lon);
    assert!(m.contains("latitudes are not those of O12: ring 1"), "{m}");

    // south to north
    let (rl, ro): (Vec<f64>, Vec<f64>) = (lat.iter().rev().copied().collect(), lon.clone());
    let m = refused(&rl, &ro);
    assert!(
        m.contains("ordered ring by ring from north to south"),
        "{m}"
    );

    // a ring's longitudes descending
    let mut lo = lon.clone();
    lo[rings.offsets[5]..rings.offsets[6]].reverse();
    let m = refused(&lat, &lo);
    assert!(
        m.contains("ring 6 (from the north)") && m.contains("360·k/"),
        "{m}"
    );

    // a 2° lat-lon grid without poles flattened: 90 rings of 180 = N45's
    // ring length, but not its latitudes
    let ll = Grid::equiangular(90, 180, false).unwrap();
    let (la, lo) = coords(&ll);
    let m = refused(&la, &lo);
    assert!(m.contains("not those of N45"), "{m}");

    // a regular grid with a point too many on ring 5: the regular pattern
    // fits longer, so it is the one named
    let n8 = Grid::regular_gaussian(8).unwrap();
    let (mut la, mut lo) = coords(&n8);
    la.insert(5 * 32, la[5 * 32 - 1]);
    lo.insert(5 * 32, 359.0);
    let m = refused(&la, &lo);
    assert!(
        m.contains("ring 5 (from the north, of 16) has 33 points")
            && m.contains("expected 32, as on every ring of the regular Gaussian grid N8"),
        "{m}"
    );
    assert!(refused(&lat, &lon[..10]).contains("latitudes and 10 longitudes"));
}

#[test]
fn values_files_with_missing_or_misplaced_coordinates_are_refused() {
    let _serial = serial();
    let dir = scratch_dir("reduced-bad-files");
    let o2 = Grid::octahedral(2).unwrap();
    let (lat, lon) = coords(&o2);
    // (name, whether to write latitude, data dims)
    for (name, with_lat, dims) in [
        ("nolat", false, vec!["time", "values"]),
        ("order", true, vec!["values", "time"]),
    ] {
        let path = dir.join(format!("{name}.nc"));
        {
            let mut f = netcdf::create(&path).unwrap();
            f.add_dimension("time", 1).unwrap();
            f.add_dimension("values", 88).unwrap();
            let mut tv = f.add_variable::<f64>("time", &["time"]).unwrap();
            tv.put_attribute("units", "hours since 2020-01-01").unwrap();
            tv.put_values(&[0.0], ..).unwrap();
            if with_lat {
                let mut v = f.add_variable::<f64>("latitude", &["values"]).unwrap();
                v.put_values(&lat, ..).unwrap();
            }
            let mut v = f.add_variable::<f64>("longitude", &["values"]).unwrap();
            v.put_values(&lon, ..).unwrap();
            let mut v = f.add_variable::<f32>("t2m", &dims).unwrap();
            v.put_values(&vec![280f32; 88], ..).unwrap();
        }
        let e = Dataset::open(&[&path]).err().unwrap();
        let m = e.to_string();
        assert!(m.contains(&format!("{name}.nc")), "{m}");
        match name {
            "nolat" => assert!(
                matches!(e, DataError::ReducedGrid { .. })
                    && m.contains("no coordinate variable latitude or lat"),
                "{m}"
            ),
            _ => assert!(m.contains("with the grid dimensions last"), "{m}"),
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
