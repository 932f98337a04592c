"""The released FastNet's forecast computed the way fastnet-inference computes
it, independently of fastnet, and compared with a `fastnet forecast` file.

    python reference_forward.py --weights model.safetensors --stats stats.json \
        --data FILE.nc... --init 2021-12-31T06 --steps 2 --forecast forecast.nc

The input side re-implements fastnet-inference's data path (`data.py`,
`eval.py`) on the ERA5 NetCDF files fastnet reads: anemoi channel names in
the key order of `stats.json` (forecast channels first), every channel
standardised `(x - mean) / stdev` except `cos_latitude`, `cos_longitude`,
`sin_longitude` (raw), anemoi's `orography` (surface geopotential / g, as
anemoi's `z_to_orog` makes it) multiplied by g before standardising, and the
forcings as anemoi-datasets computes them (earthkit-data's forcings and
earthkit-meteo's `cos_solar_zenith_angle` for `insolation`). The network is
the suite's plain PyTorch FastNet (bench_model.py) fed
`[non-forecast, forecast]` as network.py does; step k uses the forcings at
the valid time of its input state (eval.py's `_rollout_loop`).

Prints one JSON line: the largest difference to the forecast file in
normalised units (difference / stdev), the channel and step where it is,
`ratio` = the largest difference over its tolerance (1e-5 of the channel's
largest normalised value, at least 1e-5, plus 8 float32 roundings of the
physical value), the largest normalised change from the initial state (to
show the network moved the state), and the names missing from / unexpected
in the weights.
"""
import argparse
import datetime
import json
import os
import sys

import numpy as np
import torch

try:
    import netCDF4
except ImportError as e:  # pragma: no cover
    sys.exit(f"{e}: run scripts/setup.sh (it installs netCDF4 into the venv)")

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_model import FastNet, read_safetensors  # noqa: E402

G = 9.80665  # anemoi's z_to_orog and data.py's GRAVITATIONAL_ACCELERATION
RAW = {"cos_latitude", "cos_longitude", "sin_longitude"}
# anemoi's (GRIB) short names of surface fields -> the names of ERA5 NetCDF files
SURFACE = {"10u": "u10", "10v": "v10", "2d": "d2m", "2t": "t2m", "msl": "msl", "skt": "skt", "sp": "sp"}
STATIC = {"lsm", "sdor", "slor"}
GRAPH_BUFFERS = {"mesh_features"} | {
    f"{g}_edge_{kind}.0" for g in ("encoder", "mesh", "decoder") for kind in ("index", "features")
}


# --- anemoi-datasets' computed forcings (earthkit-data / earthkit-meteo) ---

def julian_day(t):
    d = t - datetime.datetime(t.year, 1, 1)
    return d.days + d.seconds / 86400.0


def cos_solar_zenith_angle(t, lat, lon):
    """earthkit-meteo: Hogan & Hirahara (2015) declination and time
    correction in jd / 365.25, hour angle from the integer UTC hour, clipped
    at 0."""
    a = julian_day(t) / 365.25 * np.pi * 2
    decl = (0.396372 - 22.91327 * np.cos(a) + 4.025430 * np.sin(a) - 0.387205 * np.cos(2 * a)
            + 0.051967 * np.sin(2 * a) - 0.154527 * np.cos(3 * a) + 0.084798 * np.sin(3 * a))
    tc = (0.004297 + 0.107029 * np.cos(a) - 1.837877 * np.sin(a) - 0.837378 * np.cos(2 * a)
          - 2.340475 * np.sin(2 * a))
    decl, la = np.deg2rad(decl), np.deg2rad(lat)
    angle = np.deg2rad((t.hour - 12) * 15 + lon + tc)
    return np.clip(np.sin(decl) * np.sin(la) + np.cos(decl) * np.cos(la) * np.cos(angle), 0.0, None)


def forcing(name, t, lat, lon):
    if name == "cos_latitude":
        return np.cos(np.deg2rad(lat))
    if name == "cos_longitude":
        return np.cos(np.deg2rad(lon))
    if name == "sin_longitude":
        return np.sin(np.deg2rad(lon))
    if name in ("cos_julian_day", "sin_julian_day"):
        f = np.cos if name.startswith("cos") else np.sin
        return np.full(lat.shape, f(julian_day(t) / 365.25 * np.pi * 2))
    if name in ("cos_local_time", "sin_local_time"):
        hours = (t - datetime.datetime(t.year, t.month, t.day)).seconds / 3600.0
        local = (lon / 360.0 * 24.0 + hours) % 24
        f = np.cos if name.startswith("cos") else np.sin
        return f(local / 24 * np.pi * 2)
    if name == "insolation":
        return cos_solar_zenith_angle(t, lat, lon)
    return None


