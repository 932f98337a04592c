"""Builds a small genuine anemoi-datasets store for the tests.

    python scripts/anemoi_fixture.py KIND OUTDIR

writes OUTDIR/source.nc (ERA5 layout, written with xarray), OUTDIR/recipe.yaml
and OUTDIR/store.zarr, built by `anemoi-datasets create` from the NetCDF
(offline: a `netcdf:` source). KIND:

  latlon    10° lat-lon (19 x 36, poles), 6-hourly, 2020-01-01 00 .. 2020-01-02 12:
            t and z at 500/850 hPa, 2t, 10u, 10v, msl, surface z (orography), lsm;
            latitudes stored south to north and longitudes from -180 to
            exercise the reader's orientation handling
  ensemble  the same grid with 3 members (`number`), 12-hourly, and one date
            listed as missing (2020-01-02 00)
  o8        the octahedral O8 grid (anemoi-inference's `values` layout), 6-hourly
            from 2020-01-01 00 to 2020-01-03 18, with 10u and 10v (enough to train on)
"""

import os
import subprocess
import sys

import numpy as np
import pandas as pd
import xarray as xr

KIND, OUT = sys.argv[1], sys.argv[2]
os.makedirs(OUT, exist_ok=True)
rng = np.random.default_rng({"latlon": 1, "ensemble": 2, "o8": 3}[KIND])


def attrs(units, long):
    return {"units": units, "long_name": long}


if KIND in ("latlon", "ensemble"):
    lat = np.arange(-90.0, 90.1, 10.0)  # south to north on purpose
    lon = np.arange(-180.0, 180.0, 10.0)
    grid_dims = ("latitude", "longitude")
    grid_shape = (lat.size, lon.size)
    coords = {
        "latitude": ("latitude", lat, {"units": "degrees_north", "standard_name": "latitude"}),
        "longitude": ("longitude", lon, {"units": "degrees_east", "standard_name": "longitude"}),
    }
else:
    n = 8
    x, _ = np.polynomial.legendre.leggauss(2 * n)
    ring_lat = np.degrees(np.arcsin(x))[::-1]
    lens = [20 + 4 * i for i in range(n)]
    lens = lens + lens[::-1]
    plat = np.concatenate([np.full(k, a) for k, a in zip(lens, ring_lat)])
    plon = np.concatenate([360.0 * np.arange(k) / k for k in lens])
    grid_dims = ("values",)
    grid_shape = (plat.size,)
    coords = {
        "latitude": ("values", plat, {"units": "degrees_north", "standard_name": "latitude"}),
        "longitude": ("values", plon, {"units": "degrees_east", "standard_name": "longitude"}),
    }

freq = "12h" if KIND == "ensemble" else "6h"
end = "2020-01-03T18" if KIND == "o8" else "2020-01-02T12"
times = pd.date_range("2020-01-01", end, freq=freq)
members = [0, 1, 2] if KIND == "ensemble" else None
lead = (("time", "number") if members else ("time",))
lead_shape = (times.size, 3) if members else (times.size,)
coords["time"] = ("time", times)
if members:
    coords["number"] = ("number", members)
coords["level"] = ("level", np.array([500, 850]), {"units": "hPa", "long_name": "pressure_level"})


def field(base, spread, levels=False):
    shape = lead_shape + ((2,) if levels else ()) + grid_shape
    return (base + spread * rng.standard_normal(shape)).astype("f4")


pl = lead + ("level",) + grid_dims
sfc = lead + grid_dims
data = {
    "t": (pl, field(250.0, 10.0, True), attrs("K", "Temperature")),
    "z": (pl, field(50000.0, 3000.0, True), attrs("m**2 s**-2", "Geopotential")),
    "2t": (sfc, field(280.0, 15.0), attrs("K", "2 metre temperature")),
}
if KIND in ("latlon", "o8"):
    data["10u"] = (sfc, field(0.0, 8.0), attrs("m s**-1", "10 metre U wind component"))
    data["10v"] = (sfc, field(0.0, 8.0), attrs("m s**-1", "10 metre V wind component"))
if KIND == "latlon":
    data["msl"] = (sfc, field(101000.0, 1500.0), attrs("Pa", "Mean sea level pressure"))
    # Static fields: the same at every time, as ERA5 gives them.
    orog = (np.abs(rng.standard_normal(grid_shape)) * 9806.65).astype("f4")
    lsm = (rng.random(grid_shape) > 0.6).astype("f4")
    data["zs"] = (sfc, np.broadcast_to(orog, lead_shape + grid_shape).copy(), attrs("m**2 s**-2", "Geopotential"))
    data["lsm"] = (sfc, np.broadcast_to(lsm, lead_shape + grid_shape).copy(), attrs("(0 - 1)", "Land-sea mask"))

ds = xr.Dataset(data, coords=coords)
source = os.path.join(OUT, "source.nc")
ds.to_netcdf(source)
if members:
    # One member alone, for comparing what the store gives for that member.
    ds.isel(number=1, drop=True).to_netcdf(os.path.join(OUT, "member1.nc"))

recipe = os.path.join(OUT, "recipe.yaml")
missing = "  missing: ['2020-01-02T00:00:00']\n" if KIND == "ensemble" else ""
# Surface geopotential goes into the store as `z` (anemoi's name for it),
# renamed from the NetCDF's `zs` so that it does not clash with z on levels.
rename = ""
if KIND == "latlon":
    rename = "    - rename:\n        param:\n          zs: z\n"
with open(recipe, "w") as f:
    f.write(
        "dates:\n"
        f"  start: {times[0].isoformat()}\n"
        f"  end: {times[-1].isoformat()}\n"
        f"  frequency: {freq}\n" + missing + "input:\n"
    )
    if rename:
        f.write(f"  pipe:\n    - netcdf:\n        path: {source}\n" + rename)
    else:
        f.write(f"  netcdf:\n    path: {source}\n")

exe = os.path.join(os.path.dirname(sys.executable), "anemoi-datasets")
store = os.path.join(OUT, "store.zarr")
r = subprocess.run([exe, "create", recipe, store, "--overwrite"], capture_output=True, text=True)
if r.returncode != 0:
    sys.stderr.write(r.stdout[-4000:] + r.stderr[-4000:])
    sys.exit(r.returncode)
print(store)
