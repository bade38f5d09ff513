#!/usr/bin/env bash
# Strict numbers on every input surface (issue 18, core/numbers.hpp): out-of-range,
# non-finite, fractional-where-integer, overflowing and trailing-garbage numbers are bad
# input (exit 2, one line naming the field and the value), never wrapped or truncated.
# Usage: numbers_cli_test.sh FLEXNAS SOURCE_DIR
set -uo pipefail
flexnas=$1
src=$2
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
M='{"l":2,"o":["sa","sa"],"h":[128,128],"n":[2,2],"f":[[512],[512]],"p":["sdp","sdp"]}'
S=(--space flexibert-test --evaluator params --objective params:min)

# --- CLI numeric options (CLI11 alone saturated, wrapped and read octal) -------------------
expect_input_error "--budget: '99999999999999999999999' is out of range" \
  "$flexnas" search "${S[@]}" --budget 99999999999999999999999 --out o1
expect_input_error "--budget: '-1' is out of range" "$flexnas" search "${S[@]}" --budget -1 --out o2
expect_input_error "--budget: '8abc' is not an integer" "$flexnas" search "${S[@]}" --budget 8abc --out o3
expect_input_error "--batch: '0x10' is not an integer" "$flexnas" search "${S[@]}" --batch 0x10 --out o4
expect_input_error "--seed: '18446744073709551616' is out of range" \
  "$flexnas" search "${S[@]}" --seed 18446744073709551616 --out o5
expect_input_error "--max-time: '1e400' is not a finite number" "$flexnas" search "${S[@]}" --max-time 1e400 --out o6
expect_input_error "--max-time: 'nan' is not a finite number" "$flexnas" search "${S[@]}" --max-time nan --out o7
expect_input_error "--dim: '99999999999999999999' is out of range" "$flexnas" embed --space flexibert-test -n 10 --dim 99999999999999999999 -o e.json
expect_input_error "--dim: Value 4294967297 not in range 1 to 1024" "$flexnas" embed --space flexibert-test -n 10 --dim 4294967297 -o e.json
[[ ! -e o1 && ! -e o3 ]] && ok || bad "a refused search created its study"
# A leading zero is decimal: --seed 010 is seed 10, as --seed 10.
"$flexnas" search "${S[@]}" --policy random --budget 3 --seed 010 --quiet --out s010 >/dev/null &&
  "$flexnas" search "${S[@]}" --policy random --budget 3 --seed 10 --quiet --out s10 >/dev/null &&
  cmp -s <(cut -d, -f1-3 s010/trials.jsonl) <(cut -d, -f1-3 s10/trials.jsonl) && ok || bad "--seed 010 is not 10"

# --- model dicts (the three inputs of issue 18) ---------------------------------------------
expect_input_error "h[0]: '4294967424' is out of range" "$flexnas" space validate --space flexibert-test \
  --model '{"l":1,"o":["sa"],"h":[4294967424],"n":[2],"f":[[512]],"p":["sdp"]}'
expect_input_error "h[2]:" "$flexnas" graph hash \
  --model '{"l":4,"o":["sa","sa","sa","sa"],"h":[256,128,256777777777777777777777777777777777777777777,256],"n":[2,2,2,2],"f":[[512],[512],[512],[512]],"p":["sdp","sdp","sdp","sdp"]}'
expect_input_error "model: malformed JSON: number overflow parsing '101e2254'" "$flexnas" graph hash \
  --model '{"l":1,"o":["sa"],"h":[128],"n":[2],"f":[[101e2254]],"p":["sdp"]}'
expect_input_error "f[0][0]: '512.5' is not an integer" "$flexnas" graph hash \
  --model '{"l":1,"o":["sa"],"h":[128],"n":[2],"f":[[512.5]],"p":["sdp"]}'

# --- evaluator, policy and constraint spec strings ------------------------------------------
expect_input_error "evaluator sleep: option ms: '8abc' is not an integer" "$flexnas" evaluate --model "$M" --evaluator sleep:ms=8abc
expect_input_error "evaluator sleep: option ms: '99999999999' is out of range" "$flexnas" evaluate --model "$M" --evaluator sleep:ms=99999999999
expect_input_error "evaluator external: option timeout: 'inf' is not a finite number" \
  "$flexnas" evaluate --model "$M" --evaluator "external:cmd=true,values=x:min,timeout=inf"
expect_input_error "policy evolution: option population: '1e3' is not an integer" \
  "$flexnas" search "${S[@]}" --policy evolution:population=1e3 --out p1
expect_input_error "policy nsga2: option population: '-4' is out of range" \
  "$flexnas" search "${S[@]}" --policy nsga2:population=-4 --out p2
expect_input_error "policy nsga2: option crossover: '0.5x' is not a finite number in [0, 1]" \
  "$flexnas" search "${S[@]}" --policy nsga2:crossover=0.5x --out p3
expect_input_error "policy hierarchical: option stage: '99999999999999999999' is out of range" \
  "$flexnas" search "${S[@]}" --policy hierarchical:stage=99999999999999999999 --out p4
expect_input_error "constraint 'params<=1e400': '1e400' is not a finite number" \
  "$flexnas" search "${S[@]}" --constraint 'params<=1e400' --out p5

# --- design-space YAML ------------------------------------------------------------------------
printf 'layers: [2]\nhidden: [128, 4294967424]\nheads: [2]\noperations: {sa: [sdp]}\nff: {depth: [1], width: [512]}\n' > wrap.yaml
expect_input_error "hidden: '4294967424' is out of range" "$flexnas" space info --space wrap.yaml
printf 'layers: [2]\nhidden: [0x80]\nheads: [2]\noperations: {sa: [sdp]}\nff: {depth: [1], width: [512]}\n' > hex.yaml
expect_input_error "hidden: '0x80' is not an integer" "$flexnas" space info --space hex.yaml

