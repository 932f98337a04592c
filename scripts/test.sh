#!/usr/bin/env bash
# Sets up (once) and runs the whole test suite. Used by .ci/run.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh >/dev/null
cargo test --workspace --locked
