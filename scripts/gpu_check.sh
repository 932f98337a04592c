#!/usr/bin/env bash
# The GPU check, as one script: on a CUDA machine (which has the same torch
# wheel but no Rust toolchain and no network) it takes a release binary built
# on a CPU machine and runs `fastnet env`, then short trainings of a
# full-size FastNet (hidden 768, 16 processor layers) on the built-in toy
# atmosphere at 1° in f32 and bf16, each with and without recompute (2-step
# rollouts), and a forecast, and prints one table: step time, samples/s, the
# steps' data wait, peak GPU memory (nvidia-smi), and the loader's rate.
#
#   build here:  cargo build --release --bin fastnet
#   run there:   bash scripts/gpu_check.sh target/release/fastnet
#
# Settings (environment): FASTNET_TORCH_LIB (torch/lib of the machine's
# Python; default: found under /opt/torch/.venv), DEVICE (cuda), HIDDEN
# (768), LAYERS (16), MESH (5), STEPS (12 per configuration), GRID (the
# toy atmosphere's grid, 180x360 = 1°), DAYS (4), OUT (a temporary folder).
# DEVICE=cpu HIDDEN=16 LAYERS=1 MESH=2 GRID=32x64 runs the same script as a
# quick dry run on a CPU machine.
set -euo pipefail
bin="$(realpath "${1:-target/release/fastnet}")"
device="${DEVICE:-cuda}"
hidden="${HIDDEN:-768}"
layers="${LAYERS:-16}"
mesh="${MESH:-5}"
steps="${STEPS:-12}"
grid="${GRID:-180x360}"
days="${DAYS:-4}"
out="${OUT:-$(mktemp -d)}"
say() { printf '== %s\n' "$*" >&2; }

[ -x "$bin" ] || { echo "error: no fastnet binary at $bin (build it with cargo build --release)" >&2; exit 1; }
lib="${FASTNET_TORCH_LIB:-}"
if [ -z "$lib" ]; then
  lib="$(ls -d /opt/torch/.venv/lib/python3*/site-packages/torch/lib 2>/dev/null | head -n 1 || true)"
fi
if [ -n "$lib" ]; then
  export LD_LIBRARY_PATH="$lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
fi
# libnetcdf and its libraries may be carried beside the binary
export LD_LIBRARY_PATH="$(dirname "$bin")/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"

say "libtorch"
"$bin" env

say "toy atmosphere on $grid ($days days)"
[ -f "$out/synth/synth_static.nc" ] || "$bin" synth -o "$out/synth" --grid "$grid" --days "$days" --spinup-days 1 >&2
[ -f "$out/stats.json" ] || "$bin" stats --data "$out/synth" --from 2000-01-01 --to 2000-01-03 \
  --forecast z500,u500,v500,t500 --non-forecast cos_lat,cos_lon,sin_lon -o "$out/stats.json" >&2

# peak GPU memory of a command, sampled by nvidia-smi (MiB; "-" without it)
peak_memory() {
  if ! command -v nvidia-smi >/dev/null || [ "$device" = cpu ]; then
    "$@" >&2
    echo "-"
    return
  fi
  local log="$out/memory.log"
  nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits -lms 200 >"$log" &
  local smi=$!
  "$@" >&2 || { kill "$smi"; return 1; }
  kill "$smi" 2>/dev/null || true
  sort -n "$log" | tail -n 1
}

rows=()
for precision in f32 bf16; do
  for recompute in false true; do
    name="$precision-recompute-$recompute"
    dir="$out/$name"
    rm -rf "$dir"
    mkdir -p "$dir"
    cat >"$dir/train.toml" <<TOML
[data]
paths = ["$out/synth"]
stats = "$out/stats.json"
train = ["2000-01-01", "2000-01-03"]
forecast = ["z500", "u500", "v500", "t500"]
non_forecast = ["cos_lat", "cos_lon", "sin_lon"]
[graph]
mesh_level = $mesh
[model]
hidden = $hidden
processor_layers = $layers
[loss]
amse = 1.0
grad_x = 0.1
grad_y = 0.1
wind = true
[train]
batch_size = 1
steps = $steps
curriculum = [{ from_step = 0, rollout = 2 }]
valid_interval = 0
checkpoint_interval = 0
device = "$device"
precision = "$precision"
recompute = $recompute
TOML
    say "train $name"
    mem="$(peak_memory "$bin" train --config "$dir/train.toml")"
    # the steps after the first two (start-up, allocator warm-up)
    summary="$(python3 - "$dir/metrics.jsonl" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if '"loss"' in l][2:]
step = statistics.median(1 / r["samples_per_s"] for r in rows)
wait = statistics.median(r.get("data_wait_s", 0.0) for r in rows)
print(f"{step:.3f} {1 / step:.2f} {wait:.3f}")
PY
)"
    read -r step rate wait <<<"$summary"
    rows+=("| $precision | $recompute | $step | $rate | $wait | $mem |")
  done
done

say "forecast (f32, 8 steps)"
ckpt="$out/f32-recompute-false/checkpoints"
start=$(date +%s.%N)
"$bin" forecast --checkpoint "$ckpt" --data "$out/synth" --init 2000-01-03T00 --steps 8 --device "$device" -o "$out/forecast.nc" >&2
forecast_s=$(python3 -c "import time; print(f'{time.time() - $start:.1f}')")

echo
echo "fastnet GPU check: $("$bin" --version), device $device, FastNet hidden $hidden x $layers layers, mesh level $mesh, grid $grid, 7 channels, batch 1, 2-step rollouts"
echo
echo "| precision | recompute | step s | samples/s | data wait s | peak GPU MiB |"
echo "|---|---|---|---|---|---|"
printf '%s\n' "${rows[@]}"
echo
echo "forecast: 8 steps in $forecast_s s (including start-up)"
