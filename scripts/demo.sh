#!/usr/bin/env bash
# The main job on built-in data, end to end on CPU (about 15 minutes on two
# cores once built, plus the first release build; a second run reuses what
# exists):
#   1. set up (once), build the release binary, check libtorch;
#   2. generate the toy atmosphere: a forced, turbulent shallow-water model
#      (`fastnet synth`, T42 on 64 x 128, 60 days of spin-up discarded, then
#      150 days of 6-hourly z, u, v and an advected tracer t at 500 hPa in
#      the ERA5 layout);
#   3. inspect it, compute normalisation statistics, build the graph;
#   4. train two small FastNet models with the same budget: plain weighted
#      MSE, and MSE + AMSE spectral loss + gradient + wind terms, both with a
#      2-step rollout fine-tuning at the end;
#   5. roll both out 5 days from held-out init times, write the persistence
#      and climatology baselines, score all four against the truth, compute
#      spectra and effective resolution, draw the plots and write
#      out/report.md.
# Outputs go to out/ (FASTNET_OUT to change). FASTNET_STEPS sets the training
# steps per model (default 600).
#
# FASTNET_GRID=o96 runs the same job on FastNet's own grid: the toy
# atmosphere is regridded (first-order conservative) to the octahedral
# reduced Gaussian O96 (40,320 points), the graph is FastNet-global's level-5
# mesh with its 2 / 3 edges per point, and every spectrum comes from the
# octahedral transform, truncated at l = 31 (FASTNET_LMAX), the band limit
# of the toy atmosphere's output (synth writes its 64 x 128 fields through
# the lat-lon transform's lmax 31), so that the small scales compared are
# ones the truth has. Outputs go to
# out-o96/. About five times the main job's training time at the same steps.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh >/dev/null
cargo build --release --locked --quiet --bin fastnet
bin=target/release/fastnet
grid="${FASTNET_GRID:-latlon}"
if [ "$grid" = latlon ]; then
  out="${FASTNET_OUT:-out}"
  mesh_level=4
  graph_grid=latlon-nopoles:64x128
  grid_text="64 x 128"
  spectra_lmax=()
else
  out="${FASTNET_OUT:-out-$grid}"
  mesh_level="${FASTNET_MESH_LEVEL:-5}"
  graph_grid="$grid"
  grid_text="$grid, regridded from 64 x 128"
  spectra_lmax=(--lmax "${FASTNET_LMAX:-31}")
fi
steps="${FASTNET_STEPS:-600}"
forecast_channels="z500,u500,v500,t500"
nonforecast_channels="cos_lat,cos_lon,sin_lon"
toml_list() { echo "$1" | sed 's/[^,]*/"&"/g; s/,/, /g'; }
mkdir -p "$out"
step() { printf '\n== %s\n' "$*"; }

step "libtorch"
"$bin" env

step "toy atmosphere: forced shallow water, T42 on 64 x 128"
if [ "$grid" = latlon ]; then
  [ -f "$out/synth/synth_static.nc" ] || "$bin" synth -o "$out/synth" --days 150 --spinup-days 60
