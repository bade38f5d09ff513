#!/usr/bin/env bash
# CLI tests of flexnas latency fit|predict|features and the latency-model evaluator.
# Usage: latency_fit_cli_test.sh FLEXNAS SOURCE_DIR
set -uo pipefail
flexnas=$1
src=$2
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
EX=$src/data/examples/latency_synthetic.csv
M='{"l":2,"o":["sa","sa"],"h":[128,128],"n":[2,2],"f":[[512],[512]],"p":["sdp","sdp"]}'

# Fit on flexnas's own features, predict, evaluate.
out=$("$flexnas" latency fit --data "$EX" --target latency_ms --seed 2 --kinds ridge,gbt -o m.json --json)
python3 -c 'import json,sys; j=json.loads(sys.argv[1]); assert j["n_test"]==8 and j["n_train"]==72 and j["test_mape"]>0 and "test_rmse" in j and j["model_kind"] in ("ridge","gbt") and j["cv"]' "$out" && ok || bad "fit --json: $out"
"$flexnas" latency fit --data "$EX" --target latency_ms --seed 2 --kinds ridge,gbt -o m2.json >/dev/null && cmp -s m.json m2.json && ok || bad "fit is not deterministic"
"$flexnas" latency fit --data "$EX" --target latency_ms -o m3.json | grep -q "^test *MAPE" && ok || bad "summary lacks the test line"
[[ $("$flexnas" latency predict --model-file m.json --data "$EX" 2>/dev/null | wc -l) -eq 81 ]] && ok || bad "predict row count"
"$flexnas" evaluate --model "$M" --evaluator latency-model:file=m.json --json | grep -q '"latency_ms":' && ok || bad "evaluator"
printf '%s\n' "$M" "$M" > ms.jsonl
"$flexnas" latency features --models ms.jsonl -o f.csv && [[ $(head -1 f.csv) == layers,*,gflops_seq128,model ]] && [[ $(wc -l <f.csv) -eq 3 ]] && ok || bad "features"

# Bad input: exit 2, one line naming what and where.
expect_input_error "cannot read file 'nope.csv'" "$flexnas" latency fit --data nope.csv --target y -o x.json
expect_input_error "no column 'lat'" "$flexnas" latency fit --data "$EX" --target lat -o x.json
expect_input_error "no column 'bogus'" "$flexnas" latency fit --data "$EX" --target latency_ms --features layers,bogus -o x.json
printf 'a,y\n1,2\n2,3\n3,x\n' > nonnum.csv
expect_input_error "nonnum.csv:4:2: column 'y' holds 'x'" "$flexnas" latency fit --data nonnum.csv --target y -o x.json
printf 'a,y\n1,2\n2,3\n3,4\n' > few.csv
expect_input_error "fitting needs at least" "$flexnas" latency fit --data few.csv --target y -o x.json
echo '{"format":"flexnas-latency-model","version":9}' > v9.json
expect_input_error "version 9 is not supported" "$flexnas" latency predict --model-file v9.json --data "$EX"
echo '{"format":' > broken.json
expect_input_error "broken.json: malformed JSON" "$flexnas" evaluate --model "$M" --evaluator latency-model:file=broken.json
expect_input_error "unknown model kind 'svm'" "$flexnas" latency fit --data "$EX" --target latency_ms --kinds svm -o x.json
[[ ! -e x.json ]] && ok || bad "a refused fit wrote a model"

# A model of HAT's columns is refused by the evaluator, naming the columns.
HAT=$src/tests/data/hat/wmt14ende_cpu_xeon_all.csv
[[ -f "$HAT" ]] && ok || bad "$HAT is missing"
"$flexnas" latency fit --data "$HAT" --target latency_mean_encoder+latency_mean_decoder \
  --kinds ridge -o hat.json --json > hat.out && grep -q '"test_mape"' hat.out && ! grep -q latency_std hat.json && ok || bad "HAT fit"
expect_input_error "cannot compute from an architecture: encoder_embed_dim" "$flexnas" evaluate --model "$M" \
  --evaluator latency-model:file=hat.json

