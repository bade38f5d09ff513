#!/usr/bin/env bash
# CLI tests of `flexnas latency profile|measure` and the latency evaluator: JSON fields, the
# on-disk table reused by a second run, one-line errors with exit code 2.
# Usage: latency_cli_test.sh FLEXNAS
set -uo pipefail
flexnas=$1
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

M='{"l":2,"o":["c","sa"],"h":[64,32],"n":[2,2],"f":[[128],[64]],"p":["9","sdp"]}'
Q=(--seq 16 --repeats 3 --warmup 1)

# measure: table sum, whole model, difference; the second run reads the table.
out=$("$flexnas" latency measure --model "$M" "${Q[@]}" --cache c --json)
python3 - "$out" <<'PY' && ok || bad "measure --json fields: $out"
import json, sys
j = json.loads(sys.argv[1])
assert j["table_ms"] > 0 and j["whole_ms"] > 0 and j["measured"] == 3 and j["reused"] == 0
assert len(j["layer_ms"]) == 2 and j["table"].startswith("c/latency/")
PY
out=$("$flexnas" latency measure --model "$M" "${Q[@]}" --cache c --json)
grep -q '"measured":0,"reused":3' <<<"$out" && ok || bad "second measure did not reuse the table: $out"
out=$("$flexnas" latency measure --model "$M" "${Q[@]}" --cache none --impl)
[[ $(grep -c "depthwise conv: " <<<"$out") -eq 1 ]] && ok || bad "measure --impl: $out"

# profile: distinct layers of sampled models go into the table once.
"$flexnas" latency profile --space flexibert-test -n 3 --seed 2 "${Q[@]}" --cache p > p1.txt &&
  "$flexnas" latency profile --space flexibert-test -n 3 --seed 2 "${Q[@]}" --cache p > p2.txt || bad "profile failed"
grep -Eq '^entries +[0-9]+: [1-9][0-9]* measured, 0 reused' p1.txt && ok || bad "first profile: $(cat p1.txt)"
grep -Eq '^entries +[0-9]+: 0 measured, [1-9][0-9]* reused' p2.txt && ok || bad "second profile: $(cat p2.txt)"
[[ -z $(find p -name '*.tmp*') ]] && ok || bad "temporary files left in the table"
# Two processes filling one table at once leave only whole entries.
"$flexnas" latency profile --space flexibert-test -n 4 --seed 5 "${Q[@]}" --cache shared >/dev/null &
"$flexnas" latency profile --space flexibert-test -n 4 --seed 5 "${Q[@]}" --cache shared >/dev/null
wait $! || bad "concurrent profile failed"
out=$("$flexnas" latency profile --space flexibert-test -n 4 --seed 5 "${Q[@]}" --cache shared)
grep -q ' 0 measured' <<<"$out" && ok || bad "concurrent profiles left an incomplete table: $out"

# The evaluator, through flexnas evaluate.
out=$("$flexnas" evaluate --model "$M" --evaluator "latency:seq=16,repeats=3,cache=none" --json)
grep -q '"latency_ms":' <<<"$out" && ok || bad "evaluate with the latency evaluator: $out"

# Bad input: one line, exit 2.
expect_input_error "dtype 'fp16' is not one of f32, bf16" "$flexnas" latency measure --model "$M" --dtype fp16
expect_input_error "clock cpu needs threads 1" "$flexnas" latency measure --model "$M" --clock cpu --threads 2
expect_input_error "clock 'cpu2' is not one of wall, cpu" "$flexnas" latency profile --clock cpu2
expect_input_error "option mode: 'sum' is not one of table, whole" "$flexnas" evaluate --model "$M" \
  --evaluator latency:mode=sum
expect_input_error "malformed JSON" "$flexnas" latency measure --model '{"l":'
expect_input_error "--seq" "$flexnas" latency measure --model "$M" --seq 0
if ! grep -q avx512 /proc/cpuinfo; then
  expect_input_error "dtype bf16 needs AVX-512" "$flexnas" latency measure --model "$M" --dtype bf16
fi

echo "latency cli: $pass passed, $fail failed"
[[ $fail -eq 0 ]]
