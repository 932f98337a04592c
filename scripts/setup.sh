#!/usr/bin/env bash
# One-time (and idempotent) setup for fastnet.
#
#  * libnetcdf-dev + netcdf-bin from Debian (the `netcdf` crate links libnetcdf),
#  * libgloo-dev from Debian (gloo's headers, for the c10d shim that
#    multi-process training goes through; the code that runs is libtorch's),
#  * PyPI torch==2.11.0 in a per-user virtualenv (libtorch for the `tch` crate),
#    with numpy, xarray and netCDF4 for the Python cross-checks in the tests,
#    and anemoi-datasets 0.5.47 with zarr 2.18 (the tests build genuine
#    anemoi-datasets Zarr stores with `anemoi-datasets create`, and open our
#    Zarr forecasts with xarray);
#    reused when already present (only missing packages are installed) so CI
#    and later clones do not download them again,
#  * .cargo/config.toml pointing torch-sys at that virtualenv, so that a plain
#    `cargo build` / `cargo test` works afterwards.
#
# `--bench` also installs the peer libraries the SHT benchmark compares with
# (ducc0 and torch-harmonics into $CACHE/bench-peers, pyshtools into
# $CACHE/bench-peers/pyshtools, plus anemoi-models' spectral_helpers.py,
# which imports only numpy and torch, from its wheel)
# and writes $CACHE/bench-python, a Python that sees them:
#   FASTNET_SHT_BENCH_PYTHON=$CACHE/bench-python cargo bench -p fastnet-eval --bench sht
#
# Quiet when everything is already in place. Prints the virtualenv path last.
set -euo pipefail
bench=0
[ "${1:-}" = "--bench" ] && bench=1

TORCH_VERSION=2.11.0
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/fastnet"
VENV="${FASTNET_TORCH_VENV:-$CACHE/torch-$TORCH_VERSION}"

say() { printf 'setup: %s\n' "$*" >&2; }