# JSON lines of model dicts (EdgeTran device tables, tests/data/edgetran): features from the
# dicts, k-fold MAPE of the fitted models next to the FLOPs+params baseline on the same folds.
ET=$src/tests/data/edgetran
for run in ncs:latency_s:ridge,gbt ncs:energy_j:ridge rpi:latency_s:ridge rpi:energy_j:ridge; do
  IFS=: read -r dev t kinds <<<"$run"
  out=$("$flexnas" latency fit --data "$ET/$dev.jsonl" --target "$t" --kinds "$kinds" -o "et-$dev-$t.json" --json)
  python3 -c '
import json, sys
j = json.loads(sys.argv[1]); k = j["kfold"]
assert j["n_test"] == 0 and k["folds"] == 5 and k["baseline"] == ["gflops_seq128", "params_m"], j
for f in ("heads_sdp", "heads_wma", "heads_dft", "heads_dct", "heads_conv", "params_m", "gflops_dft_seq128", "gflops_ff_seq128", "gflops_seq128"):
    assert f in j["features"], f
assert "glue" not in j["features"] and "peak_power_w" not in j["features"]
assert 0 < k["selected_mape"] < k["baseline_mape"], k
assert abs(k["ratio"] - k["selected_mape"] / k["baseline_mape"]) < 1e-12' "$out" && ok || bad "$dev $t: k-fold MAPE does not beat the baseline: $out"
done
grep -q '"unit": "J"' et-ncs-energy_j.json && grep -q '"unit": "s"' et-rpi-latency_s.json && ok || bad "units of latency_s, energy_j"
"$flexnas" latency fit --data "$ET/ncs.jsonl" --target latency_s --kinds ridge -o d1.json > d1.out &&
  "$flexnas" latency fit --data "$ET/ncs.jsonl" --target latency_s --kinds ridge -o d2.json > d2.out &&
  cmp -s d1.json d2.json && grep -q "^  baseline .* % *least squares with intercept on gflops_seq128, params_m" d1.out &&
  grep -q "^  selected .* x baseline" d1.out && ok || bad "JSON-lines fit is not deterministic or lacks the k-fold lines: $(cat d1.out)"
expect_input_error "not architecture features: glue" "$flexnas" latency fit --data "$ET/ncs.jsonl" --target latency_s --features layers,glue -o x.json
printf '{"model": {"l": 1}, "latency_s": 1}\n' > badmodel.jsonl
expect_input_error "badmodel.jsonl:1:" "$flexnas" latency fit --data badmodel.jsonl --target latency_s -o x.json
# The fitted file drives the latency-model evaluator in a search over the device table, and
# its values are the predictions of `latency predict` on the same models.
"$flexnas" search --pool "$ET/rpi.jsonl" --evaluator latency-model:file=et-rpi-latency_s.json \
  --objective latency_s:min --budget 6 --seed 1 --out et-study >et-search.out 2>&1 &&
  [[ $(wc -l <et-study/trials.jsonl) -eq 6 ]] && ok || bad "search with the latency-model evaluator: $(tail -3 et-search.out)"
"$flexnas" latency predict --model-file et-rpi-latency_s.json --data "$ET/rpi.jsonl" --json > et-pred.json &&
  python3 -c 'import json; p = json.load(open("et-pred.json")); assert p["n"] == 81 and p["mape"] < 20, p["mape"]' &&
  ok || bad "latency predict on the device table: $(cat et-pred.json)"
# trials.jsonl is itself a table of objects with a "model" field.
"$flexnas" latency predict --model-file et-rpi-latency_s.json --data et-study/trials.jsonl --json > et-trials.json &&
  python3 -c '
import json
pred = json.load(open("et-trials.json"))["predictions"]
vals = [json.loads(l)["values"]["latency_s"] for l in open("et-study/trials.jsonl")]
assert len(pred) == len(vals) == 6 and all(abs(v - p) <= 1e-9 * abs(p) for v, p in zip(vals, pred)), (vals, pred)' &&
  ok || bad "search values differ from latency predict on the same models"

echo "latency cli: $pass passed, $fail failed"
[[ $fail -eq 0 ]]