# --- the ERA5 NetCDF files (point dimension `values`) ---

class Files:
    def __init__(self, paths):
        self.vars = {}  # (name, has_level) -> (dataset, variable name)
        self.lat = self.lon = None
        for p in paths:
            ds = netCDF4.Dataset(p)
            ds.set_auto_mask(False)
            for name, v in ds.variables.items():
                if "values" not in v.dimensions or name in ("latitude", "longitude"):
                    continue
                has_level = any(d in ("pressure_level", "level") for d in v.dimensions)
                self.vars[(name, has_level)] = ds
            if self.lat is None and "latitude" in ds.variables:
                self.lat = np.asarray(ds["latitude"][:], dtype=np.float64)
                self.lon = np.asarray(ds["longitude"][:], dtype=np.float64)

    @staticmethod
    def _time_index(ds, t):
        name = "valid_time" if "valid_time" in ds.variables else "time"
        v = ds[name]
        times = netCDF4.num2date(v[:], v.units, only_use_cftime_datetimes=False,
                                 only_use_python_datetimes=True)
        times = [datetime.datetime(x.year, x.month, x.day, x.hour, x.minute, x.second) for x in times]
        return times.index(t) if t in times else None

    def field(self, name, level, t):
        ds = self.vars.get((name, level is not None))
        if ds is None:
            sys.exit(f"no variable {name} ({'level ' + str(level) if level else 'surface'}) in the data")
        v = ds[name]
        index = []
        for d in v.dimensions:
            if d in ("valid_time", "time"):
                k = self._time_index(ds, t)
                index.append(0 if k is None and ds.dimensions[d].size == 1 else k)
            elif d in ("pressure_level", "level"):
                index.append(list(np.asarray(ds[d][:]).round().astype(int)).index(level))
            elif d == "values":
                index.append(slice(None))
            else:
                index.append(0)
        return np.asarray(v[tuple(index)], dtype=np.float64)


def anemoi_field(files, name, t):
    """An anemoi channel in anemoi's units (orography: m)."""
    f = forcing(name, t, files.lat, files.lon)
    if f is not None:
        return f
    if name == "orography":
        return files.field("z", None, t) / G
    if name in STATIC:
        return files.field(name, None, t)
    if name in SURFACE:
        return files.field(SURFACE[name], None, t)
    var, level = name.rsplit("_", 1)
    return files.field(var, int(level), t)


def fastnet_name(name):
    """Variable and level of a forecast channel in fastnet's forecast file."""
    if name in SURFACE:
        return SURFACE[name], None
    var, level = name.rsplit("_", 1)
    return var, int(level)


def load_network(weights_path):
    """The suite's PyTorch FastNet with the release's tensors, its forecast
    channel count and the load result (missing / unexpected names)."""
    w = {k: torch.from_numpy(np.array(v)) for k, v in read_safetensors(weights_path).items()}
    hidden = w["mesh_edge_embedder.layers.0.weight"].shape[0]
    layers = len({k.split(".")[2] for k in w if k.startswith("processor.interaction_nets.")})
    channels = w["encoder.grid2mesh_net.edge_mlp.layers.0.weight"].shape[1] - w["encoder_edge_features.0"].shape[1]
    n_fc = w["decoder.out_mlp.layers.2.weight"].shape[0]
    model = FastNet({k: w[k] for k in GRAPH_BUFFERS}, hidden, layers, channels, n_fc)
    result = model.load_state_dict({k: v for k, v in w.items() if k not in GRAPH_BUFFERS}, strict=False)
    return model, channels, n_fc, result


