"""Writes the kinds of reanalysis NetCDF a user downloads from the CDS, small,
with netCDF4 (as the CDS's own converters do), and prints as JSON what numpy
says is in them: each box's extent and, for chosen fields, the physical
values north to south / west to east (raw * scale_factor + add_offset, NaN
where missing).

usage: python inspect_cds_files.py OUTDIR   (prints JSON on stdout)

Files:
  box_new.nc    new CDS layout (2024-): valid_time, pressure_level, scalar
                `number`, per-time `expver` strings; float32, NaN fill;
                CDS area [60, -10, 50, 5] at 0.5 deg (signed longitudes)
  box_old.nc    old CDS layout: time (hours since 1900), level, int16 packed
                with _FillValue/missing_value -32767; a box across 0 deg
                stored in [0, 360) sorted: 0..10, 350..359 at 1 deg
  box_asc.nc    latitudes ascending, longitudes 100..140 E, float64, no time
                axis but a static land-sea mask and a time-dependent msl
  clim_month.nc a global monthly climatology: t2m(month, latitude, longitude)
                on a 10 deg grid with poles, month = 1..12
  expver.nc     old CDS ERA5/ERA5T mix: t2m(time, expver, latitude,
                longitude), expver = 1, 5; each time is in one of the two
"""

import json
import sys

import numpy as np
import netCDF4

out = sys.argv[1]
rng = np.random.default_rng(14)
T0 = 1577836800  # 2020-01-01T00:00Z in seconds since 1970
expect = {}


def field(lat, lon, k):
    """A smooth field of (lat, lon) in degrees, different per k."""
    la, lo = np.meshgrid(np.radians(lat), np.radians(lon), indexing="ij")
    return 280.0 + 10 * np.cos(la) * np.sin(lo + 0.3 * k) + 2 * np.sin(2 * la) + 0.5 * k


def canonical(values, lat, lon):
    """Rows north to south, columns west to east (unwrapped from the widest gap)."""
    rows = np.argsort(-lat, kind="stable")
    w = np.sort(lon % 360)
    gaps = np.diff(np.concatenate([w, [w[0] + 360]]))
    if np.allclose(gaps, gaps.min()):
        west = w[0]
    else:
        west = w[(np.argmax(gaps) + 1) % len(w)]
    cols = np.argsort((lon - west) % 360, kind="stable")
    return values[..., rows, :][..., cols]


def coords(ds, lat, lon, ftype="f8"):
    ds.createDimension("latitude", len(lat))
    ds.createDimension("longitude", len(lon))
    v = ds.createVariable("latitude", ftype, ("latitude",))
    v.units, v.standard_name = "degrees_north", "latitude"
    v[:] = lat
    v = ds.createVariable("longitude", ftype, ("longitude",))
    v.units, v.standard_name = "degrees_east", "longitude"
    v[:] = lon


def record(name, lat, lon, fields):
    lat_c = np.sort(lat)[::-1]
    expect[name] = {
        "north": float(lat_c[0]),
        "south": float(lat_c[-1]),
        "nlat": len(lat),
        "nlon": len(lon),
        "fields": fields,
    }


def entry(var, level, time, values):
    flat = values.ravel()
    return {
        "var": var,
        "level": level,
        "time": time,
        "missing": int(np.isnan(flat).sum()),
        "values": [None if np.isnan(x) else float(x) for x in flat],
    }


# --- new CDS layout -------------------------------------------------------
lat = np.arange(60.0, 49.99, -0.5)
lon = np.arange(-10.0, 5.01, 0.5)
times = T0 + 6 * 3600 * np.arange(3)
levels = np.array([500.0, 850.0])
with netCDF4.Dataset(f"{out}/box_new.nc", "w", format="NETCDF4") as ds:
    ds.GRIB_centre, ds.Conventions = "ecmf", "CF-1.7"
    ds.createDimension("valid_time", len(times))
    ds.createDimension("pressure_level", len(levels))
    coords(ds, lat, lon)
    v = ds.createVariable("valid_time", "i8", ("valid_time",))
    v.units, v.calendar, v.standard_name = "seconds since 1970-01-01", "proleptic_gregorian", "time"
    v[:] = times
    v = ds.createVariable("pressure_level", "f8", ("pressure_level",))
    v.units, v.long_name = "hPa", "pressure"
    v[:] = levels
    v = ds.createVariable("number", "i8", ())
    v.long_name = "ensemble member numerical id"
    v.assignValue(0)
    v = ds.createVariable("expver", str, ("valid_time",))
    for k in range(len(times)):
        v[k] = "0001"
    z = np.stack([[5.5e4 + 100 * field(lat, lon, k + l) for l in range(2)] for k in range(3)])
    t2m = np.stack([field(lat, lon, k) for k in range(3)])
    t2m[1, 3, 4] = np.nan  # a hole: NaN in a float32 file
    t2m[1, 0, 0] = np.nan
    zv = ds.createVariable("z", "f4", ("valid_time", "pressure_level", "latitude", "longitude"),
                           zlib=True, complevel=1, fill_value=np.float32(np.nan))
    zv.units, zv.long_name, zv.GRIB_shortName = "m**2 s**-2", "Geopotential", "z"
    zv[:] = z
    tv = ds.createVariable("t2m", "f4", ("valid_time", "latitude", "longitude"),
                           zlib=True, complevel=1, fill_value=np.float32(np.nan))
    tv.units, tv.long_name = "K", "2 metre temperature"
    tv[:] = t2m
    z32, t32 = z.astype(np.float32).astype(np.float64), t2m.astype(np.float32).astype(np.float64)
record("box_new.nc", lat, lon, [
    entry("z", 850, int(times[2]), canonical(z32[2, 1], lat, lon)),
    entry("t2m", None, int(times[1]), canonical(t32[1], lat, lon)),
])

