//! Plain data files on the command line: `fastnet data inspect` describes
//! the files a user downloads from the CDS (regional boxes, a monthly
//! climatology, the old and new layouts, packed and NaN-filled values) and
//! refuses only what it cannot read; `fastnet spectra` without a forecast
//! gives the spectra of data files, checked on spherical harmonics numpy
//! writes, and `fastnet plot spectra` draws them.
//!
//! The CDS-like files come from data/tests/inspect_cds_files.py (numpy and
//! netCDF4 in the setup's Python, out of process); one test writes a global
//! file in-process, so the tests take turns (HDF5 is not thread-safe).

mod common;
use common::{fastnet, ok};

use std::path::Path;
use std::process::Command;

use fastnet_data::fixture::{scratch_dir, write_synthetic};
use fastnet_data::writer::WriteOptions;
use fastnet_mesh::Grid;
use serde_json::Value;

const T0: i64 = 1_577_836_800; // 2020-01-01T00:00Z

fn netcdf_serial() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

fn python(script: &Path, args: &[&str]) -> Vec<u8> {
    let py = std::env::var("FASTNET_PYTHON")
        .expect("FASTNET_PYTHON is not set: run scripts/setup.sh (it writes .cargo/config.toml)");
    let out = Command::new(py)
        .arg(script)
        .args(args)
        .output()
        .expect("running the setup's Python");
    assert!(
        out.status.success(),
        "{} failed: {}",
        script.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

fn python_code(code: &str, arg: &str) {
    let py = std::env::var("FASTNET_PYTHON").expect("FASTNET_PYTHON is not set");
    let out = Command::new(py).args(["-c", code, arg]).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn inspect_describes_every_readable_cds_file() {
    let _serial = netcdf_serial();
    let dir = scratch_dir("plain-inspect");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/tests/inspect_cds_files.py");
    python(&script, &[s(&dir)]);
    // A global file next to them: the only one in the merged catalogue.
    let grid = Grid::equiangular(19, 36, true).unwrap();
    let ts: Vec<i64> = (0..4).map(|k| T0 + 6 * 3600 * k).collect();
    write_synthetic(
        &dir.join("global.nc"),
        &grid,
        &ts,
        &["t2m"],
        &[],
        &WriteOptions::old_cds(),
    )
    .unwrap();

    let out = ok(&["data", "inspect", s(&dir)]);
    for want in [
        "regional lat-lon box 60°N..50°N, 10°W..5°E at 0.5° x 0.5° (21 x 31 points)",
        "regional lat-lon box 45°N..40°N, 10°W..10°E at 1° x 1° (6 x 21 points)",
        "regional lat-lon box 0°N..20°S, 100°E..140°E at 2.5° x 2.5° (9 x 17 points)",
        "a global model cannot train on it alone",
        "global lat-lon 90°N..90°S, all longitudes from 0°E at 10° x 10° (19 x 36 points)",
        "dimension `month` of 12 values (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12): months of a climatology",
        "dimension `expver` of 2 values (1, 5): ERA5 and ERA5T experiments mixed",
        "int16 packed",
        "missing -32767",
        "missing NaN",
        "latitudes ascending (flipped on read)",
        "longitudes reordered west to east on read",
        "along month (12)",
        "netCDF4 (NewCds)",
        "merged: 1 files (5 more described above but left out)",
    ] {
        assert!(out.contains(want), "missing {want:?} in\n{out}");
    }

    // JSON: which files are in the catalogue, and the boxes.
    let json: Value = serde_json::from_str(&ok(&["data", "inspect", s(&dir), "--json"])).unwrap();
    let files = json["files"].as_array().unwrap();
    assert_eq!(files.len(), 6);
    let by_name = |n: &str| {
        files
            .iter()
            .find(|f| f["path"].as_str().unwrap().ends_with(n))
            .unwrap()
    };
    assert_eq!(by_name("global.nc")["in_catalogue"], true);
    let new = by_name("box_new.nc");
    assert_eq!(new["in_catalogue"], false);
    assert_eq!(new["area"]["lat_step_deg"], 0.5);
    assert_eq!(
        (
            &new["area"]["north"],
            &new["area"]["west"],
            &new["area"]["nlon"]
        ),
        (&Value::from(60.0), &Value::from(-10.0), &Value::from(31))
    );
    assert_eq!(by_name("clim_month.nc")["area"]["global"], true);
    assert_eq!(new["layout"], "NewCds");
    assert_eq!(by_name("box_old.nc")["layout"], "OldCds");
    assert_eq!(json["merged"]["variables"][0]["short"], "t2m");
    assert_eq!(json["problems"].as_array().unwrap().len(), 0);

    // --values counts the holes of the boxes (numpy put 2 NaN and 1 fill).
    let out = ok(&["data", "inspect", s(&dir), "--values"]);
    for want in [
        "box_new.nc: t2m: 2 missing values (NaN or fill) in 1 of 3 fields, first at 2020-01-01T06:00",
        "box_old.nc: t: 1 missing values (NaN or fill) in 1 of 2 fields, first at 2020-01-01T00:00",
    ] {
        assert!(out.contains(want), "missing {want:?} in\n{out}");
    }
    assert!(
        !out.contains("expver.nc: t2m"),
        "the expver mix is complete\n{out}"
    );

    // What cannot be read is one problem line with the reason, and only it.
    let bytes = std::fs::read(dir.join("box_new.nc")).unwrap();
    std::fs::write(dir.join("cut.nc"), &bytes[..bytes.len() / 3]).unwrap();
    python_code(
        "import numpy as np, netCDF4, sys\n\
         with netCDF4.Dataset(sys.argv[1], 'w') as ds:\n\
         \x20   ds.createDimension('latitude', 4); ds.createDimension('longitude', 3)\n\
         \x20   ds.createVariable('latitude', 'f8', ('latitude',))[:] = [50, 49, 47.5, 47]\n\
         \x20   ds.createVariable('longitude', 'f8', ('longitude',))[:] = [0, 1, 2]\n\
         \x20   v = ds.createVariable('t2m', 'f4', ('latitude', 'longitude')); v.units = 'K'; v[:] = 280\n",
        s(&dir.join("irregular.nc")),
    );
    let r = fastnet(&["data", "inspect", s(&dir)]);
    let err = String::from_utf8_lossy(&r.stderr);
    assert!(!r.status.success());
    let problems: Vec<&str> = err.lines().filter(|l| l.starts_with("problem:")).collect();
    assert!(
        problems
            .iter()
            .any(|p| p.contains("cut.nc") && p.contains("cannot open")),
        "{err}"
    );
    assert!(
        problems.iter().any(|p| p.contains("irregular.nc")
            && p.contains("read as a lat-lon box")
            && p.contains("latitude 2 (north to south) is 47.5°")),
        "{err}"
    );
    assert_eq!(problems.len(), 2, "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Writes z at 500 hPa on a 5° global grid with poles (37 x 72, ERA5
/// layout: latitude 90 .. -90, longitude 0 .. 355) at two times: a constant
/// plus one spherical harmonic each, `A cos(3λ) P_5^3(sin φ)` then
/// `B P_8(sin φ)`; prints numpy's power per degree (closed form
/// `∫ f² dΩ`) and zonal energy per band (WeatherBench2's definition, from
/// numpy's rfft of the stored float32 rings).
const HARMONICS: &str = r#"
import json, math, sys
import numpy as np, netCDF4
from numpy.polynomial import legendre as L

path = sys.argv[1]
lat = np.linspace(90, -90, 37)
lon = np.arange(72) * 5.0
x = np.sin(np.radians(lat))

def plm(l, m):
    c = np.zeros(l + 1); c[l] = 1
    return L.legval(x, L.legder(c, m)) * (1 - x * x) ** (m / 2)

def norm(l, m):  # integral of (P_l^m)^2 over [-1, 1]
    return 2 / (2 * l + 1) * math.factorial(l + m) / math.factorial(l - m)

c0 = 5.4e4
a = 800 / np.abs(plm(5, 3)).max()
b = 500 / np.abs(plm(8, 0)).max()
f1 = c0 + a * plm(5, 3)[:, None] * np.cos(3 * np.radians(lon))[None, :]
f2 = c0 + b * plm(8, 0)[:, None] * np.ones(72)[None, :]
with netCDF4.Dataset(path, "w") as ds:
    ds.createDimension("time", 2); ds.createDimension("level", 1)
    ds.createDimension("latitude", 37); ds.createDimension("longitude", 72)
    v = ds.createVariable("time", "i4", ("time",)); v.units = "hours since 2020-01-01"; v[:] = [0, 6]
    v = ds.createVariable("level", "i4", ("level",)); v.units = "millibars"; v[:] = [500]
    v = ds.createVariable("latitude", "f4", ("latitude",)); v.units = "degrees_north"; v[:] = lat
    v = ds.createVariable("longitude", "f4", ("longitude",)); v.units = "degrees_east"; v[:] = lon
    z = ds.createVariable("z", "f4", ("time", "level", "latitude", "longitude"))
    z.units = "m**2 s**-2"
    z[:] = np.stack([f1, f2])[:, None]
    stored = z[:].astype(np.float64)[:, 0]

p0 = c0 ** 2 * 4 * math.pi
p5 = a ** 2 * math.pi * norm(5, 3)
p8 = b ** 2 * 2 * math.pi * norm(8, 0)
R = 6371e3
def band(f, lo, hi):
    rows = [i for i in range(37) if lo <= lat[i] <= hi]
    spec = np.zeros(37)
    for i in rows:
        F = np.fft.rfft(f[i]) / 72
        C = 2 * math.pi * R * max(math.cos(math.radians(lat[i])), 0.0)
        s = C * np.abs(F) ** 2
        s[1:] *= 2
        spec += s / len(rows)
    return spec.tolist()
bands = {"n": (30, 60), "t": (-30, 30), "s": (-60, -30)}
json.dump({
    "both": {"p0": p0, "p5": p5 / 2, "p8": p8 / 2},
    "first": {"p0": p0, "p5": p5, "p8": 0.0},
    "zonal_both": {k: ((np.array(band(stored[0], *r)) + np.array(band(stored[1], *r))) / 2).tolist()
                   for k, r in bands.items()},
}, sys.stdout)
"#;

#[test]
fn spectra_of_data_alone_put_a_harmonic_s_power_at_its_degree() {
    let _serial = netcdf_serial();
    let dir = scratch_dir("plain-spectra");
    let nc = dir.join("z500.nc");
    let py = std::env::var("FASTNET_PYTHON").expect("FASTNET_PYTHON is not set");
    let out = Command::new(py)
        .args(["-c", HARMONICS, s(&nc)])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let want: Value = serde_json::from_slice(&out.stdout).unwrap();

    let json = dir.join("spectra.json");
    let run = |times: Option<&str>| -> Value {
        let mut args = vec![
            "spectra",
            "--truth",
            s(&nc),
            "--variables",
            "z500",
            "-o",
            s(&json),
        ];
        if let Some(t) = times {
            args.extend(["--times", t]);
        }
        let printed = ok(&args);
        assert!(printed.contains("z500: mean of"), "{printed}");
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap()
    };
    let check = |got: &Value, want: &Value, fields: u64| {
        assert_eq!(got["kind"], "truth_spectra");
        let e = &got["spectra"][0];
        assert_eq!(e["variable"], "z500");
        assert_eq!(e["units"], "(m**2 s**-2)²");
        assert_eq!(e["times"], fields);
        let p: Vec<f64> = e["power"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect();
        let top = want["p5"]
            .as_f64()
            .unwrap()
            .max(want["p8"].as_f64().unwrap());
        for (l, &v) in p.iter().enumerate() {
            let w = match l {
                0 => want["p0"].as_f64().unwrap(),
                5 => want["p5"].as_f64().unwrap(),
                8 => want["p8"].as_f64().unwrap(),
                _ => 0.0,
            };
            let tol = if w > 0.0 { 1e-5 * w } else { 1e-6 * top };
            assert!((v - w).abs() <= tol, "l = {l}: {v} != {w} (numpy)");
        }
    };
    // Both times: half of each harmonic's power, at l = 5 and l = 8.
    let both = run(None);
    check(&both, &want["both"], 2);
    assert!(both["spectra"][0]["transform"]
        .as_str()
        .unwrap()
        .contains("37 x 72"));
    // Zonal spectra: numpy's rfft per ring, band means.
    let zonal = both["spectra"][0]["zonal"].as_array().unwrap();
    assert_eq!(zonal.len(), 3);
    for (z, key) in zonal.iter().zip(["n", "t", "s"]) {
        let got = z["power"].as_array().unwrap();
        let w = want["zonal_both"][key].as_array().unwrap();
        assert_eq!(got.len(), w.len());
        let top = w
            .iter()
            .skip(1)
            .map(|v| v.as_f64().unwrap())
            .fold(0.0, f64::max);
        for (k, (g, w)) in got.iter().zip(w).enumerate() {
            let (g, w) = (g.as_f64().unwrap(), w.as_f64().unwrap());
            assert!(
                (g - w).abs() <= 1e-9 * w.abs() + 1e-9 * top,
                "{} k = {k}: {g} != {w}",
                z["band"]
            );
        }
    }
    // One time only: all of the first harmonic, nothing at l = 8.
    check(&run(Some("2020-01-01T00")), &want["first"], 1);
    check(&run(Some("2020-01-01..2020-01-01T03")), &want["first"], 1);

    // The plot draws it.
    let png = dir.join("spectra.png");
    run(None);
    ok(&["plot", "spectra", s(&json), "-o", s(&png)]);
    assert!(std::fs::metadata(&png).unwrap().len() > 10_000);

    // Bad requests: a time the data lack, --leads without --forecast, an
    // absent variable.
    let fail = |extra: &[&str]| -> String {
        let mut args = vec!["spectra", "--truth", s(&nc), "-o", s(&json)];
        args.extend(extra);
        let r = fastnet(&args);
        assert!(!r.status.success());
        String::from_utf8_lossy(&r.stderr).into_owned()
    };
    let e = fail(&["--variables", "z500", "--times", "2020-02-01"]);
    assert!(
        e.contains("2020-02-01T00:00 is not a time of the data"),
        "{e}"
    );
    let e = fail(&["--variables", "z500", "--times", "2020-01-01..2020-01-02/0"]);
    assert!(e.contains("\"0\" is not a positive number of hours"), "{e}");
    let e = fail(&["--variables", "z500", "--times", "2019-01-01..2019-12-31"]);
    assert!(e.contains("no time of the data is selected"), "{e}");
    let e = fail(&[
        "--variables",
        "z500",
        "--forecast",
        "f.nc",
        "--leads",
        "6",
        "--times",
        "2020-01-01",
    ]);
    assert!(
        e.contains("with --forecast the valid times are the forecast's"),
        "{e}"
    );
    let e = fail(&["--variables", "z500", "--leads", "24"]);
    assert!(e.contains("--leads needs --forecast"), "{e}");
    let e = fail(&["--variables", "t850"]);
    assert!(e.contains("variable t is not in the data"), "{e}");
    let e = fail(&["--variables", "z700"]);
    assert!(
        e.contains("z700: not in the data at any selected time"),
        "{e}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
