#!/usr/bin/env bash
# The main job on built-in data, end to end on CPU:
#   1. set up (once) and build the release binary; check libtorch;
#   2. generate ERA5-layout NetCDF (the data crate's analytic test
#      atmosphere: FastNet's variables on a 5° grid, 6-hourly, 40 days) and
#      pick a small channel set (6 forecast, 8 non-forecast channels) that
#      a CPU can learn in a minute;
#   3. inspect it, compute normalisation statistics, build the graph;
#   4. train two small FastNet models with the same budget: plain weighted
#      MSE, and MSE + AMSE spectral loss + gradient + wind terms;
#   5. roll both out 48 h from held-out init times, score them against the
#      truth (WeatherBench2 metrics), compute spectra, and draw plots.
# Everything goes to out/ (FASTNET_OUT to change); a second run reuses
# what exists. FASTNET_STEPS sets the training steps (default 400).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh >/dev/null
cargo build --release --locked --quiet --bin fastnet --example make_fixture -p fastnet -p fastnet-data
bin=target/release/fastnet
out="${FASTNET_OUT:-out}"
steps="${FASTNET_STEPS:-400}"
forecast_channels="z500,t850,u850,v850,t2m,msl"
nonforecast_channels="cos_lat,cos_lon,sin_lon,cos_local_time,sin_local_time,toa_incident_solar,lsm,orography"
toml_list() { echo "$1" | sed 's/[^,]*/"&"/g; s/,/, /g'; }
mkdir -p "$out"
step() { printf '\n== %s\n' "$*"; }

step "libtorch"
"$bin" env

step "data: synthetic ERA5 layout, 5°, 160 times from 2020-01-01"
if [ ! -f "$out/data/era5_pl.nc" ]; then
  target/release/examples/make_fixture "$out/data" 5 160 new
fi
"$bin" data inspect "$out/data" | tail -n 12

step "statistics over the training period"
[ -f "$out/stats.json" ] || "$bin" stats --data "$out/data" --from 2020-01-01 --to 2020-01-31 \
  --forecast "$forecast_channels" --non-forecast "$nonforecast_channels" -o "$out/stats.json"

step "graph: 5° grid, level-3 multi-mesh, FastNet rules"
[ -f "$out/graph.safetensors" ] || "$bin" graph build --grid latlon:5 --mesh-level 3 -o "$out/graph.safetensors"
"$bin" graph info "$out/graph.safetensors"

write_config() { # name, extra [loss] lines
  cat >"$out/$1.toml" <<TOML
[data]
paths = ["data"]
stats = "stats.json"
train = ["2020-01-01", "2020-01-31"]
valid = ["2020-02-01", "2020-02-10"]
forecast = [$(toml_list "$forecast_channels")]
non_forecast = [$(toml_list "$nonforecast_channels")]

[graph]
file = "graph.safetensors"

[model]
hidden = 64
processor_layers = 2

[loss]
$2

[optim]
lr = 1e-3
weight_decay = 0.0
warmup_steps = 10

[train]
batch_size = 2
steps = $steps
curriculum = [{ from_step = 0, rollout = 1 }, { from_step = $((steps * 2 / 3)), rollout = 2 }]
valid_interval = 50
valid_batches = 2
device = "auto"
checkpoint_dir = "$1/checkpoints"
checkpoint_interval = 50
metrics = "$1/metrics.jsonl"
TOML
}
write_config mse "mse = 1.0"
write_config physics $'mse = 1.0\namse = 0.05\ngrad_x = 0.1\ngrad_y = 0.1\nwind = true'

for model in mse physics; do
  step "train: $model"
  "$bin" train --config "$out/$model.toml" --resume
  step "forecast: $model, 48 h from 5 held-out init times"
  "$bin" forecast --checkpoint "$out/$model/checkpoints" --data "$out/data" \
    --init 2020-02-01..2020-02-05/24 --steps 8 -o "$out/$model/forecast.nc"
done

step "persistence baseline"
"$bin" forecast --persistence --checkpoint "$out/mse/checkpoints" --data "$out/data" \
  --init 2020-02-01..2020-02-05/24 --steps 8 -o "$out/persistence.nc"

step "scores (WeatherBench2 metrics)"
"$bin" eval --forecast mse="$out/mse/forecast.nc" physics="$out/physics/forecast.nc" persistence="$out/persistence.nc" \
  --truth "$out/data" -o "$out/scores" | awk 'NR == 1 || /^scored/ || ($2 ~ /^(z500|t850|t2m)$/ && $3 % 24 == 0)'

step "spectra and effective resolution"
"$bin" spectra --forecast mse="$out/mse/forecast.nc" physics="$out/physics/forecast.nc" persistence="$out/persistence.nc" \
  --truth "$out/data" --variables z500,t850,t2m --leads 24,48 -o "$out/spectra.json"

step "plots"
"$bin" plot rmse "$out/scores/scores.json" --variables z500,t850,t2m,msl -o "$out/rmse.png"
"$bin" plot spectra "$out/spectra.json" -o "$out/spectra.png"
"$bin" plot map --forecast physics="$out/physics/forecast.nc" --truth "$out/data" \
  --variable t850 --lead 48 --lsm "$out/data/era5_static.nc" -o "$out/map_t850.png"
"$bin" loss --forecast "$out/physics/forecast.nc" --truth "$out/data" --stats "$out/stats.json" \
  --config "$out/physics.toml" | tail -n 4
echo
echo "done: scores in $out/scores, plots $out/rmse.png $out/spectra.png $out/map_t850.png"