else
  [ -f "$out/synth-latlon/synth_static.nc" ] || "$bin" synth -o "$out/synth-latlon" --days 150 --spinup-days 60
  step "regrid to $grid (first-order conservative)"
  [ -f "$out/synth/synth_static.nc" ] || "$bin" data regrid --grid "$grid" --method conservative "$out"/synth-latlon/*.nc -o "$out/synth"
fi
"$bin" data inspect "$out/synth" | tail -n 8

step "statistics over the training period"
[ -f "$out/stats.json" ] || "$bin" stats --data "$out/synth" --from 2000-01-01 --to 2000-03-31 \
  --forecast "$forecast_channels" --non-forecast "$nonforecast_channels" -o "$out/stats.json"

step "graph: level-$mesh_level multi-mesh, FastNet rules"
[ -f "$out/graph.safetensors" ] || "$bin" graph build --grid "$graph_grid" --mesh-level "$mesh_level" -o "$out/graph.safetensors"
"$bin" graph info "$out/graph.safetensors" | head -n 4

write_config() { # name, [loss] lines
  cat >"$out/$1.toml" <<TOML
[data]
paths = ["synth"]
stats = "stats.json"
train = ["2000-01-01", "2000-03-31"]
valid = ["2000-04-01", "2000-04-30"]
forecast = [$(toml_list "$forecast_channels")]
non_forecast = [$(toml_list "$nonforecast_channels")]

[graph]
file = "graph.safetensors"

[model]
hidden = 64
processor_layers = 4

[loss]
$2

[optim]
lr = 1e-3
weight_decay = 0.0
warmup_steps = 20

[train]
batch_size = 2
steps = $steps
curriculum = [{ from_step = 0, rollout = 1 }, { from_step = $((steps * 4 / 5)), rollout = 2 }]
valid_interval = 100
valid_batches = 2
device = "auto"
checkpoint_dir = "$1/checkpoints"
checkpoint_interval = 100
metrics = "$1/metrics.jsonl"
TOML
}
write_config mse "mse = 1.0"
write_config physics $'mse = 1.0\namse = 1.0\ngrad_x = 0.1\ngrad_y = 0.1\nwind = true'

inits="2000-05-01..2000-05-20/24"
for model in mse physics; do
  step "train: $model"
  "$bin" train --config "$out/$model.toml" --resume
  step "forecast: $model, 5 days from 20 held-out init times"
  "$bin" forecast --checkpoint "$out/$model/checkpoints" --data "$out/synth" --init "$inits" --steps 20 -o "$out/$model/forecast.nc"
done

step "persistence baseline"
"$bin" forecast --persistence --checkpoint "$out/mse/checkpoints" --data "$out/synth" --init "$inits" --steps 20 -o "$out/persistence.nc"

step "climatology baseline (mean state of the training period)"
"$bin" forecast --climatology 2000-01-01..2000-03-31 --checkpoint "$out/mse/checkpoints" --data "$out/synth" --init "$inits" --steps 20 -o "$out/climatology.nc"

models=(mse="$out/mse/forecast.nc" physics="$out/physics/forecast.nc" persistence="$out/persistence.nc" climatology="$out/climatology.nc")
step "scores (WeatherBench2 metrics)"
"$bin" eval --forecast "${models[@]}" --truth "$out/synth" -o "$out/scores" |
  awk 'NR == 1 || /^scored/ || ($3 == 24 || $3 == 120)'

step "spectra and effective resolution"
"$bin" spectra --forecast "${models[@]:0:3}" --truth "$out/synth" --variables z500,t500 --leads 24,120 "${spectra_lmax[@]}" -o "$out/spectra.json" | tee "$out/effective_resolution.txt"

step "plots"
"$bin" plot rmse "$out/scores/scores.json" -o "$out/rmse.png"
"$bin" plot spectra "$out/spectra.json" -o "$out/spectra.png"
"$bin" plot map --forecast physics="$out/physics/forecast.nc" --truth "$out/synth" --variable t500 --lead 120 -o "$out/map_t500.png"
"$bin" loss --forecast "$out/physics/forecast.nc" --truth "$out/synth" --checkpoint "$out/physics/checkpoints" | tail -n 3
step "report"
{
  echo "# fastnet demo: FastNet on the shallow-water toy atmosphere"
  echo
  echo "Data: \`fastnet synth\` (T42, $grid_text, 500 hPa z, u, v, tracer t), trained on 2000-01-01..03-31,"
  echo "validated on April, forecasts from 20 init times 2000-05-01..20, 5 days. Models: hidden 64,"
  echo "4 processor layers, level-$mesh_level mesh, $steps steps each (the last fifth with 2-step rollouts)."
  echo "\`mse\`: weighted MSE. \`physics\`: MSE + AMSE + 0.1 (grad x + grad y) + wind speed/direction."
  echo
  echo "## RMSE (WeatherBench2 \`rmse\`)"
  echo
  awk -F, 'NR > 1 && ($4 == 24 || $4 == 120) { v[$1 "," $2 "@" $4] = $6; m[$1] = 1; c[$2 "@" $4] = 1 }
    END {
      n = split("z500@24 z500@120 t500@24 t500@120 u500@24 u500@120 v500@24 v500@120", cols, " ")
      printf "| model |"; for (i = 1; i <= n; i++) printf " %s h |", cols[i]; print ""
      printf "|---|"; for (i = 1; i <= n; i++) printf "---|"; print ""
      split("mse physics persistence climatology", ms, " ")
      for (j = 1; j <= 4; j++) { printf "| %s |", ms[j]; for (i = 1; i <= n; i++) printf " %.3g |", v[ms[j] "," cols[i]]; print "" }
    }' "$out/scores/scores.csv"
  echo
  echo "## Effective resolution"
  echo
  echo "Effective resolution: the smallest wavelength at which the forecast still holds half the truth's power"
  echo "(- = nowhere). Small-scale power: forecast over truth power summed over l >= lmax/2; 1 keeps the"
  echo "small scales, below 1 blurs them, above 1 adds noise."
  echo
  grep -E 'effective resolution|small-scale power' "$out/effective_resolution.txt" | sed 's/^/- /'
  echo
  echo "## Plots"
  echo
  echo "![RMSE by lead time](rmse.png)"
  echo
  echo "![Power spectra](spectra.png)"
  echo
  echo "![t500 at +120 h and its error](map_t500.png)"
} > "$out/report.md"
sed -n '/## RMSE/,/## Effective/p' "$out/report.md" | head -n 9
echo
echo "done: $out/report.md, scores in $out/scores, plots $out/rmse.png $out/spectra.png $out/map_t500.png"
