#!/usr/bin/env python3
"""Python reference for data/benches/read.rs: read and decode (mask + scale)
the 72 FastNet forecast fields per time with netCDF4, one thread, on the
fixture the Rust benchmark wrote.

    python3 scripts/bench_read.py [DIR]   # default $TMPDIR/fastnet-bench-1deg
"""
import os
import sys
import tempfile
import time

import netCDF4
import numpy as np

d = sys.argv[1] if len(sys.argv) > 1 else os.path.join(tempfile.gettempdir(), "fastnet-bench-1deg")
pl = netCDF4.Dataset(os.path.join(d, "era5_pl.nc"))
sfc = netCDF4.Dataset(os.path.join(d, "era5_sfc.nc"))
nt = len(pl.dimensions["time"])
nl = len(pl.dimensions["level"])
fields = 0
nbytes = 0
start = time.perf_counter()
for t in range(nt):
    for v in ["z", "q", "t", "u", "v"]:
        for l in range(nl):
            a = np.asarray(pl.variables[v][t, l, :, :], dtype=np.float32)
            fields += 1
            nbytes += a.size * 4
    for v in ["u10", "v10", "d2m", "t2m", "msl", "skt", "sp"]:
        a = np.asarray(sfc.variables[v][t, :, :], dtype=np.float32)
        fields += 1
        nbytes += a.size * 4
secs = time.perf_counter() - start
print(f"python netCDF4 {netCDF4.__version__}, 1 thread: {fields} fields in {secs:.3f} s = "
      f"{fields / secs:.0f} fields/s, {nbytes / 1e6 / secs:.0f} MB/s decoded f32")

try:
    import xarray as xr
except ImportError:
    sys.exit(0)
pl = xr.open_dataset(os.path.join(d, "era5_pl.nc"), cache=False)
sfc = xr.open_dataset(os.path.join(d, "era5_sfc.nc"), cache=False)
fields = 0
nbytes = 0
start = time.perf_counter()
for t in range(nt):
    for v in ["z", "q", "t", "u", "v"]:
        for l in range(nl):
            a = pl[v].isel(time=t, level=l).values.astype(np.float32)
            fields += 1
            nbytes += a.size * 4
    for v in ["u10", "v10", "d2m", "t2m", "msl", "skt", "sp"]:
        a = sfc[v].isel(time=t).values.astype(np.float32)
        fields += 1
        nbytes += a.size * 4
secs = time.perf_counter() - start
print(f"python xarray {xr.__version__}, 1 thread: {fields} fields in {secs:.3f} s = "
      f"{fields / secs:.0f} fields/s, {nbytes / 1e6 / secs:.0f} MB/s decoded f32")
