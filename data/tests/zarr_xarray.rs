//! Zarr stores in xarray's layout as data (WeatherBench2's ERA5 stores:
//! CDS long names, latitude ascending, longitude before latitude): written
//! by xarray's own `to_zarr` in the setup's Python, together with the same
//! data as an ERA5-layout NetCDF, and read back through [`Dataset`] equal to
//! the NetCDF value for value — packed int16 with a missing point included.

use std::process::Command;

use fastnet_data::fixture::scratch_dir;
use fastnet_data::{DataError, Dataset, MissingPolicy};
use fastnet_mesh::Grid;

#[test]
fn wb2_era5_zarr_reads_like_the_same_netcdf() {
    let py = std::env::var("FASTNET_PYTHON")
        .expect("FASTNET_PYTHON is not set: run scripts/setup.sh (it writes .cargo/config.toml)");
    let dir = scratch_dir("zarr-xarray");
    let code = format!(
        r#"
import warnings; warnings.simplefilter("error")
import numpy as np, pandas as pd, xarray as xr
d = {dir:?}
rng = np.random.default_rng(7)
lat = np.linspace(-90, 90, 19); lon = np.arange(0, 360, 10.0)
t = pd.date_range("2020-01-01", periods=3, freq="6h")
z = (50000 + 3000 * rng.standard_normal((3, 2, 36, 19))).astype("f4")
t2 = (280 + 15 * rng.standard_normal((3, 36, 19))).astype("f4")
tt = (250 + 10 * rng.standard_normal((3, 2, 36, 19))).astype("f4")
tt[1, 0, 4, 2] = np.nan
ds = xr.Dataset(
    {{"geopotential": (("time", "level", "longitude", "latitude"), z, {{"units": "m**2 s**-2"}}),
      "2m_temperature": (("time", "longitude", "latitude"), t2, {{"units": "K"}}),
      "temperature": (("time", "level", "longitude", "latitude"), tt, {{"units": "K"}})}},
    coords={{"time": t, "level": ("level", [500, 850], {{"units": "millibar"}}),
             "latitude": lat, "longitude": lon}})
enc = {{"temperature": {{"dtype": "int16", "scale_factor": 0.01, "add_offset": 250.0, "_FillValue": -32767}}}}
ds.to_zarr(d + "/era5.zarr", encoding=enc, mode="w", consolidated=True, zarr_format=2)
ds.transpose("time", "level", "latitude", "longitude").to_netcdf(d + "/era5.nc", encoding=enc)
"#,
        dir = dir.to_str().unwrap()
    );
    let r = Command::new(&py).arg("-c").arg(&code).output().unwrap();
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let mut zs = Dataset::open(&[dir.join("era5.zarr")]).unwrap();
    let mut nc = Dataset::open(&[dir.join("era5.nc")]).unwrap();
    assert_eq!(zs.grid, Grid::equiangular(19, 36, true).unwrap());
    assert_eq!(zs.grid, nc.grid);
    assert_eq!(zs.times, nc.times);
    assert_eq!(zs.vars.keys().collect::<Vec<_>>(), ["t", "t2m", "z"]);
    assert_eq!(zs.vars["z"].levels, Some(vec![500, 850]));
    let n = zs.grid.len();
    let (mut a, mut b) = (vec![0f32; n], vec![0f32; n]);
    // The packed field with a missing point is refused by default, naming it.
    let err = zs
        .read_field("t", Some(500), zs.times[1], &mut a)
        .unwrap_err();
    assert!(
        matches!(err, DataError::MissingValues { count: 1, .. }),
        "{err}"
    );
    zs.missing = MissingPolicy::Nan;
    nc.missing = MissingPolicy::Nan;
    let mut checked = 0;
    for &t in &zs.times.clone() {
        for (var, level) in [
            ("z", Some(500)),
            ("z", Some(850)),
            ("t2m", None),
            ("t", Some(500)),
            ("t", Some(850)),
        ] {
            zs.read_field(var, level, t, &mut a).unwrap();
            nc.read_field(var, level, t, &mut b).unwrap();
            for (x, y) in a.iter().zip(&b) {
                assert!(
                    x == y || (x.is_nan() && y.is_nan()),
                    "{var} {level:?}: {x} vs {y}"
                );
            }
            checked += 1;
        }
    }
    assert_eq!(checked, 15);
    // the missing point: stored at (lon 40°, lat -70°): canonical row 16, column 4
    zs.read_field("t", Some(500), zs.times[1], &mut a).unwrap();
    assert!(a[16 * 36 + 4].is_nan());
    assert_eq!(a.iter().filter(|x| x.is_nan()).count(), 1);
    // an xarray-layout store has no members
    let spec = format!("{}#member=0", dir.join("era5.zarr").display());
    assert!(Dataset::open(&[spec]).is_err());
}
