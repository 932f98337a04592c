//! `fastnet eval` on WeatherBench2 files: forecasts (`time` = init,
//! `prediction_timedelta`, latitude ascending, CDS long names) in NetCDF and
//! Zarr, climatologies (`hour` x `dayofyear`) in NetCDF and Zarr, WB2's
//! regions and a lat-lon box, and a regional truth — every score checked to
//! 1e-9 relative against numpy/xarray doing what weatherbench2's metrics.py
//! and regions.py do, on files the test writes (Python: FASTNET_PYTHON).

mod common;
use common::{fastnet, ok};

use std::path::Path;
use std::process::Command;

use fastnet_data::fixture::{scratch_dir, write_synthetic};
use fastnet_data::writer::WriteOptions;
use fastnet_mesh::Grid;
use serde_json::Value;

const T0: i64 = 1_577_836_800; // 2020-01-01T00

/// Writes the WB2 files from `truth.nc` in `dir` and the expected scores
/// (`expected_*.json`), computed the way weatherbench2 computes them.
const WRITE_AND_SCORE: &str = r#"
import json, sys, warnings
import numpy as np, xarray as xr
d = sys.argv[1]
raw = xr.open_dataset(f"{d}/truth.nc").load()
ren = {k: v for k, v in {"valid_time": "time", "pressure_level": "level"}.items() if k in raw.variables}
truth = raw.rename(ren).sortby("latitude")   # WB2's make_latitude_increasing
names = {"z": "geopotential", "t": "temperature", "u": "u_component_of_wind",
         "v": "v_component_of_wind", "t2m": "2m_temperature",
         "u10": "10m_u_component_of_wind", "v10": "10m_v_component_of_wind"}
