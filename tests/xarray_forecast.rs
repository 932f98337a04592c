//! Our forecast file opens in xarray without warnings and decodes to what we
//! wrote: `init_time` and `valid_time` as datetime64, `lead_time` as
//! timedelta64, latitude from 90 to -90, and the field values unchanged.
//!
//! On an octahedral grid the file has one `values` point dimension with
//! per-point latitude and longitude coordinates, as anemoi-inference writes
//! reduced grids; xarray must see those as coordinates of every variable.
//!
//! One test in this binary, so its NetCDF writes need no lock.

use std::process::Command;

use fastnet::forecast::file::{vars_of, ForecastLayout, ForecastWriter};
use fastnet_data::channels::ChannelSet;
use fastnet_data::fixture::scratch_dir;
use fastnet_mesh::Grid;

/// Opens the file with warnings recorded, loads every variable (decoding is
/// lazy), fails on any warning, then checks the decoded values against the
/// expectations passed as JSON. Any failure exits non-zero with a message.
const CHECK: &str = r#"
import json, sys, warnings
try:
    import numpy as np
    import xarray as xr
    import netCDF4  # noqa: F401  (the engine xarray picks for NetCDF-4)
except ImportError as e:
    sys.exit(f"{e}: run scripts/setup.sh (it installs xarray and netCDF4 into the venv)")

path, want = sys.argv[1], json.loads(sys.argv[2])
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    ds = xr.open_dataset(path)
    ds.load()
if caught:
    for w in caught:
        print(f"{w.category.__name__}: {w.message} ({w.filename}:{w.lineno})", file=sys.stderr)
    sys.exit(f"xarray {xr.__version__} warned {len(caught)} time(s) opening {path}")

def check(ok, what):
    if not ok:
        sys.exit(f"{what}\n{ds}")

it = ds["init_time"].values
check(np.issubdtype(it.dtype, np.datetime64), f"init_time decoded to {it.dtype}, not datetime64")
want_it = np.array(want["init_times"], dtype="datetime64[s]")
check(np.array_equal(it, want_it), f"init_time {it} != {want_it}")

lt = ds["lead_time"].values
check(np.issubdtype(lt.dtype, np.timedelta64), f"lead_time decoded to {lt.dtype}, not timedelta64")
want_lt = np.array(want["lead_hours"], dtype="timedelta64[h]")
check(np.array_equal(lt, want_lt), f"lead_time {lt} != {want_lt}")

vt = ds["valid_time"]
check(vt.dims == ("init_time", "lead_time"), f"valid_time dims {vt.dims}")
check(np.issubdtype(vt.dtype, np.datetime64), f"valid_time decoded to {vt.dtype}, not datetime64")
check(np.array_equal(vt.values, want_it[:, None] + want_lt[None, :]), f"valid_time {vt.values} != init + lead")

lat = ds["latitude"].values
check(np.allclose(lat, want["latitudes"], rtol=0, atol=1e-9), f"latitude {lat} != {want['latitudes']}")
check(lat[0] == 90.0 and lat[-1] == -90.0 and np.all(np.diff(lat) < 0), f"latitude not 90 -> -90: {lat}")
check(list(ds["level"].values) == want["levels"], f"level {ds['level'].values} != {want['levels']}")
check(ds.attrs.get("Conventions") == "CF-1.8", f"Conventions {ds.attrs.get('Conventions')!r}")

for var, level, i, l, y, x, value in want["values"]:
    da = ds[var] if level is None else ds[var].sel(level=level)
    check(da.dtype == np.float32, f"{var} is {da.dtype}, not float32")
    got = da.isel(init_time=i, lead_time=l, latitude=y, longitude=x).values
    check(got == np.float32(value), f"{var} level {level} at init {i} lead {l} ({y}, {x}): {got} != {value}")
# t has only 850 hPa; its 500 hPa slot of the shared level axis is fill (NaN)
check(bool(np.isnan(ds["t"].sel(level=500).values).all()), "t at 500 hPa is not all NaN")
"#;

/// The point-dimension layout: dims, per-point coordinates, values by point.
const CHECK_POINTS: &str = r#"
import json, sys, warnings
import numpy as np
import xarray as xr

path, want = sys.argv[1], json.loads(sys.argv[2])
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    ds = xr.open_dataset(path)
    ds.load()
if caught:
    for w in caught:
        print(f"{w.category.__name__}: {w.message} ({w.filename}:{w.lineno})", file=sys.stderr)
    sys.exit(f"xarray {xr.__version__} warned {len(caught)} time(s) opening {path}")

def check(ok, what):
    if not ok:
        sys.exit(f"{what}\n{ds}")

check(ds.attrs.get("grid") == want["grid"], f"grid attribute {ds.attrs.get('grid')!r}")
check(ds.sizes["values"] == len(want["latitudes"]), f"values dimension {ds.sizes}")
for var in ("z", "t2m"):
    da = ds[var]
    check(da.dims[-1] == "values" and "latitude" in da.coords and "longitude" in da.coords,
          f"{var}: dims {da.dims}, coords {list(da.coords)}")
