#!/usr/bin/env bash
# CLI tests of flexnas latency fit|predict|features and the latency-model evaluator.
# Usage: latency_fit_cli_test.sh FLEXNAS SOURCE_DIR SHARED_DATA_DIR
set -uo pipefail
flexnas=$1
src=$2
shared=${3:-}
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
if [[ -f "$shared/hat/wmt14ende_cpu_xeon_all.csv" ]]; then
  "$flexnas" latency fit --data "$shared/hat/wmt14ende_cpu_xeon_all.csv" --target latency_mean_encoder+latency_mean_decoder \
    --kinds ridge -o hat.json --json > hat.out && grep -q '"test_mape"' hat.out && ! grep -q latency_std hat.json && ok || bad "HAT fit"
  expect_input_error "cannot compute from an architecture: encoder_embed_dim" "$flexnas" evaluate --model "$M" \
    --evaluator latency-model:file=hat.json
else
  echo "skipped: $shared/hat is absent"
fi

echo "latency cli: $pass passed, $fail failed"
[[ $fail -eq 0 ]]
