#!/usr/bin/env bash
# Runs the benchmarks in bench/ (built by `make build`); each prints its own ratios.
# Usage: scripts/bench.sh BUILD_DIR [NAME ...]   (`make bench BENCH="ged embedding"`: only those)
# ged_bench times networkx's exact GED in the same run (python3-networkx and python3-scipy, installed here
# when run as root).
set -euo pipefail
build=${1:-build}
source "$(dirname "$0")/peer_python.sh"
peer_python networkx python3-networkx
peer_python scipy python3-scipy  # networkx's exact GED needs it
only=("${@:2}")
for b in "$build"/bin/*_bench; do
  name=$(basename "$b" _bench)
  if [ ${#only[@]} -gt 0 ] && [[ " ${only[*]} " != *" $name "* ]]; then continue; fi
  echo "== $(basename "$b")"
  case $(basename "$b") in
    ged_bench) "$b" --networkx "$peer_py" ;;
    search_tables_bench) echo "(run by make bench-search, with its Optuna peer)" ;;
    *) "$b" ;;
  esac
done
