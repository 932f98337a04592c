//! `fastnet forecast --format netcdf|zarr --layout fastnet|wb2`: every
//! combination opens in xarray with warnings as errors; the Zarr store has
//! the same variables, coordinates, attributes and values as the NetCDF
//! forecast; the WeatherBench2 layout has `time` as datetime64,
//! `prediction_timedelta` as timedelta64, ascending latitude, integer
//! levels and CDS long names, with the NetCDF forecast's values (rows
//! flipped); a persistence forecast in WB2 layout equals the input data.
//! Bad requests are one `error:` line; an incomplete or dropped output
//! leaves nothing behind.

mod common;
use common::run::{prepare, s};
use common::{fastnet, ok};

use std::path::Path;
use std::process::Command;
use std::sync::Mutex;

use fastnet::forecast::file::{vars_of, ForecastLayout};
use fastnet::forecast::sink::{ForecastOutput, ForecastSink, OutputFormat, OutputLayout};
use fastnet_data::channels::ChannelSet;
use fastnet_data::fixture::scratch_dir;
use fastnet_mesh::Grid;

/// HDF5 is not thread-safe: in-process NetCDF writes take this lock.
static NETCDF: Mutex<()> = Mutex::new(());

const CHECK: &str = r#"
import json, sys, warnings
warnings.simplefilter("error")
try:
    import numpy as np
    import xarray as xr
    import zarr  # noqa: F401
except ImportError as e:
    sys.exit(f"{e}: run scripts/setup.sh")
if zarr.__version__.startswith("2.") and tuple(map(int, xr.__version__.split(".")[:2])) >= (2026, 9):
    sys.exit(f"xarray {xr.__version__} cannot open Zarr with zarr {zarr.__version__} (xarray 2026.9 "
             "dropped zarr-python 2): run scripts/setup.sh, which installs xarray<2026.9 beside zarr 2.18")

nc, zs, wnc, wzs, pers, era5, want = sys.argv[1:8]
want = json.loads(want)

def fail(what):
    sys.exit(what)

def same_attr(a, b):
    return np.array_equal(np.atleast_1d(a), np.atleast_1d(b))

ref = xr.open_dataset(nc).load()
z = xr.open_zarr(zs).load()
if set(ref.variables) != set(z.variables) or set(ref.coords) != set(z.coords):
    fail(f"zarr variables {sorted(z.variables)} coords {sorted(z.coords)} != "
         f"netcdf {sorted(ref.variables)} {sorted(ref.coords)}")
if ref.attrs != z.attrs:
    fail(f"global attributes differ: {ref.attrs} != {z.attrs}")
for name in ref.variables:
    a, b = ref[name], z[name]
    if a.dims != b.dims or a.dtype != b.dtype:
        fail(f"{name}: {a.dims} {a.dtype} in NetCDF, {b.dims} {b.dtype} in Zarr")
    if not np.array_equal(a.values, b.values, equal_nan=a.dtype.kind == "f"):
        fail(f"{name}: values differ between NetCDF and Zarr")
    if set(a.attrs) != set(b.attrs) or not all(same_attr(a.attrs[k], b.attrs[k]) for k in a.attrs):
        fail(f"{name}: attributes {a.attrs} != {b.attrs}")
    enc = z[name].encoding
    if name in ref.data_vars:
        if enc.get("chunks") != (1, 1) + (1,) * ("level" in a.dims) + a.shape[-2:]:
            fail(f"{name}: chunks {enc.get('chunks')}, not one field per chunk")
        if "blosc" not in str(enc.get("compressor")).lower():
            fail(f"{name}: compressor {enc.get('compressor')}")
for lev in want["nan_levels"]:
    v, l = lev
    if not np.isnan(ref[v].sel(level=l).values).all():
        fail(f"{v} at {l} hPa is not NaN")

