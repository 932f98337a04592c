//! A WeatherBench2 forecast as xarray's own `to_zarr` writes it, with a
//! packed variable (int16, scale_factor, add_offset) and missing points:
//! xarray keeps `_FillValue` in the array's `fill_value`, not among the
//! attributes, and the reader must still mask those points (they would
//! otherwise decode as plausible temperatures).

use std::path::PathBuf;
use std::process::Command;

use fastnet::forecast::file::ForecastFile;

#[test]
fn packed_zarr_forecast_masks_its_fill_value() {
    let py = std::env::var("FASTNET_PYTHON")
        .expect("FASTNET_PYTHON is not set: run scripts/setup.sh (it writes .cargo/config.toml)");
    let dir = fastnet_data::fixture::scratch_dir("wb2-packed-zarr");
    let store: PathBuf = dir.join("fc.zarr");
    let code = format!(
        r#"
import warnings; warnings.simplefilter("error")
import numpy as np, pandas as pd, xarray as xr
lat = np.linspace(-90, 90, 19); lon = np.arange(0, 360, 10.0)
t2m = 273.15 + 20 * np.cos(np.radians(lat))[None, None, :, None] * np.ones((1, 2, 1, 36))
t2m[0, 1, 3, 5] = np.nan
ds = xr.Dataset(
    {{"2m_temperature": (("time", "prediction_timedelta", "latitude", "longitude"), t2m, {{"units": "K"}})}},
    coords={{"time": pd.to_datetime(["2020-01-01"]),
             "prediction_timedelta": pd.to_timedelta([6, 12], unit="h"),
             "latitude": lat, "longitude": lon}})
enc = {{"2m_temperature": {{"dtype": "int16", "scale_factor": 0.01, "add_offset": 273.15, "_FillValue": -32767}}}}
ds.to_zarr({store:?}, encoding=enc, mode="w", consolidated=True, zarr_format=2)
"#,
        store = store.to_str().unwrap()
    );
    let r = Command::new(&py).arg("-c").arg(&code).output().unwrap();
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let zarray = std::fs::read_to_string(store.join("2m_temperature/.zarray")).unwrap();
    assert!(
        zarray.contains("-32767"),
        "xarray keeps the fill in .zarray: {zarray}"
    );
    let fc = ForecastFile::open(&store).unwrap();
    assert_eq!(fc.lead_hours, vec![6, 12]);
    let nlon = 36;
    for (l, missing) in [(0, None), (1, Some(5 * nlon + 5))] {
        let f = fc.read("t2m", None, 0, l).unwrap();
        for (k, &v) in f.iter().enumerate() {
            // ours: north to south; the file: south to north (row 3 from the
            // south is row 15 from the north)
            let row = k / nlon;
            let lat = 90.0 - 10.0 * row as f64;
            if missing.is_some() && row == 15 && k % nlon == 5 {
                assert!(v.is_nan(), "lead {l}: the fill value decoded as {v}");
            } else {
                let want = 273.15 + 20.0 * lat.to_radians().cos();
                assert!(
                    (v as f64 - want).abs() < 0.006,
                    "lead {l} point {k}: {v} vs {want}"
                );
            }
        }
    }
}
