#!/usr/bin/env bash
# The main job on built-in data: sets up (once), builds the release binary,
# checks libtorch, and builds + inspects the two reference graphs:
#   * FastNet's: 1° ERA5 grid, level-5 multi-mesh, 2 / 3 nearest neighbours;
#   * GraphCast's: 0.25° ERA5 grid, level-6 multi-mesh, radius 0.6 / triangle.
# Outputs go to out/ (override with FASTNET_OUT). Re-running reuses them.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh >/dev/null
cargo build --release --locked --quiet
bin=target/release/fastnet
out="${FASTNET_OUT:-out}"
mkdir -p "$out"

echo "== libtorch"
"$bin" env
echo

build() { # name, args...
  local file="$out/$1.safetensors"
  shift
  if [ -f "$file" ]; then
    echo "reusing $file"
  else
    "$bin" graph build "$@" -o "$file"
  fi
  echo
  "$bin" graph info "$file"
  echo
}
echo "== FastNet graph (1°, level 5, k-nearest)"
build graph-fastnet-1deg-l5 --grid era5-1deg --mesh-level 5 --preset fastnet
echo "== GraphCast graph (0.25°, level 6, radius / containing triangle)"
build graph-graphcast-0.25deg-l6 --grid era5 --mesh-level 6 --preset graphcast