names = want["wb2_names"]
for path, opener in ((wnc, xr.open_dataset), (wzs, xr.open_zarr)):
    w = opener(path).load()
    if dict(w.sizes) != {"time": ref.sizes["init_time"], "prediction_timedelta": ref.sizes["lead_time"],
                         "level": ref.sizes["level"], "latitude": ref.sizes["latitude"],
                         "longitude": ref.sizes["longitude"]}:
        fail(f"{path}: dims {dict(w.sizes)}")
    if sorted(w.data_vars) != sorted(names.values()):
        fail(f"{path}: variables {sorted(w.data_vars)} != {sorted(names.values())}")
    t, dt = w["time"].values, w["prediction_timedelta"].values
    if not np.issubdtype(t.dtype, np.datetime64) or not np.array_equal(t, ref["init_time"].values):
        fail(f"{path}: time {t} ({t.dtype}) != init_time {ref['init_time'].values}")
    if not np.issubdtype(dt.dtype, np.timedelta64) or not np.array_equal(dt, ref["lead_time"].values):
        fail(f"{path}: prediction_timedelta {dt} ({dt.dtype}) != lead_time {ref['lead_time'].values}")
    lat = w["latitude"].values
    if not (np.all(np.diff(lat) > 0) and np.array_equal(lat, ref["latitude"].values[::-1])):
        fail(f"{path}: latitude {lat} is not ascending or not the forecast's")
    if not np.array_equal(w["longitude"].values, ref["longitude"].values):
        fail(f"{path}: longitude")
    if w["level"].dtype.kind != "i" or list(w["level"].values) != list(ref["level"].values):
        fail(f"{path}: level {w['level'].values} ({w['level'].dtype})")
    for short, long in names.items():
        a = ref[short]
        b = w[long].rename(time="init_time", prediction_timedelta="lead_time")
        if b.dims != a.dims:
            fail(f"{path}: {long} dims {w[long].dims}")
        if not np.array_equal(a.values, b.values[..., ::-1, :], equal_nan=True):
            fail(f"{path}: {long} differs from the NetCDF forecast's {short} (rows flipped)")
        if w[long].attrs.get("short_name") != short or w[long].attrs.get("units") != a.attrs.get("units"):
            fail(f"{path}: {long} attributes {w[long].attrs}")
    if path == wzs:
        if "blosc" not in str(w[names["z"]].encoding.get("compressor")).lower():
            fail(f"{path}: not compressed")

# persistence in WB2 layout: every lead is the input state at the init time
p = xr.open_zarr(pers).load()
with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # the input file is not under test here
    e = xr.open_dataset(era5).load()
e = e.rename({k: v for k, v in (("valid_time", "time"), ("pressure_level", "level")) if k in e.dims})
for short, long in names.items():
    field = p[long]
    for i, t0 in enumerate(p["time"].values):
        truth = e[short].sel(time=t0)
        if "level" in field.dims:
            for lev in want["levels_of"][short]:
                got = field.isel(time=i).sel(level=lev)
                exp = truth.sel(level=lev).sortby("latitude")
                for k in range(field.sizes["prediction_timedelta"]):
                    if not np.array_equal(got.isel(prediction_timedelta=k).values, exp.values.astype(np.float32)):
                        fail(f"persistence {long} {lev} hPa lead {k} != input at {t0}")
        else:
            exp = truth.sortby("latitude").values.astype(np.float32)
            for k in range(field.sizes["prediction_timedelta"]):
                if not np.array_equal(field.isel(time=i, prediction_timedelta=k).values, exp):
                    fail(f"persistence {long} lead {k} != input at {t0}")
print("ok")
warnings.simplefilter("default")  # interpreter shutdown is not under test
"#;

/// Our layout on a Gaussian grid as Zarr: one `values` dimension with
/// per-point latitude and longitude coordinates, as in NetCDF.
const CHECK_POINTS: &str = r#"
import json, sys, warnings
warnings.simplefilter("error")
import numpy as np
import xarray as xr

path, want = sys.argv[1], json.loads(sys.argv[2])
ds = xr.open_zarr(path).load()
def check(ok, what):
    if not ok:
        sys.exit(f"{what}\n{ds}")
check(ds.attrs.get("grid") == "O16", f"grid attribute {ds.attrs.get('grid')!r}")
for var, level, absent in (("z", 500, 850), ("t", 850, 500), ("t2m", None, None)):
    da = ds[var]
    check(da.dims[-1] == "values" and "latitude" in da.coords and "longitude" in da.coords,
          f"{var}: dims {da.dims}, coords {list(da.coords)}")
    if level is not None:
        check(bool(np.isnan(da.sel(level=absent).values).all()), f"{var} at {absent} hPa is not NaN")
        da = da.sel(level=level)
    check(bool((da.values == np.float32(1.5)).all()), f"{var} is not 1.5 everywhere")
check(np.array_equal(ds["latitude"].values, want["latitudes"]), "latitudes")
check(np.array_equal(ds["longitude"].values, want["longitudes"]), "longitudes")
check(np.issubdtype(ds["valid_time"].dtype, np.datetime64), "valid_time not datetime64")
warnings.simplefilter("default")
"#;

fn python(script: &str, args: &[String]) {
    let py = std::env::var("FASTNET_PYTHON")
        .expect("FASTNET_PYTHON is not set: run scripts/setup.sh (it writes .cargo/config.toml)");
    let out = Command::new(&py)
        .arg("-c")
        .arg(script)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("running {py}: {e}"));
    assert!(
        out.status.success(),
        "xarray check failed ({}):\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `fastnet ARGS` fails with exactly one line, an `error:` line holding
/// every one of `needles`.
fn one_error_line(args: &[&str], needles: &[&str]) {
    let r = fastnet(args);
    let err = String::from_utf8_lossy(&r.stderr);
    assert!(!r.status.success(), "fastnet {args:?} succeeded");
    let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "not one line: {err}");
    assert!(lines[0].starts_with("error: "), "{err}");
    for n in needles {
        assert!(lines[0].contains(n), "`{n}` missing from: {err}");
    }
}

