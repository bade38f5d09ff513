#!/usr/bin/env bash
# Runs every benchmark in bench/ (built by `make build`); each prints its own ratios.
set -euo pipefail
build=${1:-build}
for b in "$build"/bin/*_bench; do
  echo "== $(basename "$b")"
  "$b" "${@:2}"
done
