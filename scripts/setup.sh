#!/usr/bin/env bash
# One-time (and idempotent) setup for fastnet.
#
#  * libnetcdf-dev + netcdf-bin from Debian (the `netcdf` crate links libnetcdf),
#  * PyPI torch==2.11.0 in a per-user virtualenv (libtorch for the `tch` crate),
#    reused when already present so CI and later clones do not download it again,
#  * .cargo/config.toml pointing torch-sys at that virtualenv, so that a plain
#    `cargo build` / `cargo test` works afterwards.
#
# Quiet when everything is already in place. Prints the virtualenv path last.
set -euo pipefail

TORCH_VERSION=2.11.0
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/fastnet"
VENV="${FASTNET_TORCH_VENV:-$CACHE/torch-$TORCH_VERSION}"

say() { printf 'setup: %s\n' "$*" >&2; }

# --- libnetcdf -----------------------------------------------------------------
need_apt=()
for pkg in libnetcdf-dev netcdf-bin pkg-config; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || need_apt+=("$pkg")
done
if ((${#need_apt[@]})); then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  say "installing ${need_apt[*]} (apt)"
  $SUDO apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi

# --- libtorch via the PyPI torch wheel ------------------------------------------
torch_ok() {
  [ -x "$VENV/bin/python" ] &&
    "$VENV/bin/python" - "$TORCH_VERSION" <<'PY' 2>/dev/null
import sys, torch, numpy
sys.exit(0 if torch.__version__.split("+")[0] == sys.argv[1] else 1)
PY
}
if ! torch_ok; then
  say "installing torch==$TORCH_VERSION into $VENV (one-time, several GB)"
  mkdir -p "$CACHE"
  python3 -m venv "$VENV"
  "$VENV/bin/python" -m pip install -q --upgrade pip >/dev/null
  "$VENV/bin/python" -m pip install -q --progress-bar off "torch==$TORCH_VERSION" numpy
  torch_ok || { say "error: torch==$TORCH_VERSION did not import from $VENV"; exit 1; }
fi
read -r TORCH_DIR CXX11_ABI < <("$VENV/bin/python" -W ignore -c \
  'import os, torch; print(os.path.dirname(torch.__file__), int(torch._C._GLIBCXX_USE_CXX11_ABI))' 2>/dev/null)

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