# --- old CDS layout, int16 packed, box across 0 deg stored in [0, 360) ----
lat = np.arange(45.0, 39.99, -1.0)
lon = np.concatenate([np.arange(0.0, 10.01, 1.0), np.arange(350.0, 359.01, 1.0)])
hours = (T0 - (-2208988800)) // 3600 + 6 * np.arange(2)  # hours since 1900-01-01
with netCDF4.Dataset(f"{out}/box_old.nc", "w", format="NETCDF3_64BIT_OFFSET") as ds:
    ds.Conventions = "CF-1.6"
    ds.createDimension("time", None)
    ds.createDimension("level", 1)
    coords(ds, lat, lon, "f4")
    v = ds.createVariable("time", "i4", ("time",))
    v.units, v.calendar, v.long_name = "hours since 1900-01-01 00:00:00.0", "gregorian", "time"
    v[:] = hours
    v = ds.createVariable("level", "i4", ("level",))
    v.units, v.long_name = "millibars", "pressure_level"
    v[:] = [500]
    t = np.stack([[field(lat, lon, 2 * k) - 30] for k in range(2)])  # (time, level, lat, lon)
    scale, offset = (t.max() - t.min()) / 65000.0, (t.max() + t.min()) / 2
    raw = np.round((t - offset) / scale).astype(np.int16)
    raw[0, 0, 2, 5] = -32767  # missing
    tv = ds.createVariable("t", "i2", ("time", "level", "latitude", "longitude"), fill_value=np.int16(-32767))
    tv.set_auto_maskandscale(False)
    tv.scale_factor, tv.add_offset = scale, offset
    tv.missing_value = np.int16(-32767)
    tv.units, tv.long_name = "K", "Temperature"
    tv[:] = raw
    phys = np.where(raw == -32767, np.nan, raw * scale + offset)
record("box_old.nc", lat, lon, [
    entry("t", 500, int(T0), canonical(phys[0, 0], lat, lon)),
    entry("t", 500, int(T0 + 6 * 3600), canonical(phys[1, 0], lat, lon)),
])

# --- ascending latitudes, float64, a static mask and msl ------------------
lat = np.arange(-20.0, 0.01, 2.5)
lon = np.arange(100.0, 140.01, 2.5)
with netCDF4.Dataset(f"{out}/box_asc.nc", "w", format="NETCDF4") as ds:
    ds.createDimension("time", 2)
    coords(ds, lat, lon)
    v = ds.createVariable("time", "f8", ("time",))
    v.units = "days since 2020-01-01"
    v[:] = [0.0, 0.25]
    lsm = (rng.random((len(lat), len(lon))) > 0.5).astype(np.float64)
    v = ds.createVariable("lsm", "f8", ("latitude", "longitude"))
    v.units = "(0 - 1)"
    v[:] = lsm
    msl = np.stack([1.0e5 + 50 * field(lat, lon, k) for k in range(2)])
    v = ds.createVariable("mean_sea_level_pressure", "f8", ("time", "latitude", "longitude"))
    v.units = "Pa"
    v[:] = msl
record("box_asc.nc", lat, lon, [
    entry("lsm", None, None, canonical(lsm, lat, lon)),
    entry("msl", None, int(T0 + 6 * 3600), canonical(msl[1], lat, lon)),
])

# --- a global monthly climatology ----------------------------------------
lat = np.arange(90.0, -90.01, -10.0)
lon = np.arange(0.0, 359.99, 10.0)
with netCDF4.Dataset(f"{out}/clim_month.nc", "w", format="NETCDF4") as ds:
    ds.createDimension("month", 12)
    coords(ds, lat, lon)
    v = ds.createVariable("month", "i4", ("month",))
    v.long_name = "month of the year"
    v[:] = np.arange(1, 13)
    clim = np.stack([field(lat, lon, m) for m in range(12)])
    v = ds.createVariable("t2m", "f4", ("month", "latitude", "longitude"))
    v.units = "K"
    v[:] = clim
record("clim_month.nc", lat, lon, [])

# --- ERA5 / ERA5T mix along expver ----------------------------------------
lat = np.arange(10.0, 4.99, -1.0)
lon = np.arange(-5.0, 5.01, 1.0)
with netCDF4.Dataset(f"{out}/expver.nc", "w", format="NETCDF4") as ds:
    ds.createDimension("time", 2)
    ds.createDimension("expver", 2)
    coords(ds, lat, lon, "f4")
    v = ds.createVariable("time", "i4", ("time",))
    v.units, v.calendar = "hours since 1900-01-01 00:00:00.0", "gregorian"
    v[:] = (T0 - (-2208988800)) // 3600 + 6 * np.arange(2)
    v = ds.createVariable("expver", "i4", ("expver",))
    v[:] = [1, 5]
    t = np.full((2, 2, len(lat), len(lon)), np.nan)
    t[0, 0] = field(lat, lon, 0)  # ERA5 holds the first time
    t[1, 1] = field(lat, lon, 1)  # ERA5T the second
    v = ds.createVariable("t2m", "f4", ("time", "expver", "latitude", "longitude"),
                          fill_value=np.float32(np.nan))
    v.units = "K"
    v[:] = t
    t32 = t.astype(np.float32).astype(np.float64)
    merged = np.where(np.isnan(t32[:, 0]), t32[:, 1], t32[:, 0])
record("expver.nc", lat, lon, [
    entry("t2m", None, int(T0), canonical(merged[0], lat, lon)),
    entry("t2m", None, int(T0 + 6 * 3600), canonical(merged[1], lat, lon)),
])

json.dump(expect, sys.stdout)
