#!/usr/bin/env bash
# `make bench-search`: flexnas policies against Optuna 3.1 on the benchmark tables
# (bench/search_tables_bench.cpp builds them from ../shared/data; bench/optuna_peer.py drives
# Optuna on the same pools). Results: build/bench-search/ (peer outputs, results.json, log).
# Usage: scripts/bench_search.sh BUILD_DIR [SEEDS] [BUDGET]
set -euo pipefail
build=${1:-build}
seeds=${2:-20}
budget=${3:-150}
out=$build/bench-search
source "$(dirname "$0")/peer_python.sh"
peer_python optuna python3-optuna
py=$peer_py
rm -rf "$out"
mkdir -p "$out/peers"
"$build/bin/search_tables_bench" --write-tables "$out/tables" >/dev/null
jobs=$(nproc)
echo "bench-search: Optuna on $(ls "$out/tables" | wc -l) tables, $seeds seeds, budget $budget ($jobs at a time)" >&2
{
  for t in "$out"/tables/*.jsonl; do
    name=$(basename "$t" .jsonl)
    for s in tpe-mv tpe random nsga2; do
      echo "$t $s $out/peers/$name.$s.txt"
    done
  done
  for s in nsga2 tpe-mv; do
    echo "$out/tables/a100.jsonl $s $out/peers/a100-mo.$s.txt --mo score:max,latency_s:min"
  done
} | xargs -P "$jobs" -L 1 bash -c '
  table=$0 sampler=$1 dest=$2; shift 2
  '"$py"' '"$(dirname "$0")"'/../bench/optuna_peer.py "$table" "$sampler" '"$seeds"' '"$budget"' "$@" \
    >"$dest.part" 2>/dev/null && mv "$dest.part" "$dest"'
echo "bench-search: flexnas policies" >&2
"$build/bin/search_tables_bench" --seeds "$seeds" --budget "$budget" --peer-dir "$out/peers" \
  --json "$out/results.json" | tee "$out/log.txt"
echo "bench-search: results in $out/ (log.txt, results.json)" >&2