def reference_forecast(weights, stats_path, data, t0, steps, step_hours=6):
    """fastnet-inference's rollout: returns the anemoi names, mean, stdev,
    the normalised initial forecast state [grid, F] and the physical
    forecast states [steps][grid, F], and the network with its load result."""
    model, channels, n_fc, result = load_network(weights)
    with open(stats_path) as f:
        stats = json.load(f)  # keeps the key order: the feature order
    names = list(stats["mean"])
    mean = np.array([stats["mean"][n] for n in names])
    std = np.array([stats["stdev"][n] for n in names])
    raw = [k for k, n in enumerate(names) if n in RAW]
    orog = names.index("orography")
    if len(names) != channels:
        sys.exit(f"stats.json has {len(names)} channels, the weights {channels}")
    files = Files(data)
    step = datetime.timedelta(hours=step_hours)

    def normalised(t, which):
        x = np.stack([anemoi_field(files, names[k], t) for k in which], axis=-1)
        if orog in which:
            x[:, which.index(orog)] *= G
        out = (x - mean[which]) / std[which]
        for k in raw:
            if k in which:
                out[:, which.index(k)] = x[:, which.index(k)]
        return torch.from_numpy(out).float().unsqueeze(0)

    state = normalised(t0, list(range(n_fc)))
    initial = state[0].double().numpy()
    outputs = []
    with torch.no_grad():
        for k in range(steps):
            nf = normalised(t0 + k * step, list(range(n_fc, channels)))
            state = model(torch.cat([nf, state], dim=-1))
            outputs.append(state[0].double().numpy() * std[:n_fc] + mean[:n_fc])
    return {"names": names[:n_fc], "mean": mean[:n_fc], "std": std[:n_fc], "initial": initial,
            "outputs": outputs, "model": model, "load": result}


def compare(ref, forecast_path, t0, step_hours=6):
    """Largest differences of a fastnet forecast file to `ref`."""
    fc = netCDF4.Dataset(forecast_path)
    fc.set_auto_mask(False)
    inits = netCDF4.num2date(fc["init_time"][:], fc["init_time"].units,
                             only_use_cftime_datetimes=False, only_use_python_datetimes=True)
    i = [datetime.datetime(x.year, x.month, x.day, x.hour) for x in inits].index(t0)
    leads = list(np.asarray(fc["lead_time"][:]).round().astype(int))
    fc_levels = list(np.asarray(fc["level"][:]).round().astype(int)) if "level" in fc.variables else []
    mean, std = ref["mean"], ref["std"]
    worst = {"ratio": -1.0}
    max_diff = max_ref = max_change = 0.0
    for k, out in enumerate(ref["outputs"]):
        lead = leads.index((k + 1) * step_hours)
        for c, name in enumerate(ref["names"]):
            var, level = fastnet_name(name)
            v = fc[var]
            ours = v[i, lead, fc_levels.index(level)] if level is not None else v[i, lead]
            ours = np.asarray(ours, dtype=np.float64)
            ref_c = out[:, c]
            ref_n = (ref_c - mean[c]) / std[c]
            diff = np.abs(ours - ref_c) / std[c]
            tol = 1e-5 * max(1.0, np.abs(ref_n).max()) + 8 * 2.0 ** -24 * np.abs(ref_c) / std[c]
            r = diff / tol
            j = int(np.argmax(r))
            max_diff = max(max_diff, float(diff.max()))
            max_ref = max(max_ref, float(np.abs(ref_n).max()))
            if k == 0:
                max_change = max(max_change, float(np.abs(ref_n - ref["initial"][:, c]).max()))
            if r[j] > worst["ratio"]:
                worst = {"ratio": float(r[j]), "channel": name, "step": k + 1, "point": j,
                         "fastnet": float(ours[j]), "reference": float(ref_c[j])}
    return {
        "ratio": worst["ratio"],
        "worst": worst,
        "max_norm_diff": max_diff,
        "max_norm_output": max_ref,
        "max_norm_change_step1": max_change,
        "channels": len(ref["names"]),
        "steps": len(ref["outputs"]),
        "parameters": sum(p.numel() for p in ref["model"].parameters()),
        "missing": list(ref["load"].missing_keys),
        "unexpected": list(ref["load"].unexpected_keys),
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--weights", required=True)
    ap.add_argument("--stats", required=True)
    ap.add_argument("--data", nargs="+", required=True)
    ap.add_argument("--init", required=True)
    ap.add_argument("--steps", type=int, required=True)
    ap.add_argument("--step-hours", type=int, default=6)
    ap.add_argument("--forecast", required=True)
    a = ap.parse_args()
    t0 = datetime.datetime.fromisoformat(a.init)
    ref = reference_forecast(a.weights, a.stats, a.data, t0, a.steps, a.step_hours)
    print(json.dumps(compare(ref, a.forecast, t0, a.step_hours)))


if __name__ == "__main__":
    main()