# --- table files, LUT, latency-model files -------------------------------------------------
printf 'model,accuracy\n"%s",0.9abc\n' "$(echo "$M" | sed 's/"/""/g')" > t.csv
expect_input_error "t.csv:2: accuracy: '0.9abc' is not a finite number" "$flexnas" evaluate --model "$M" --evaluator table:file=t.csv,metric=accuracy
printf '{"model": %s, "accuracy": 1e400}\n' "$M" > t.jsonl
expect_input_error "t.jsonl:1: row: malformed JSON: number overflow" "$flexnas" evaluate --model "$M" --evaluator table:file=t.jsonl,metric=accuracy
printf 'values:\n  - {name: ms, unit: ms}\nentries:\n  - {op: ff, in: 4294967424, out: 512, ms: 1}\n' > wrap-lut.yaml
expect_input_error "wrap-lut.yaml:4: in: '4294967424' is out of range" "$flexnas" evaluate --model "$M" --evaluator lut:file=wrap-lut.yaml
# Valid files to edit: the fuzz seeds (a gbt model, an embedding, an hf config).
cp "$src/fuzz/corpus/latency_model/gbt.json" "$src/fuzz/corpus/embedding_file/small.json" \
  "$src/fuzz/corpus/hf_config/hetero.json" .
"$flexnas" evaluate --model "$M" --evaluator latency-model:file=gbt.json >/dev/null && ok || bad "gbt.json is not valid"
python3 - <<'PY' || bad "editing gbt.json"
import json
j = json.load(open("gbt.json"))
j["params"]["trees"][0]["left"][0] = 2**32 + j["params"]["trees"][0]["left"][0]  # wraps to the same node as int
open("wrap-model.json", "w").write(json.dumps(j))
j = json.load(open("gbt.json"))
j["version"] = 2**32 + 1
open("wrap-version.json", "w").write(json.dumps(j))
PY
expect_input_error "params.trees.left[0]:" "$flexnas" evaluate --model "$M" --evaluator latency-model:file=wrap-model.json
expect_input_error "version 4294967297 is not supported" "$flexnas" evaluate --model "$M" --evaluator latency-model:file=wrap-version.json

# --- embedding files (embed --load) and HF configs read back -------------------------------
"$flexnas" embed --load small.json --model "$M" >/dev/null && ok || bad "small.json is not valid"
python3 - <<'PY' || bad "editing small.json"
import json
j = json.load(open("small.json"))
j["options"]["dim"] = 2**32 + j["options"]["dim"]
open("emb-dim.json", "w").write(json.dumps(j))
j = json.load(open("small.json"))
j["landmarks"][0] = 0.5
open("emb-lm.json", "w").write(json.dumps(j))
PY
expect_input_error "options.dim:" "$flexnas" embed --load emb-dim.json --model "$M"
expect_input_error "landmarks[0]: '0.5' is not an integer" "$flexnas" embed --load emb-lm.json --model "$M"
"$flexnas" export-model --model @hetero.json --format hf -o /dev/null && ok || bad "hetero.json is not valid"
python3 -c 'import json; j=json.load(open("hetero.json")); j["hidden_dim_list"][0] = 2**32 + 128; open("hf-wrap.json","w").write(json.dumps(j))'
expect_input_error "hidden_dim_list[0]: '4294967424' is out of range" "$flexnas" export-model --model @hf-wrap.json --format hf

# A key of the wrong type is bad input too, not a json type_error (exit 1).
echo '{"model_type": 1, "hidden_dim_list": [128]}' > hf-type.json
expect_input_error "model: unknown field 'hidden_dim_list'" "$flexnas" export-model --model @hf-type.json --format hf
echo '{"format": 1}' > lm-type.json
expect_input_error "lm-type.json: not a flexnas latency model" "$flexnas" evaluate --model "$M" --evaluator latency-model:file=lm-type.json

# --- study configs read by resume -------------------------------------------------------------
"$flexnas" search "${S[@]}" --policy random --budget 2 --quiet --out st >/dev/null || bad "study"
set_config() {  # set_config KEY JSON-VALUE: edit the stored search definition
  python3 - "$1" "$2" <<'PY'
import json, sqlite3, sys
d = sqlite3.connect("st/study.sqlite")
c = json.loads(d.execute("select value from meta where key='config'").fetchone()[0])
c[sys.argv[1]] = json.loads(sys.argv[2])
d.execute("update meta set value=? where key='config'", (json.dumps(c),))
d.commit()
PY
}
for kv in "budget -1|budget: '-1' is out of range" "budget 2.5|budget: '2.5' is not an integer" \
  "budget 4294967298|" "batch 0|batch: '0' is out of range (an integer >= 1)" \
  "seed 18446744073709551616|seed:" "patience -1|patience: '-1' is out of range"; do
  cp st/study.sqlite saved.sqlite
  set_config ${kv%%|*}
  want=${kv#*|}
  if [[ -n $want ]]; then
    expect_input_error "$want" "$flexnas" resume --study st
  else  # a budget past 2^32 is a large budget, not 2 (no wrapping): resume would run, --max-time ends it
    "$flexnas" study show --study st 2>&1 | grep -q "4294967298" && ok || bad "budget 4294967298 is not shown as such"
  fi
  mv saved.sqlite st/study.sqlite
done
"$flexnas" resume --study st >/dev/null 2>err && [[ $(wc -l <st/trials.jsonl) -eq 2 ]] && ok ||
  bad "resume after restoring the config: $(cat err)"

echo "numbers cli: $pass passed, $fail failed"
[[ $fail -eq 0 ]]
