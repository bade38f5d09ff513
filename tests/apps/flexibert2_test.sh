#!/usr/bin/env bash
# FlexiBERT 2.0 at full scale, through the real binary: the EdgeTran device tables
# (tests/data/edgetran, FlexiBERT 2.0 models with h // n head sizes) validate against the
# built-in flexibert2 space, hash, export to ONNX and back, and every policy searches them
# as a pool with the table evaluator, single- and multi-objective; the report draws the
# heterogeneous Pareto architectures.
# Usage: flexibert2_test.sh FLEXNAS SOURCE_DIR
set -uo pipefail
flexnas=$1
src=$2
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
data=$src/tests/data/edgetran

for dev in a100 rpi ncs; do
  "$flexnas" space validate --space flexibert2 --models "$data/$dev.jsonl" >/dev/null && ok ||
    bad "space validate flexibert2 $dev"
done
# One model with 12 heads of 21 in a layer of 256 (a100.jsonl line 9): hash, HF and ONNX.
m=$(sed -n 9p "$data/a100.jsonl" | /usr/bin/python3 -c 'import json,sys; print(json.dumps(json.load(sys.stdin)["model"]))')
[[ $("$flexnas" graph hash --model "$m" | wc -c) -eq 65 ]] && ok || bad "graph hash of a100 line 9"
"$flexnas" export-model --model "$m" --format hf -o cfg.json && ok || bad "hf export"
"$flexnas" export-model --model @cfg.json --format hf -o again.json && cmp -s cfg.json again.json && ok ||
  bad "hf read-back and export again"
grep -q '"sa_sdp_21"' cfg.json && ok || bad "hf config keeps the model dict's head size 21"
"$flexnas" export-model --model "$m" --format onnx --vocab 64 --seq 8 -o m.onnx && ok || bad "onnx export"
if /usr/bin/python3 -c "import onnx" 2>/dev/null; then
  /usr/bin/python3 - m.onnx <<'PY' && ok || bad "onnx checker on an h // n model"
import sys, onnx
m = onnx.load(sys.argv[1])
onnx.checker.check_model(m, full_check=True)
w = {i.name: list(i.dims) for i in m.graph.initializer}
# 12 heads of 21 concatenate to 252; the output projection maps them back to 256.
assert [252, 256] in w.values(), sorted(w.values())
PY
fi

# Every policy on the NCS table as a pool: one objective, then GLUE against latency.
T=$data/ncs.jsonl
# (hierarchical refines a design space and refuses a pool, naming why.)
for p in random evolution:population=6 nsga2:population=6 boshnas:init=4 sa-nsga2:init=6; do
  "$flexnas" search --pool "$T" --evaluator "table:file=$T,metric=glue" \
    --objective glue:max --policy "$p" --budget 10 --seed 1 --out "s1-${p%%:*}" >/dev/null 2>&1 &&
    [[ $(wc -l <"s1-${p%%:*}/trials.jsonl") -eq 10 ]] && ok || bad "single-objective $p on the ncs pool"
  [[ $p == evolution* ]] && continue  # one objective only
  "$flexnas" search --pool "$T" --evaluator "table:file=$T,metric=glue" \
    --evaluator "table:file=$T,metric=latency_s" --evaluator "table:file=$T,metric=energy_j" \
    --objective glue:max --objective latency_s:min --policy "$p" --budget 10 --seed 1 \
    --out "s2-${p%%:*}" >/dev/null 2>&1 && grep -q energy_j "s2-${p%%:*}/trials.jsonl" && ok ||
    bad "multi-objective $p on the ncs pool"
done
# Same seed, same trials.
"$flexnas" search --pool "$T" --evaluator "table:file=$T,metric=glue" --objective glue:max \
  --policy boshnas:init=4 --budget 10 --seed 1 --out again >/dev/null 2>&1
models() { /usr/bin/python3 -c 'import json,sys; print(sorted((t["id"], json.dumps(t["model"])) for t in map(json.loads, open(sys.argv[1]))))' "$1"; }
[[ "$(models s1-boshnas/trials.jsonl)" == "$(models again/trials.jsonl)" ]] && ok ||
  bad "boshnas on a pool is deterministic"

# The A100 table: GLUE against latency, and a report that draws the Pareto architectures.
A=$data/a100.jsonl
"$flexnas" search --pool "$A" --evaluator "table:file=$A,metric=glue" \
  --evaluator "table:file=$A,metric=latency_s" --objective glue:max --objective latency_s:min \
  --policy random --budget 40 --seed 1 --out a100 >/dev/null 2>&1 && ok || bad "a100 search"
"$flexnas" report --study a100 -o a100.html && ok || bad "a100 report"
grep -q 'class="arch-layer"' a100.html && ok || bad "report draws the architectures"
grep -q '/21<' a100.html || grep -q '/42<' a100.html || grep -q '/64<' a100.html && ok ||
  bad "report labels head sizes"

echo "flexibert2: $pass passed, $fail failed"
[[ $fail -eq 0 ]]