/// Nothing in `dir` but `keep`: no temporary output left behind.
fn only(dir: &Path, keep: &[&str]) {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    let mut want: Vec<String> = keep.iter().map(|s| s.to_string()).collect();
    want.sort();
    assert_eq!(names, want, "in {}", dir.display());
}

#[test]
fn forecasts_in_every_format_and_layout_open_in_xarray_with_the_same_values() {
    let dir = scratch_dir("forecast-formats");
    let config = {
        let _lock = NETCDF.lock().unwrap_or_else(|e| e.into_inner());
        let train = "batch_size = 2\nsteps = 2\nvalid_interval = 0\ndevice = \"cpu\"\nthreads = 1\ncheckpoint_interval = 2";
        prepare(&dir, "", train)
    };
    ok(&["train", "--config", &s(&config)]);
    let ckpt = s(&dir.join("checkpoints"));
    let data = s(&dir.join("era5.nc"));
    let run = |extra: &[&str], out: &str| -> String {
        let out = s(&dir.join(out));
        let mut args = vec!["forecast", "--checkpoint", &ckpt, "--data", &data];
        args.extend(["--init", "2020-01-02T00,2020-01-02T12", "--steps", "2"]);
        args.extend(["--device", "cpu", "-o", &out]);
        args.extend(extra);
        ok(&args)
    };
    run(&[], "fc.nc");
    let said = run(&[], "fc.zarr");
    assert!(said.contains("(Zarr store)"), "{said}");
    run(&["--format", "zarr"], "fc2.zarr");
    let said = run(&["--layout", "wb2"], "wb2.nc");
    assert!(said.contains("(NetCDF (WeatherBench2 layout))"), "{said}");
    run(&["--layout", "wb2", "--format", "zarr"], "wb2.zarr");
    run(&["--layout", "wb2", "--persistence"], "persistence.zarr");
    // a second run replaces an earlier store
    run(&[], "fc2.zarr");
    let want = serde_json::json!({
        "wb2_names": {
            "z": "geopotential", "t": "temperature", "u": "u_component_of_wind",
            "v": "v_component_of_wind", "t2m": "2m_temperature",
            "u10": "10m_u_component_of_wind", "v10": "10m_v_component_of_wind",
        },
        "levels_of": {"z": [500], "t": [850], "u": [850], "v": [850]},
        "nan_levels": [["z", 850], ["t", 500], ["u", 500], ["v", 500]],
    });
    let args: Vec<String> = [
        "fc.nc",
        "fc2.zarr",
        "wb2.nc",
        "wb2.zarr",
        "persistence.zarr",
    ]
    .iter()
    .map(|f| s(&dir.join(f)))
    .chain([data.clone(), want.to_string()])
    .collect();
    python(CHECK, &args);

    // our own reader scores all four alike (rows sorted: a Zarr store lists
    // its variables by name)
    let scores = |f: &str| -> Vec<String> {
        let out = dir.join(format!("eval-{f}"));
        ok(&[
            "eval",
            "--forecast",
            &format!("m={}", s(&dir.join(f))),
            "--truth",
            &data,
            "-o",
            &s(&out),
        ]);
        let mut rows: Vec<String> = std::fs::read_to_string(out.join("scores.csv"))
            .unwrap()
            .lines()
            .map(String::from)
            .collect();
        rows.sort();
        rows
    };
    let reference = scores("fc.nc");
    assert!(reference.len() > 10, "{reference:?}");
    for f in ["fc2.zarr", "wb2.nc", "wb2.zarr"] {
        assert_eq!(scores(f), reference, "fastnet eval of {f}");
    }

    // bad requests: one error line each, nothing written
    let base = |out: &Path| {
        vec![
            "forecast".to_string(),
            "--checkpoint".into(),
            ckpt.clone(),
            "--data".into(),
            data.clone(),
            "--init".into(),
            "2020-01-02T00".into(),
            "--steps".into(),
            "1".into(),
            "-o".into(),
            s(out),
        ]
    };
    let with = |out: &Path, extra: &[&str]| {
        let mut a = base(out);
        a.extend(extra.iter().map(|x| x.to_string()));
        a
    };
    let bad = dir.join("bad");
    std::fs::create_dir_all(&bad).unwrap();
    let a = with(&bad.join("x.zarr"), &["--format", "netcdf"]);
    let a: Vec<&str> = a.iter().map(String::as_str).collect();
    one_error_line(&a, &["--format netcdf", "x.zarr", "*.zarr"]);
    let a = with(&bad.join("x.nc"), &["--format", "zarr"]);
    let a: Vec<&str> = a.iter().map(String::as_str).collect();
    one_error_line(&a, &["--format zarr", "x.nc", "*.zarr"]);
    let a = with(&bad.join("x.zarr"), &["--layout", "wb3"]);
    let a: Vec<&str> = a.iter().map(String::as_str).collect();
    let r = fastnet(&a);
    assert!(!r.status.success() && String::from_utf8_lossy(&r.stderr).contains("wb2"));
    // a folder that is not a Zarr store is never replaced
    let not_a_store = bad.join("mine.zarr");
    std::fs::create_dir_all(&not_a_store).unwrap();
    std::fs::write(not_a_store.join("notes.txt"), "keep me").unwrap();
    let a = base(&not_a_store);
    let a: Vec<&str> = a.iter().map(String::as_str).collect();
    one_error_line(&a, &["mine.zarr", "is not a Zarr store"]);
    assert_eq!(
        std::fs::read_to_string(not_a_store.join("notes.txt")).unwrap(),
        "keep me"
    );
    only(&bad, &["mine.zarr"]);
}