check(np.allclose(ds["latitude"].values, want["latitudes"], rtol=0, atol=1e-9), "latitudes")
check(np.allclose(ds["longitude"].values, want["longitudes"], rtol=0, atol=1e-9), "longitudes")
for var, level, p, value in want["values"]:
    da = ds[var] if level is None else ds[var].sel(level=level)
    got = da.isel(init_time=0, lead_time=0, values=p).values
    check(got == np.float32(value), f"{var} level {level} at point {p}: {got} != {value}")
"#;

fn run_check(python: &str, script: &str, path: &std::path::Path, want: &serde_json::Value) {
    let out = Command::new(python)
        .args(["-c", script, path.to_str().unwrap(), &want.to_string()])
        .output()
        .unwrap_or_else(|e| panic!("running {python}: {e} (run scripts/setup.sh)"));
    assert!(
        out.status.success(),
        "{python}: xarray check of {} failed ({}):\n{}{}",
        path.display(),
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn forecast_file_opens_in_xarray_without_warnings() {
    let python = std::env::var("FASTNET_PYTHON").expect(
        "FASTNET_PYTHON is not set: run scripts/setup.sh (it installs xarray and netCDF4 \
         and writes .cargo/config.toml)",
    );
    let dir = scratch_dir("xarray-forecast");
    let set = ChannelSet::from_names(&["cos_lat"], &["z500", "z850", "t850", "t2m"]).unwrap();
    let grid = Grid::from_spec("latlon:30").unwrap(); // 7 x 12, with the poles
    let (nlat, nlon) = (grid.shape()[0], grid.shape()[1]);
    let init_times = vec![1_577_836_800i64, 1_577_858_400]; // 2020-01-01 00 and 06 UTC
    let lead_hours = vec![6i64, 12, 18];
    let layout = ForecastLayout {
        grid: grid.clone(),
        vars: vars_of(&set).unwrap(),
        init_times: init_times.clone(),
        lead_hours: lead_hours.clone(),
        attributes: vec![("checkpoint".into(), "ckpt-00000010.json".into())],
    };
    let path = dir.join("forecast.nc");
    let n_channels = 4;
    let value = |i: usize, l: usize, p: usize, c: usize| {
        (1000 * i + 100 * l + 10 * c) as f32 + p as f32 / 100.0
    };
    let mut w = ForecastWriter::create(&path, layout, &set).unwrap();
    for i in 0..init_times.len() {
        for l in 0..lead_hours.len() {
            let state: Vec<f32> = (0..grid.len())
                .flat_map(|p| (0..n_channels).map(move |c| value(i, l, p, c)))
                .collect();
            w.write(i, l, &state).unwrap();
        }
    }
    w.finish().unwrap();

    // (variable, level, init, lead, latitude row, longitude column, value);
    // channel c: 0 z500, 1 z850, 2 t850, 3 t2m
    let at = |var: &str, level: Option<u32>, c: usize, i: usize, l: usize, y: usize, x: usize| {
        serde_json::json!([var, level, i, l, y, x, value(i, l, y * nlon + x, c) as f64])
    };
    let want = serde_json::json!({
        "init_times": init_times,
        "lead_hours": lead_hours,
        "latitudes": grid.latitudes_deg(),
        "levels": [500, 850],
        "values": [
            at("z", Some(850), 1, 1, 2, 3, 7),
            at("z", Some(500), 0, 0, 1, nlat - 1, nlon - 1),
            at("t", Some(850), 2, 1, 0, 0, 5),
            at("t2m", None, 3, 0, 2, 5, 11),
        ],
    });
    run_check(&python, CHECK, &path, &want);

    // the same on O8, on one `values` point dimension
    let set = ChannelSet::from_names(&[], &["z500", "t2m"]).unwrap();
    let grid = Grid::from_spec("o8").unwrap();
    let layout = ForecastLayout {
        grid: grid.clone(),
        vars: vars_of(&set).unwrap(),
        init_times: vec![init_times[0]],
        lead_hours: vec![6],
        attributes: vec![],
    };
    let path = dir.join("forecast_o8.nc");
    let mut w = ForecastWriter::create(&path, layout, &set).unwrap();
    let state: Vec<f32> = (0..grid.len())
        .flat_map(|p| (0..2).map(move |c| value(0, 0, p, c)))
        .collect();
    w.write(0, 0, &state).unwrap();
    w.finish().unwrap();
    let want = serde_json::json!({
        "grid": "O8",
        "latitudes": grid.latitudes_deg(),
        "longitudes": grid.longitudes_deg(),
        "values": [
            ["z", 500, 0, value(0, 0, 0, 0) as f64],
            ["z", 500, 321, value(0, 0, 321, 0) as f64],
            ["t2m", null, grid.len() - 1, value(0, 0, grid.len() - 1, 1) as f64],
        ],
    });
    run_check(&python, CHECK_POINTS, &path, &want);
    if std::env::var_os("FASTNET_KEEP_TEST_OUTPUT").is_none() {
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
