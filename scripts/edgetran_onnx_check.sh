#!/usr/bin/env bash
# Exports every FlexiBERT 2.0 model of the EdgeTran tables (tests/data/edgetran) to ONNX with
# random weights and runs the ONNX checker (full_check: shape inference) on each, one file
# at a time (the largest models are ~500 MB of weights). Prints one line per failure and a
# summary. Needs python3-onnx (installed by make deps). docs/export.md quotes its result.
# Usage: scripts/edgetran_onnx_check.sh [FLEXNAS]
set -uo pipefail
flexnas=${1:-build/bin/flexnas}
root=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0
fail=0
for dev in a100 rpi ncs; do
  n=0
  while IFS= read -r line; do
    n=$((n + 1))
    /usr/bin/python3 -c 'import json,sys; print(json.dumps(json.loads(sys.argv[1])["model"]))' "$line" >"$tmp/m.json"
    if "$flexnas" export-model --model @"$tmp/m.json" --format onnx --vocab 64 --seq 8 -o "$tmp/m.onnx" 2>"$tmp/err" &&
      /usr/bin/python3 -c 'import onnx,sys; onnx.checker.check_model(onnx.load(sys.argv[1]), full_check=True)' \
        "$tmp/m.onnx" 2>>"$tmp/err"; then
      pass=$((pass + 1))
    else
      fail=$((fail + 1))
      echo "FAIL: $dev.jsonl:$n: $(tail -1 "$tmp/err")"
    fi
    rm -f "$tmp/m.onnx"
  done <"$root/tests/data/edgetran/$dev.jsonl"
done
echo "edgetran onnx: $pass passed, $fail failed"
[[ $fail -eq 0 ]]