fn layout(grid: &Grid, set: &ChannelSet) -> ForecastLayout {
    ForecastLayout {
        grid: grid.clone(),
        vars: vars_of(set).unwrap(),
        init_times: vec![1_577_836_800, 1_577_858_400],
        lead_hours: vec![6, 12, 18],
        attributes: vec![],
    }
}

fn output(dir: &Path, name: &str, format: OutputFormat, layout: OutputLayout) -> ForecastOutput {
    ForecastOutput::resolve(&dir.join(name), Some(format), layout).unwrap()
}

#[test]
fn wb2_refuses_gaussian_grids_and_unfinished_outputs_leave_nothing() {
    let _lock = NETCDF.lock().unwrap_or_else(|e| e.into_inner());
    let dir = scratch_dir("forecast-formats-atomic");
    let set = ChannelSet::from_names(&["cos_lat"], &["z500", "t850", "t2m"]).unwrap();
    let o16 = Grid::octahedral(16).unwrap();
    for (name, format) in [
        ("g.nc", OutputFormat::Netcdf),
        ("g.zarr", OutputFormat::Zarr),
    ] {
        let out = output(&dir, name, format, OutputLayout::Wb2);
        let e = ForecastSink::create(&out, layout(&o16, &set), &set)
            .err()
            .expect("wb2 on a Gaussian grid is refused");
        let e = format!("{e:#}");
        assert!(
            e.contains("--layout wb2") && e.contains("latitude-longitude") && e.contains("O16"),
            "{e}"
        );
    }
    // our layout on the same grid writes a Zarr store
    let out = output(&dir, "o16.zarr", OutputFormat::Zarr, OutputLayout::Fastnet);
    let mut w = ForecastSink::create(&out, layout(&o16, &set), &set).unwrap();
    let state = vec![1.5f32; o16.len() * 3];
    for i in 0..2 {
        for l in 0..3 {
            w.write(i, l, &state).unwrap();
        }
    }
    w.finish().unwrap();
    assert!(dir.join("o16.zarr/.zmetadata").is_file());
    assert!(dir.join("o16.zarr/z/0.0.0.0").is_file());
    python(
        CHECK_POINTS,
        &[
            s(&dir.join("o16.zarr")),
            serde_json::json!({
                "latitudes": o16.latitudes_deg(), "longitudes": o16.longitudes_deg(),
            })
            .to_string(),
        ],
    );

    // incomplete: refused at finish, dropped: removed; nothing left either way
    let grid = Grid::from_spec("latlon:30").unwrap();
    let g = grid.len();
    for format in [OutputFormat::Netcdf, OutputFormat::Zarr] {
        for kind in [OutputLayout::Fastnet, OutputLayout::Wb2] {
            let name = match format {
                OutputFormat::Netcdf => "part.nc",
                OutputFormat::Zarr => "part.zarr",
            };
            let out = output(&dir, name, format, kind);
            let mut w = ForecastSink::create(&out, layout(&grid, &set), &set).unwrap();
            w.write(0, 0, &vec![0.0; g * 3]).unwrap();
            let e = format!("{:#}", w.write(0, 0, &[0.0; 5]).unwrap_err());
            assert!(e.contains("expected 84 points x 3 channels"), "{e}");
            let e = format!("{:#}", w.finish().unwrap_err());
            assert!(e.contains("only 1 of 6 forecast states"), "{e}");
            let mut w = ForecastSink::create(&out, layout(&grid, &set), &set).unwrap();
            w.write(1, 2, &vec![0.0; g * 3]).unwrap();
            drop(w); // as on an error or Ctrl-C
            only(&dir, &["o16.zarr"]);
        }
    }
}