rng = np.random.default_rng(14)
def to_zarr2(ds, path, time_units="hours since 2020-01-01 00:00:00", delta_units="nanoseconds"):
    """What xarray's to_zarr(consolidated=True) writes (Zarr v2, dims in
    _ARRAY_DIMENSIONS, CF-encoded times), with zarr 2 itself (the xarray
    here no longer drives zarr 2)."""
    import zarr, numcodecs
    g = zarr.open_group(path, mode="w")
    g.attrs.update(ds.attrs)
    per = {"hours": np.timedelta64(1, "h"), "nanoseconds": np.timedelta64(1, "ns"),
           "minutes": np.timedelta64(1, "m")}
    for name, v in ds.variables.items():
        data, attrs = v.values, dict(v.attrs)
        if np.issubdtype(data.dtype, np.datetime64):
            unit, since = time_units.split(" since ")
            data = ((data - np.datetime64(since.replace(" ", "T"), "ns")) // per[unit]).astype("int64")
            attrs.update(units=time_units, calendar="proleptic_gregorian")
        elif np.issubdtype(data.dtype, np.timedelta64):
            data = (data // per[delta_units]).astype("int64")
            attrs["units"] = delta_units
        chunks = tuple(1 if d in ("time", "prediction_timedelta", "hour", "dayofyear") else n
                       for d, n in zip(v.dims, data.shape))
        a = g.create_dataset(name, data=data, chunks=chunks or None,
                             compressor=numcodecs.Blosc("zstd", 3, numcodecs.Blosc.SHUFFLE),
                             fill_value=np.nan if data.dtype.kind == "f" else None)
        a.attrs.update(attrs)
        a.attrs["_ARRAY_DIMENSIONS"] = list(v.dims)
    zarr.consolidate_metadata(path)
T0 = np.datetime64("2020-01-01T00", "ns")
inits = np.array([T0, T0 + np.timedelta64(12, "h")])
leads = np.array([6, 12, 24, 60], dtype="timedelta64[h]").astype("timedelta64[ns]")
levels = np.array([500, 850])
lat, lon = truth.latitude.values, truth.longitude.values
tt = set(truth.time.values)
fc = xr.Dataset(coords={"time": inits, "prediction_timedelta": leads, "level": levels,
                        "latitude": lat, "longitude": lon})
for short, long in names.items():
    da = truth[short]
    upper = "level" in da.dims
    if upper:
        da = da.sel(level=levels)
    da = da.transpose("time", *(("level",) if upper else ()), "latitude", "longitude")
    fields = []
    for t0 in inits:
        row = []
        for h in leads:
            vt = t0 + h
            row.append(da.sel(time=vt).values if vt in tt else da.isel(time=0).values)
        fields.append(row)
    base = np.array(fields, dtype=np.float64)
    s = float(base.std())
    vals = base + s * (0.05 + 0.1 * rng.standard_normal(base.shape))
    dims = ("time", "prediction_timedelta") + (("level",) if upper else ()) + ("latitude", "longitude")
    fc[long] = (dims, vals.astype(np.float32))
# a variable the catalogue does not know is left out (and said so)
fc["total_precipitation_6hr"] = fc["2m_temperature"] * 0 + np.float32(1e-3)
fc.to_netcdf(f"{d}/wb2.nc")
# the Zarr copy with its dimensions in another order: a reader must not care
to_zarr2(fc.transpose("prediction_timedelta", "longitude", "time", "level", "latitude"),
         f"{d}/wb2.zarr")
days, hours = np.array([1, 2, 3, 4, 365, 366]), np.array([0, 6, 12, 18])
clim = xr.Dataset(coords={"hour": hours, "dayofyear": days, "level": levels,
                          "latitude": lat, "longitude": lon})
for short, long in names.items():
    da = truth[short]
    upper = "level" in da.dims
    m = (da.sel(level=levels) if upper else da).mean("time").values.astype(np.float64)
    s = float(da.std())
    vals = m[None, None] + 0.3 * s * rng.standard_normal((4, 6) + m.shape)
    dims = ("hour", "dayofyear") + (("level",) if upper else ()) + ("latitude", "longitude")
    # WB2 also accepts NAME_mean (metrics._get_climatology_chunk)
    clim[long + ("_mean" if short == "t2m" else "")] = (dims, vals.astype(np.float32))
clim.to_netcdf(f"{d}/clim.nc")
to_zarr2(clim, f"{d}/clim.zarr")
clim.isel(hour=[0, 2]).to_netcdf(f"{d}/clim_0_12.nc")
clim_daily = clim.isel(hour=0)   # a daily climatology: dayofyear only (a scalar hour stays)
clim_daily.to_netcdf(f"{d}/clim_daily.nc")
# a regional truth: a CDS area download (latitude north to south) of 60..30 N, 0..40 E
raw.sel(latitude=slice(60, 30), longitude=slice(0, 40)).to_netcdf(f"{d}/box.nc")

# --- weatherbench2/metrics.py, regions.py ---
def lat_weights(lat):                       # get_lat_weights
    x = np.deg2rad(lat)
    b = np.concatenate([[-np.pi / 2], (x[:-1] + x[1:]) / 2, [np.pi / 2]])
    w = np.sin(b[1:]) - np.sin(b[:-1])
    return xr.DataArray(w / w.mean(), coords={"latitude": lat}, dims="latitude")
def region_sel(ds, w, lat_s, lon_s):       # SliceRegion.apply
    lats = xr.concat([ds.latitude.sel(latitude=s) for s in lat_s], dim="latitude")
    lons = xr.concat([ds.longitude.sel(longitude=s) for s in lon_s], dim="longitude")
    return ds.sel(latitude=lats, longitude=lons), w.sel(latitude=lats)
A = slice(None, None)
regions = {"global": ([A], [A]), "tropics": ([slice(-20, 20)], [A]),
           "europe": ([slice(35, 75)], [slice(360 - 12.5, None), slice(0, 42.5)]),
           "box(20,70,-30,40)": ([slice(20, 70)], [slice(330, None), slice(0, 40)]),
           "regional-truth": ([slice(30, 60)], [slice(0, 40)])}
W = lat_weights(lat)
# each region's rows, columns and weights, selected as SliceRegion does
sel = {}
for reg, (ls, os) in regions.items():
    probe = xr.DataArray(np.zeros((len(lat), len(lon))), coords={"latitude": lat, "longitude": lon},
                         dims=("latitude", "longitude"))
    x, w = region_sel(probe, W, ls, os)
    li = np.searchsorted(lat, x.latitude.values)
    lo = np.array([int(np.argmin(np.abs(lon - v))) for v in x.longitude.values])
    sel[reg] = (li, lo, w.values)
def avg(x, reg):                            # _spatial_average: weighted mean over lat, lon
    li, lo, w = sel[reg]
    y = x[np.ix_(li, lo)]
    return float((w[:, None] * y).sum() / (w.sum() * len(lo)))
tindex = {t: k for k, t in enumerate(truth.time.values)}
def arr(da, dims):
    return da.transpose(*dims).values.astype(np.float64)
F, T, C = {}, {}, {}
for short, long in names.items():
    upper = "level" in fc[long].dims
    lv = ("level",) if upper else ()
    F[long] = arr(fc[long], ("time", "prediction_timedelta") + lv + ("latitude", "longitude"))
    tr = truth[short].sel(level=levels) if upper else truth[short]
    T[short] = arr(tr, ("time",) + lv + ("latitude", "longitude"))
def expected(clim):
    for short, long in names.items():
        c = clim[long if long in clim else long + "_mean"]
        lv = ("level",) if "level" in c.dims else ()
        hd = ("hour",) if "hour" in c.dims else ()
        C[long] = arr(c, hd + ("dayofyear",) + lv + ("latitude", "longitude"))
    hourly = "hour" in clim.dims
    hours, days = list(np.atleast_1d(clim.hour.values)), list(clim.dayofyear.values)
    rows, wind = [], []
    def cases(l):
        for i, t0 in enumerate(inits):
            vt = t0 + leads[l]
            if vt in tindex:
                ts = xr.DataArray([vt]).astype("datetime64[ns]")
                hi = hours.index(int(ts.dt.hour[0])) if hourly else None
                yield i, tindex[vt], hi, days.index(int(ts.dt.dayofyear[0]))
    for reg in regions:
        for short, long in names.items():
            upper = F[long].ndim == 5
            for k, level in (enumerate(levels) if upper else [(None, None)]):
                for l, h in enumerate(leads):
                    per = []
                    for i, ti, hi, di in cases(l):
                        c = C[long][hi, di] if hourly else C[long][di]
                        f, t = F[long][i, l], T[short][ti]
                        if upper:
                            f, t, c = f[k], t[k], c[k]
                        e, fa, ta = f - t, f - c, t - c
                        per.append((avg(e ** 2, reg), avg(e, reg), avg(abs(e), reg),
                                    avg(fa * ta, reg) / np.sqrt(avg(fa ** 2, reg) * avg(ta ** 2, reg))))
                    p = np.array(per)
                    rows.append({"region": reg, "variable": short + ("" if level is None else str(level)),
                                 "lead_hours": int(h / np.timedelta64(1, "h")), "count": len(per),
                                 "rmse": float(np.sqrt(p[:, 0].mean())),
                                 "rmse_sqrt_before_time_avg": float(np.sqrt(p[:, 0]).mean()),
                                 "bias": float(p[:, 1].mean()), "mae": float(p[:, 2].mean()),
                                 "acc": float(p[:, 3].mean())})
        for (u, v, k, name) in [("u", "v", 0, "wind500"), ("u", "v", 1, "wind850"),
                                ("u10", "v10", None, "wind10m")]:
            for l, h in enumerate(leads):
                per = []
                for i, ti, _, _ in cases(l):
                    def err(x):
                        f, t = F[names[x]][i, l], T[x][ti]
                        return (f[k] - t[k]) if k is not None else (f - t)
                    per.append(avg(err(u) ** 2 + err(v) ** 2, reg))   # WindVectorMSE
                p = np.array(per)
                wind.append({"region": reg, "variable": name, "count": len(per),
                             "lead_hours": int(h / np.timedelta64(1, "h")),
                             "wind_vector_rmse": float(np.sqrt(p.mean())),
                             "wind_vector_rmse_sqrt_before_time_avg": float(np.sqrt(p).mean())})
    return {"rows": rows, "wind": wind}
json.dump(expected(clim), open(f"{d}/expected.json", "w"))
json.dump(expected(clim_daily), open(f"{d}/expected_daily.json", "w"))
"#;

fn python(script: &str, args: &[&str]) {
    let py = std::env::var("FASTNET_PYTHON").expect(
        "FASTNET_PYTHON is not set: run scripts/setup.sh (it installs numpy, xarray, netCDF4 and zarr \
         and writes .cargo/config.toml)",
    );
    let r = Command::new(py)
        .arg("-c")
        .arg(script)
        .args(args)
        .output()
        .expect("python runs");
    assert!(
        r.status.success(),
        "python failed:\n{}",
        String::from_utf8_lossy(&r.stderr)
    );
}

fn s(p: &Path) -> String {
    p.to_str().unwrap().to_string()
}

fn close(got: f64, want: f64) -> bool {
    (got - want).abs() <= 1e-9 * got.abs().max(want.abs()) + 1e-300
}

/// Compares `fastnet eval`'s scores.json in `out` (models `models`, each
/// region) with the expected rows of `regions_want` (expected region name
/// -> our region name).
fn check_scores(out: &Path, want: &Value, models: &[&str], regions: &[(&str, &str)], acc: bool) {
    let got: Value =
        serde_json::from_slice(&std::fs::read(out.join("scores.json")).unwrap()).unwrap();
    let evs = got.as_array().unwrap();
    assert_eq!(
        evs.len(),
        models.len() * regions.len(),
        "one evaluation per model and region"
    );
    let mut checked = 0;
    for &model in models {
        for &(want_region, region) in regions {
            let ev = evs
                .iter()
                .find(|e| e["model"] == model && e["region"] == region)
                .unwrap_or_else(|| panic!("no evaluation of {model} over {region}"));
            for w in want["rows"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|w| w["region"] == want_region)
            {
                let r = ev["rows"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|r| r["variable"] == w["variable"] && r["lead_hours"] == w["lead_hours"])
                    .unwrap_or_else(|| panic!("{model} {region}: no row for {w}"));
                assert_eq!(r["region"], region);
                assert_eq!(r["count"], w["count"], "{model} {region} {r}");
                let mut keys = vec!["rmse", "rmse_sqrt_before_time_avg", "bias", "mae"];
                if acc {
                    keys.push("acc");
                }
                for k in keys {
                    let (g, x) = (r[k].as_f64().unwrap(), w[k].as_f64().unwrap());
                    assert!(
                        close(g, x),
                        "{model} {region} {} {} h {k}: {g} vs numpy {x}",
                        w["variable"],
                        w["lead_hours"]
                    );
                    checked += 1;
                }
            }
            for w in want["wind"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|w| w["region"] == want_region)
            {
                let r = ev["wind"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|r| r["variable"] == w["variable"] && r["lead_hours"] == w["lead_hours"])
                    .unwrap_or_else(|| panic!("{model} {region}: no wind row for {w}"));
                assert_eq!(r["count"], w["count"]);
                for k in ["wind_vector_rmse", "wind_vector_rmse_sqrt_before_time_avg"] {
                    let (g, x) = (r[k].as_f64().unwrap(), w[k].as_f64().unwrap());
                    assert!(
                        close(g, x),
                        "{model} {region} {} {k}: {g} vs numpy {x}",
                        w["variable"]
                    );
                    checked += 1;
                }
            }
        }
    }
    assert!(checked > 100, "only {checked} values compared");
}

/// Writes the truth (ERA5 NetCDF, 7.5° with poles, 0..60 h 6-hourly) and
/// the WB2 files and expected scores from it.
fn setup(dir: &Path) -> Value {
    let grid = Grid::from_spec("latlon:7.5").unwrap(); // 25 x 48
    let times: Vec<i64> = (0..=10).map(|k| T0 + k * 6 * 3600).collect();
    // HDF5 is not thread-safe: the tests of this binary write NetCDF in turn
    static NETCDF: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let serial = NETCDF.lock().unwrap_or_else(|e| e.into_inner());
    write_synthetic(
        &dir.join("truth.nc"),
        &grid,
        &times,
        &["z", "t", "u", "v", "t2m", "u10", "v10"],
        &[500, 850],
        &WriteOptions::new_cds(),
    )
    .unwrap();
    drop(serial);
    python(WRITE_AND_SCORE, &[&s(dir)]);
    serde_json::from_slice(&std::fs::read(dir.join("expected.json")).unwrap()).unwrap()
}

#[test]
fn weatherbench2_forecasts_and_climatologies_score_as_weatherbench2_does() {
    let dir = scratch_dir("wb2-eval");
    let want = setup(&dir);
    let (truth, out) = (dir.join("truth.nc"), dir.join("scores"));
    let regions = [
        ("global", "global"),
        ("tropics", "tropics"),
        ("europe", "europe"),
        ("box(20,70,-30,40)", "box(20,70,-30,40)"),
    ];
    for clim in ["clim.nc", "clim.zarr"] {
        let stdout = ok(&[
            "eval",
            "--forecast",
            &format!("nc={}", s(&dir.join("wb2.nc"))),
            &format!("zarr={}", s(&dir.join("wb2.zarr"))),
            "--truth",
            &s(&truth),
            "--climatology",
            &s(&dir.join(clim)),
            "--region",
            "global",
            "tropics",
            "europe",
            "--box",
            "20,70,-30,40",
            "-o",
            &s(&out),
        ]);
        assert!(
            stdout.contains("europe") && stdout.contains("box(20,70,-30,40)"),
            "{stdout}"
        );
        check_scores(&out, &want, &["nc", "zarr"], &regions, true);
    }
    // a daily climatology (dayofyear only): ACC at the valid time's day
    let daily: Value =
        serde_json::from_slice(&std::fs::read(dir.join("expected_daily.json")).unwrap()).unwrap();
    let out_daily = dir.join("scores-daily");
    ok(&[
        "eval",
        "--forecast",
        &format!("nc={}", s(&dir.join("wb2.nc"))),
        "--truth",
        &s(&truth),
        "--climatology",
        &s(&dir.join("clim_daily.nc")),
        "-o",
        &s(&out_daily),
    ]);
    check_scores(&out_daily, &daily, &["nc"], &[("global", "global")], true);
    let csv = std::fs::read_to_string(out.join("scores.csv")).unwrap();
    assert!(
        csv.lines().next().unwrap().ends_with(",skipped,region"),
        "{csv}"
    );
    assert!(csv
        .lines()
        .any(|l| l.starts_with("zarr,wind850,850,24,") && l.ends_with(",europe")));

    // a regional truth (CDS box 60..30 N, 0..40 E): the global forecast is
    // scored on the box's points with the global cell weights
    let out_box = dir.join("scores-box");
    let r = fastnet(&[
        "eval",
        "--forecast",
        &format!("nc={}", s(&dir.join("wb2.nc"))),
        "--truth",
        &s(&dir.join("box.nc")),
        "--climatology",
        &s(&dir.join("clim.nc")),
        "-o",
        &s(&out_box),
    ]);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let said = String::from_utf8_lossy(&r.stderr);
    assert!(said.contains("regional truth"), "{said}");
    assert!(
        said.contains("not scored: total_precipitation_6hr (not in the variable catalogue)"),
        "{said}"
    );
    check_scores(
        &out_box,
        &want,
        &["nc"],
        &[("regional-truth", "global")],
        true,
    );
    let got: Value =
        serde_json::from_slice(&std::fs::read(out_box.join("scores.json")).unwrap()).unwrap();
    assert!(
        got[0]["truth_area"].as_str().is_some(),
        "{}",
        got[0]["truth_area"]
    );

    // spectra and map plots read the WB2 forecast too
    let spec = dir.join("spectra.json");
    ok(&[
        "spectra",
        "--forecast",
        &s(&dir.join("wb2.zarr")),
        "--truth",
        &s(&truth),
        "--variables",
        "z500",
        "--leads",
        "6",
        "-o",
        &s(&spec),
    ]);
    assert!(std::fs::metadata(&spec).unwrap().len() > 100);
    let png = dir.join("map.png");
    ok(&[
        "plot",
        "map",
        "--forecast",
        &s(&dir.join("wb2.nc")),
        "--truth",
        &s(&truth),
        "--variable",
        "t850",
        "--lead",
        "12",
        "-o",
        &s(&png),
    ]);
    assert!(std::fs::metadata(&png).unwrap().len() > 10_000);

    // bad inputs: one clear error each
    let err = |args: &[&str]| -> String {
        let mut a = vec!["eval"];
        a.extend_from_slice(args);
        let r = fastnet(&a);
        assert_eq!(r.status.code(), Some(1), "{args:?} should fail");
        String::from_utf8_lossy(&r.stderr).into_owned()
    };
    let (fc, t) = (s(&dir.join("wb2.nc")), s(&truth));
    let o = s(&dir.join("bad"));
    let e = err(&[
        "--forecast",
        &fc,
        "--truth",
        &t,
        "--climatology",
        &s(&dir.join("clim_0_12.nc")),
        "-o",
        &o,
    ]);
    assert!(e.contains("no hour 6") && e.contains("clim_0_12.nc"), "{e}");
    let e = err(&[
        "--forecast",
        &fc,
        "--truth",
        &t,
        "--region",
        "atlantis",
        "-o",
        &o,
    ]);
    assert!(e.contains("atlantis") && e.contains("north-america"), "{e}");
    let e = err(&[
        "--forecast",
        &fc,
        "--truth",
        &t,
        "--box",
        "70,20,0,10",
        "-o",
        &o,
    ]);
    assert!(e.contains("south first"), "{e}");
    let e = err(&["--forecast", &t, "--truth", &t, "-o", &o]);
    assert!(
        e.contains("not a forecast file") && e.contains("prediction_timedelta"),
        "{e}"
    );
    let e = err(&[
        "--forecast",
        &fc,
        "--truth",
        &s(&dir.join("box.nc")),
        "--region",
        "tropics",
        "-o",
        &o,
    ]);
    assert!(
        e.contains("tropics") && e.contains("does not overlap"),
        "{e}"
    );
    if std::env::var_os("FASTNET_KEEP_TEST_OUTPUT").is_none() {
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

/// A WB2 forecast whose `prediction_timedelta` is not a duration, and one
/// on a grid other than the climatology's.
const BAD_FILES: &str = r#"
import sys, numpy as np, xarray as xr
d = sys.argv[1]
fc = xr.open_dataset(f"{d}/wb2.nc")
bad = fc.assign_coords(prediction_timedelta=("prediction_timedelta", np.array([1, 2, 3, 4]),
                                              {"units": "fortnights"}))
bad.to_netcdf(f"{d}/bad_units.nc")
c = xr.open_dataset(f"{d}/clim.nc")
c.isel(latitude=slice(0, 25, 2), longitude=slice(0, 48, 2)).to_netcdf(f"{d}/clim_coarse.nc")
"#;

#[test]
fn bad_weatherbench2_files_are_refused_with_a_reason() {
    let dir = scratch_dir("wb2-eval-bad");
    setup(&dir);
    python(BAD_FILES, &[&s(&dir)]);
    let (t, o) = (s(&dir.join("truth.nc")), s(&dir.join("out")));
    let r = fastnet(&[
        "eval",
        "--forecast",
        &s(&dir.join("bad_units.nc")),
        "--truth",
        &t,
        "-o",
        &o,
    ]);
    let e = String::from_utf8_lossy(&r.stderr);
    assert_eq!(r.status.code(), Some(1));
    assert!(
        e.contains("prediction_timedelta") && e.contains("fortnights"),
        "{e}"
    );
    let r = fastnet(&[
        "eval",
        "--forecast",
        &s(&dir.join("wb2.nc")),
        "--truth",
        &t,
        "--climatology",
        &s(&dir.join("clim_coarse.nc")),
        "-o",
        &o,
    ]);
    let e = String::from_utf8_lossy(&r.stderr);
    assert_eq!(r.status.code(), Some(1));
    assert!(e.contains("climatology") && e.contains("differs"), "{e}");
    if std::env::var_os("FASTNET_KEEP_TEST_OUTPUT").is_none() {
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