# --- libnetcdf -----------------------------------------------------------------
need_apt=()
apt_pkgs=(libnetcdf-dev netcdf-bin pkg-config libgloo-dev)
# --bench: Debian's jemalloc, to run the PyTorch reference of benches/model.rs
# on the allocator fastnet links (src/alloc.rs) as well as on glibc's
((bench)) && apt_pkgs+=(libjemalloc2)
for pkg in "${apt_pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || need_apt+=("$pkg")
done
if ((${#need_apt[@]})); then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  say "installing ${need_apt[*]} (apt)"
  $SUDO apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi

# --- libtorch via the PyPI torch wheel, plus the Python used by the tests -------
# numpy, xarray and netCDF4 serve the cross-checks (PyTorch reference, "our
# NetCDF opens in xarray without warnings"); anemoi-datasets and zarr 2 the
# Zarr fixtures. `missing_py` prints the pip requirements that do not import
# from the venv; nothing when all are there.
# xarray 2026.9 removed its zarr-python 2 support, and anemoi-datasets 0.5.47
# needs zarr 2: xarray stays below 2026.9 for `xarray.open_zarr` to work.
ANEMOI_DATASETS="anemoi-datasets==0.5.47"
ZARR="zarr==2.18.*"
XARRAY="xarray<2026.9"
ALL_PY="torch==$TORCH_VERSION numpy $XARRAY netCDF4 $ANEMOI_DATASETS $ZARR"
missing_py() {
  if [ ! -x "$VENV/bin/python" ]; then
    echo "$ALL_PY"
    return
  fi
  "$VENV/bin/python" - "$TORCH_VERSION" "$ANEMOI_DATASETS" "$ZARR" "$XARRAY" <<'PY' 2>/dev/null || echo "$ALL_PY"
import importlib, sys
want = []
try:
    import torch
    if torch.__version__.split("+")[0] != sys.argv[1]:
        want.append("torch==" + sys.argv[1])
except Exception:
    want.append("torch==" + sys.argv[1])
for module in ("numpy", "netCDF4"):
    try:
        importlib.import_module(module)
    except Exception:
        want.append(module)
import importlib.metadata as md
for req, dist, prefix in ((sys.argv[2], "anemoi-datasets", "0.5.47"), (sys.argv[3], "zarr", "2.18.")):
    try:
        if not md.version(dist).startswith(prefix):
            want.append(req)
    except Exception:
        want.append(req)
try:
    year, month = (int(x) for x in md.version("xarray").split(".")[:2])
    if (year, month) >= (2026, 9):
        want.append(sys.argv[4])
except Exception:
    want.append(sys.argv[4])
print(" ".join(want))
PY
}
read -r -a need_py < <(missing_py; echo)
if ((${#need_py[@]})); then
  if [ ! -x "$VENV/bin/python" ]; then
    say "creating $VENV"
    mkdir -p "$CACHE"
    python3 -m venv "$VENV"
    "$VENV/bin/python" -m pip install -q --upgrade pip >/dev/null
  fi
  case " ${need_py[*]} " in
    *" torch=="*) say "installing ${need_py[*]} into $VENV (torch: one-time, several GB)" ;;
    *) say "installing ${need_py[*]} into $VENV" ;;
  esac
  "$VENV/bin/python" -m pip install -q --progress-bar off "${need_py[@]}"
  left="$(missing_py)"
  [ -z "$left" ] || { say "error: $left did not import from $VENV"; exit 1; }
fi
read -r TORCH_DIR CXX11_ABI < <("$VENV/bin/python" -W ignore -c \
  'import os, torch; print(os.path.dirname(torch.__file__), int(torch._C._GLIBCXX_USE_CXX11_ABI))' 2>/dev/null)

# --- CUDA headers for the NCCL part of the c10d shim ------------------------------
# The cu13 wheel ships NCCL's and the CUDA runtime's headers but not the two
# header-only packages they include (crt/host_config.h, nv/target); with them
# build.rs compiles NCCL support, without them the build has Gloo only.
NV="$TORCH_DIR/../nvidia/cu13/include"
if [ -d "$NV" ] && { [ ! -f "$NV/crt/host_config.h" ] || [ ! -e "$NV/nv/target" ]; }; then
  cuda_ver=$("$VENV/bin/python" -c 'import importlib.metadata as m; v = m.version("nvidia-cuda-runtime").split("."); print(v[0] + "." + v[1])' 2>/dev/null || true)
  if [ -n "$cuda_ver" ]; then
    say "installing the CUDA $cuda_ver headers that NCCL support compiles against"
    "$VENV/bin/python" -m pip install -q --progress-bar off "nvidia-cuda-crt==$cuda_ver.*" "nvidia-cuda-cccl==$cuda_ver.*" >/dev/null ||
      say "warning: CUDA headers not installed; fastnet builds without NCCL (Gloo only)"
  fi
fi

# --- benchmark peers (only with --bench) -----------------------------------------
if ((bench)); then
  PEERS="$CACHE/bench-peers"
  if [ ! -f "$PEERS/anemoi_spectral_helpers.py" ] || ! PYTHONPATH="$PEERS" "$VENV/bin/python" -c 'import ducc0, torch_harmonics' 2>/dev/null; then
    say "installing the SHT benchmark's peers (ducc0, torch-harmonics, anemoi-models' SHT) into $PEERS"
    mkdir -p "$PEERS"
    "$VENV/bin/python" -m pip install -q --progress-bar off --no-deps --target "$PEERS" ducc0 "torch-harmonics==0.7.4" >/dev/null
    tmp="$(mktemp -d)"
    "$VENV/bin/python" -m pip download -q --no-deps "anemoi-models==0.19.0" -d "$tmp" >/dev/null
    "$VENV/bin/python" - "$tmp"/anemoi_models-*.whl "$PEERS/anemoi_spectral_helpers.py" <<'PY'
import sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z:
    open(sys.argv[2], "wb").write(z.read("anemoi/models/layers/spectral_helpers.py"))
PY
    rm -rf "$tmp"
  fi
  # pyshtools goes into a folder of its own with its dependencies, less the
  # ones the venv already has (numpy, pandas, xarray: its wheels' copies
  # would shadow the venv's and break them).
  if ! PYTHONPATH="$PEERS/pyshtools" "$VENV/bin/python" -c 'import pyshtools' 2>/dev/null; then
    say "installing pyshtools (SHT benchmark peer) into $PEERS/pyshtools"
    rm -rf "$PEERS/pyshtools"
    "$VENV/bin/python" -m pip install -q --progress-bar off --no-warn-conflicts --target "$PEERS/pyshtools" pyshtools >/dev/null
    (cd "$PEERS/pyshtools" && rm -rf numpy numpy.libs numpy-*.dist-info pandas pandas-*.dist-info \
      xarray xarray-*.dist-info bin)
  fi
  cat >"$CACHE/bench-python" <<SH
#!/bin/sh
# Written by scripts/setup.sh --bench: the setup's Python with the benchmark peers.
PYTHONPATH="$PEERS:$PEERS/pyshtools\${PYTHONPATH:+:\$PYTHONPATH}" FASTNET_ANEMOI_SHT="$PEERS/anemoi_spectral_helpers.py" exec "$VENV/bin/python" "\$@"
SH
  chmod +x "$CACHE/bench-python"
fi

# --- cargo environment ------------------------------------------------------------
mkdir -p "$ROOT/.cargo"
config="$ROOT/.cargo/config.toml"
want="$(cat <<TOML
# Written by scripts/setup.sh; machine-specific, not committed.
[env]
# torch-sys reads libtorch from the PyPI wheel's folder (headers in include/,
# shared libraries in lib/); the binaries get an rpath to lib/ from build.rs.
LIBTORCH = "$TORCH_DIR"
LIBTORCH_CXX11_ABI = "$CXX11_ABI"
# Python with torch, for scripts that cross-check our files against PyTorch.
FASTNET_PYTHON = "$VENV/bin/python"
TOML
)"
if [ ! -f "$config" ] || [ "$(cat "$config")" != "$want" ]; then
  printf '%s\n' "$want" >"$config"
  say "wrote $config"
fi
echo "$VENV"
