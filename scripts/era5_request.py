#!/usr/bin/env python3
"""Writes Copernicus CDS API requests for FastNet's ERA5 variables.

One request per month for pressure levels (z, q, t, u, v on FastNet's 13
levels) and for single levels (10u, 10v, 2d, 2t, msl, skt, sp), 6-hourly,
plus one request for the static fields (lsm, surface geopotential, sdor,
slor), on a regular grid of the chosen resolution. Nothing is downloaded:
the requests go to REQUESTS.json and a small download.py that runs them with
the `cdsapi` client (pip install cdsapi; a CDS account and ~/.cdsapirc).

    python3 scripts/era5_request.py --from 2018-01 --to 2019-12 --grid 1.0 -o era5
    cd era5 && python3 download.py
"""
import argparse
import json
import os

LEVELS = ["50", "100", "150", "200", "250", "300", "400", "500", "600", "700", "850", "925", "1000"]
PRESSURE = ["geopotential", "specific_humidity", "temperature", "u_component_of_wind", "v_component_of_wind"]
SINGLE = [
    "10m_u_component_of_wind",
    "10m_v_component_of_wind",
    "2m_dewpoint_temperature",
    "2m_temperature",
    "mean_sea_level_pressure",
    "skin_temperature",
    "surface_pressure",
]
STATIC = ["land_sea_mask", "geopotential", "standard_deviation_of_orography", "slope_of_sub_gridscale_orography"]
TIMES = ["00:00", "06:00", "12:00", "18:00"]


def months(start, end):
    y, m = map(int, start.split("-"))
    y1, m1 = map(int, end.split("-"))
    while (y, m) <= (y1, m1):
        yield y, m
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)


def days_in(y, m):
    if m == 2:
        return 29 if (y % 4 == 0 and y % 100 != 0) or y % 400 == 0 else 28
    return 30 if m in (4, 6, 9, 11) else 31


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--from", dest="start", required=True, help="first month, YYYY-MM")
    p.add_argument("--to", dest="end", required=True, help="last month, YYYY-MM")
    p.add_argument("--grid", type=float, default=1.0, help="resolution in degrees (0.25, 1.0, ...)")
    p.add_argument("-o", "--output", required=True, help="folder for the requests and the downloads")
    a = p.parse_args()
    if 180.0 / a.grid != round(180.0 / a.grid):
        p.error(f"--grid {a.grid}: the resolution must divide 180 degrees")
    grid = [a.grid, a.grid]
    reqs = []
    for y, m in months(a.start, a.end):
        common = {
            "product_type": ["reanalysis"],
            "year": [f"{y}"],
            "month": [f"{m:02d}"],
            "day": [f"{d:02d}" for d in range(1, days_in(y, m) + 1)],
            "time": TIMES,
            "grid": grid,
            "data_format": "netcdf",
        }
        reqs.append({"dataset": "reanalysis-era5-pressure-levels", "target": f"era5_pl_{y}{m:02d}.nc",
                     "request": {**common, "variable": PRESSURE, "pressure_level": LEVELS}})
        reqs.append({"dataset": "reanalysis-era5-single-levels", "target": f"era5_sfc_{y}{m:02d}.nc",
                     "request": {**common, "variable": SINGLE}})
    y, m = map(int, a.start.split("-"))
    reqs.append({"dataset": "reanalysis-era5-single-levels", "target": "era5_static.nc",
                 "request": {"product_type": ["reanalysis"], "year": [f"{y}"], "month": [f"{m:02d}"], "day": ["01"],
                             "time": ["00:00"], "grid": grid, "data_format": "netcdf", "variable": STATIC}})
    os.makedirs(a.output, exist_ok=True)
    with open(os.path.join(a.output, "REQUESTS.json"), "w") as f:
        json.dump(reqs, f, indent=1)
    with open(os.path.join(a.output, "download.py"), "w") as f:
        f.write(
            "import json, os\nimport cdsapi\n\nc = cdsapi.Client()\n"
            "for r in json.load(open('REQUESTS.json')):\n"
            "    if not os.path.exists(r['target']):\n"
            "        c.retrieve(r['dataset'], r['request'], r['target'])\n"
        )
    print(f"wrote {len(reqs)} requests to {a.output}/REQUESTS.json; run download.py there")


if __name__ == "__main__":
    main()
