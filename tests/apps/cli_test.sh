#!/usr/bin/env bash
# CLI tests through the real binary: exit codes, one-line errors, reference outputs, and
# every `build/bin/flexnas ...` command shown in README.md and docs/*.md.
# Usage: cli_test.sh FLEXNAS SOURCE_DIR
set -uo pipefail
flexnas=$1
src=$2
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

M='{"l":2,"o":["sa","sa"],"h":[128,128],"n":[2,2],"f":[[512],[512]],"p":["sdp","sdp"]}'
M2='{"l":2,"o":["c","sa"],"h":[256,128],"n":[2,2],"f":[[1024],[512]],"p":["9","sdp"]}'

# --- reference outputs ------------------------------------------------------------------
expect_out 3317817600 "$flexnas" space count --space flexibert-test --layers-per-stack 1 --mixed-ff
expect_out 84943872 "$flexnas" space count --space flexibert-test --layers-per-stack 1
expect_out 9312 "$flexnas" space count --space flexibert-test --layers-per-stack 2
expect_out 79cadebed0d9211f265df75c88666c35c7b3b2e3823206c928f099d3a0faa444 "$flexnas" graph hash --model "$M"
expect_out 17 "$flexnas" graph ged --model "$M" --model "$M2" --exact
expect_out valid "$flexnas" space validate --space flexibert-test --model "$M"
echo "$M" > m.json
expect_out 79cadebed0d9211f265df75c88666c35c7b3b2e3823206c928f099d3a0faa444 "$flexnas" graph hash --model @m.json
"$flexnas" version | grep -q '^flexnas [0-9]' && ok || bad "version"
"$flexnas" space count --space flexibert-small --json | grep -q '"count":"' && ok || bad "count --json"
"$flexnas" graph ged --model "$M" --model "$M2" --json | grep -q '"exact":true' && ok || bad "ged --json"
"$flexnas" evaluate --model "$M" --evaluator params --json | grep -q '"params":4369408' && ok || bad "evaluate --json"

# Sampling: deterministic per seed, valid, JSON lines.
"$flexnas" space sample --space flexibert-hetero -n 50 --seed 9 -o s1.jsonl &&
  "$flexnas" space sample --space flexibert-hetero -n 50 --seed 9 > s2.jsonl &&
  cmp -s s1.jsonl s2.jsonl && [[ $(wc -l < s1.jsonl) -eq 50 ]] && ok || bad "sample determinism"
expect_out "50 valid" "$flexnas" space validate --space flexibert-hetero --models s1.jsonl
# Enumeration of a small space agrees with its count.
n=$("$flexnas" space enumerate --space flexibert-test --layers-per-stack 2 | wc -l)
[[ $n -eq 9312 ]] && ok || bad "enumerate gave $n lines"
# The printed YAML of a built-in space loads back to the same space.
"$flexnas" space info --space flexibert-small --yaml > small.yaml
expect_out "$("$flexnas" space count --space flexibert-small | tail -n 1)" "$flexnas" space count --space small.yaml

# --- bad input: exit 2 with one line naming the problem ----------------------------------
printf 'layers: [2, 4\nhidden: [128\n' > bad.yaml
expect_input_error "malformed YAML" "$flexnas" space info --space bad.yaml
expect_input_error "no-such.yaml" "$flexnas" space info --space no-such.yaml
expect_input_error "no-such.json" "$flexnas" graph hash --model @no-such.json
expect_input_error "unknown operation 'xx'" "$flexnas" space validate --space flexibert-test \
  --model '{"l":2,"o":["xx","sa"],"h":[128,128],"n":[2,2],"f":[[512],[512]],"p":["sdp","sdp"]}'
expect_input_error "h = 300 is not in space flexibert-test's hidden sizes {128, 256}" "$flexnas" space validate \
  --space flexibert-test --model '{"l":2,"o":["sa","sa"],"h":[128,300],"n":[2,2],"f":[[512],[512]],"p":["sdp","sdp"]}'
expect_input_error "n[0] = 300 heads exceed h = 128" "$flexnas" space validate --space flexibert-test \
  --model '{"l":2,"o":["sa","sa"],"h":[128,128],"n":[300,2],"f":[[512],[512]],"p":["sdp","sdp"]}'
# FlexiBERT 2.0 head sizes h // n: a model dict may have them, a 'divides' space rejects them.
expect_input_error "n = 3 heads is not in space flexibert-test's head counts" "$flexnas" space validate \
  --space flexibert-test --model '{"l":2,"o":["sa","sa"],"h":[128,128],"n":[3,2],"f":[[512],[512]],"p":["sdp","sdp"]}'
expect_input_error "heads of size 40 do not fit hidden size h = 128 (the head size is h // n = 42)" "$flexnas" \
  graph hash --model '{"l":1,"o":[["sa_sdp_40","sa_sdp_40","sa_sdp_40"]],"h":[128],"f":[[512]]}'
expect_input_error "out of range" "$flexnas" graph hash \
  --model '{"l":1,"o":["sa"],"h":[4294967424],"n":[2],"f":[[512]],"p":["sdp"]}'
expect_input_error "h[0]" "$flexnas" graph hash \
  --model '{"l":1,"o":["sa"],"h":[256777777777777777777777777777777777777777777],"n":[2],"f":[[512]],"p":["sdp"]}'
expect_input_error "malformed JSON" "$flexnas" graph hash \
  --model '{"l":1,"o":["sa"],"h":[128],"n":[2],"f":[[1e400]],"p":["sdp"]}'
expect_input_error "parameter 'dft' is not a self-attention type" "$flexnas" space validate --space flexibert-test \
  --model '{"l":2,"o":["sa","sa"],"h":[128,128],"n":[2,2],"f":[[512],[512]],"p":["dft","sdp"]}'
expect_input_error "field 'o' has 2 entries but l = 3" "$flexnas" space validate --space flexibert-test \
  --model '{"l":3,"o":["sa","sa"],"h":[128,128],"n":[2,2],"f":[[512],[512]],"p":["sdp","sdp"]}'
expect_input_error "empty model" "$flexnas" space validate --space flexibert-test --model '{}'
expect_input_error "malformed JSON" "$flexnas" graph hash --model '{"l":2,'
expect_input_error "unknown evaluator 'nope'" "$flexnas" evaluate --model "$M" --evaluator nope
expect_input_error "f2048" "$flexnas" graph ged --model "$M" \
  --model '{"l":2,"o":["sa","sa"],"h":[128,128],"n":[2,2],"f":[[2048],[512]],"p":["sdp","sdp"]}'
expect_input_error "--bogus" "$flexnas" space count --bogus
expect_input_error "neither a built-in space" "$flexnas" space count --space flexibert-nope
printf 'layers: [2]\nhidden: [128]\nheads: [2]\noperations: {sa: [sdp]}\nff: {depth: [1], width: [512]}\nheds: [4]\n' > typo.yaml
expect_input_error "heds: unknown key" "$flexnas" space info --space typo.yaml

# --- search, resume, export ----------------------------------------------------------------
S=(--space flexibert-hetero --evaluator params --evaluator flops --objective params:max --constraint 'flops<=8e8')
"$flexnas" search "${S[@]}" --budget 30 --seed 4 --workers 1 --out w1 >/dev/null &&
  "$flexnas" search "${S[@]}" --budget 30 --seed 4 --workers 2 --out w2 >/dev/null &&
  cmp -s <("$flexnas" export --study w1 --what all --format csv | cut -d, -f1-3 | sort) \
         <("$flexnas" export --study w2 --what all --format csv | cut -d, -f1-3 | sort) &&
  [[ $("$flexnas" export --study w1 --what all --format csv | wc -l) -eq 31 ]] && ok || bad "workers 1 vs 2 determinism"
"$flexnas" export --study w1 --what best --format flexibert -o best.json && "$flexnas" space validate --space flexibert-hetero \
  --model @best.json >/dev/null && ok || bad "export best as a model dict"
for f in w1/study.sqlite w1/trials.jsonl w1/pareto.json w1/best.json; do [[ -s $f ]] && ok || bad "missing $f"; done
[[ $(stat -c %a w1) == 700 ]] && ok || bad "study directory permissions $(stat -c %a w1)"
out=$("$flexnas" search --space flexibert-test --evaluator params --evaluator flops --objective params:min \
  --objective flops:min --policy nsga2:population=10 --budget 40 --out ns)
grep -q "hypervolume" <<<"$out" && ok || bad "nsga2 prints no hypervolume: $out"
python3 - <<'PY' && ok || bad "pareto.json is dominated"
import json
p = [(t["values"]["params"], t["values"]["flops"]) for t in json.load(open("ns/pareto.json"))]
assert p and not any(b != a and b[0] <= a[0] and b[1] <= a[1] for a in p for b in p)
PY
# Surrogate-assisted NSGA-II and hierarchical refinement: a study extended by resume holds
# the same trials as one run with the larger budget.
for P in "sa-nsga2:init=8" "hierarchical:inner=nsga2,stage=8,pool=60"; do
  M2O=(--space flexibert-test --evaluator params --evaluator flops --objective params:min --objective flops:max --policy "$P")
  "$flexnas" search "${M2O[@]}" --budget 20 --out ra >/dev/null && "$flexnas" resume --study ra --budget 32 >/dev/null &&
    "$flexnas" search "${M2O[@]}" --budget 32 --out rb >/dev/null &&
    [[ "$(grep -o '"hash":"[0-9a-f]*"' ra/trials.jsonl | sort)" == "$(grep -o '"hash":"[0-9a-f]*"' rb/trials.jsonl | sort)" ]] &&
    [[ $(wc -l < ra/trials.jsonl) -eq 32 ]] && ok || bad "resume of $P"
  rm -rf ra rb
done
# Early stop: a target every model meets ends the search after its first batch; patience
# ends it before the budget; both are stored and honoured by resume.
out=$("$flexnas" search "${S[@]}" --budget 30 --stop-at 'params>=1' --out st1 2>&1)
grep -q "stopped: target reached by trial 0" <<<"$out" && [[ $(wc -l < st1/trials.jsonl) -eq 4 ]] && ok || bad "stop-at: $out"
out=$("$flexnas" resume --study st1 2>&1)
grep -q "stopped: target reached" <<<"$out" && [[ $(wc -l < st1/trials.jsonl) -eq 4 ]] && ok || bad "stop-at on resume: $out"
out=$("$flexnas" search "${S[@]}" --budget 400 --patience 10 --out st2 2>&1)
grep -q "stopped: no improvement in" <<<"$out" && [[ $(wc -l < st2/trials.jsonl) -lt 400 ]] && ok || bad "patience: $out"
expect_input_error "--stop-at value 'acc' is provided by no evaluator" "$flexnas" search "${S[@]}" --stop-at 'acc>=1' --out x6
expect_input_error "already holds a study" "$flexnas" search "${S[@]}" --budget 5 --out w1
expect_input_error "unknown policy 'bogus' (valid: random, evolution, nsga2" "$flexnas" search "${S[@]}" --policy bogus --out x1
expect_input_error "unknown evaluator 'bogus' (valid:" "$flexnas" search --space flexibert-test --evaluator bogus \
  --objective params:min --out x2
expect_input_error "objective 'accuracy' is provided by no evaluator" "$flexnas" search --space flexibert-test \
  --evaluator params --objective accuracy:max --out x3
printf '%s\n' '{"model":{"l":2,"o":["sa","sa"],"h":[128,128],"n":[2,2],"f":[[512],[512]],"p":["sdp","sdp"]}}' \
  '{"model":{"l":2,"o":["sa"]}}' > badpool.jsonl
expect_input_error "badpool.jsonl:2" "$flexnas" search --pool badpool.jsonl --evaluator params --objective params:min --out x4
expect_input_error "takes one objective" "$flexnas" search --space flexibert-test --evaluator params --evaluator flops \
  --objective params:min --objective flops:min --policy evolution --out x5
expect_input_error "holds no study" "$flexnas" resume --study nowhere
[[ ! -e x1 && ! -e x2 && ! -e x3 && ! -e x5 && ! -e x6 ]] && ok || bad "a refused search left a study directory behind"

# --- one vocabulary: catalogs, study show, absolute paths, --trust, export precision ---------
expect_input_error "did you mean: search?" "$flexnas" searc
expect_input_error "unknown command 'flexnas space inf'; did you mean: info?" "$flexnas" space inf
expect_input_error "--max-time: Value -1 must be >= 0" "$flexnas" search --space flexibert-test \
  --evaluator params --objective params:min --max-time -1 --study v0
"$flexnas" evaluators --json | python3 -c '
import json, sys
e = {x["name"]: x for x in json.load(sys.stdin)}
assert [v["name"] for v in e["params"]["values"]] == ["params", "encoder_params"], e["params"]
assert {"name": "seq", "default": "128", "allowed": "an integer in [1, 1048576]",
        "description": "sequence length"} in e["flops"]["options"], e["flops"]
assert e["table"]["values"] is None and "file" in e["table"]["values_note"]' && ok || bad "evaluators --json"
"$flexnas" policies --json | python3 -c '
import json, sys
p = {x["name"]: x for x in json.load(sys.stdin)}
pop = [o for o in p["evolution"]["options"] if o["name"] == "population"][0]
assert pop["default"] == "50" and pop["allowed"] == "an integer >= 1", pop
assert p["nsga2"]["multi_objective"] and not p["evolution"]["multi_objective"]' \
  && ok || bad "policies --json"
[[ $("$flexnas" evaluators | grep -c '^  option') -gt 10 ]] && ok || bad "evaluators lists no options"
printf '%s\n' "$M" > m.json
expect_out '{"params":4369408.0,"encoder_params":396544.0}' "$flexnas" evaluate --model m.json --evaluator params --json
"$flexnas" evaluate --model m.json --evaluator params >/dev/null 2>"$work/err" && grep -q "write @m.json" "$work/err" &&
  ok || bad "a plain --model path gives no hint: $(cat "$work/err")"
printf '%s\n' "$M" '{"l":2,"o":["sa","sa"],"h":[128,300],"n":[2,2],"f":[[512],[512]],"p":["sdp","sdp"]}' 'not json' > inv.jsonl
expect_input_error "2 of 3 models are invalid (listed on stdout); first: inv.jsonl: model 2 (line 2): layer 2: h = 300" \
  "$flexnas" space validate --space flexibert-test --models inv.jsonl
[[ $("$flexnas" space validate --space flexibert-test --models inv.jsonl 2>/dev/null | wc -l) -eq 2 ]] && ok ||
  bad "space validate does not list every invalid model"
mkdir -p sub && printf '#!/bin/sh\nread -r line\necho '"'"'{"toy": 0.12345678901234567}'"'"'\n' > sub/toy.sh && chmod +x sub/toy.sh
(cd sub && "$flexnas" search --space flexibert-test --evaluator "external:cmd=./toy.sh,values=toy:min" \
  --evaluator params --objective toy:min --constraint 'params<=1e7' --budget 4 --batch 2 --study ../v1 >/dev/null 2>"$work/err") &&
  ok || bad "search with a relative external command: $(cat "$work/err")"
"$flexnas" study show --study v1 >show.txt && grep -qF "command: $work/sub/toy.sh" show.txt && grep -q "^progress *4 of 4" show.txt &&
  grep -q "^pareto set" show.txt && grep -q "^runs" show.txt && ok || bad "study show: $(cat show.txt)"
"$flexnas" resume --study v1 --budget 6 >/dev/null 2>"$work/err" && ok || bad "resume from another directory: $(cat "$work/err")"
python3 -c '
import json, sys
t = [json.loads(l) for l in open("v1/trials.jsonl")]
assert len(t) == 6 and all(x["status"] == "ok" for x in t), t
assert all(set(x["violations"]) == {"params<=10000000"} and x["feasible"] == (x["values"]["params"] <= 1e7) for x in t), t[0]' \
  && ok || bad "trials.jsonl lacks feasible/violations or the resumed trials failed"
"$flexnas" export --study v1 --what all --format csv | python3 -c '
import csv, sys
rows = list(csv.DictReader(sys.stdin))
assert rows[0]["toy"] == "0.12345678901234566" or rows[0]["toy"] == "0.12345678901234567", rows[0]["toy"]
assert rows[0]["feasible"] in ("true", "false") and "violation:params<=10000000" in rows[0]' && ok || bad "csv export precision"
mv sub/toy.sh sub/toy.moved
expect_input_error "sub/toy.sh' is missing" "$flexnas" resume --study v1 --budget 8
[[ $(wc -l <v1/trials.jsonl) -eq 6 ]] && ok || bad "a refused resume ran trials"
mv sub/toy.moved sub/toy.sh
if [[ $(id -u) -eq 0 ]]; then
  chown -R nobody v1
  expect_input_error "resume with --trust" "$flexnas" resume --study v1 --budget 8
  "$flexnas" study show --study v1 | grep -q "not you" && ok || bad "study show does not flag another owner"
  "$flexnas" resume --study v1 --budget 8 --trust >/dev/null 2>"$work/err" && ok || bad "resume --trust: $(cat "$work/err")"
fi

# --- every command shown in the README and docs -------------------------------------------
ln -s "$src/data" data
ln -s "$src/tests" tests
while IFS= read -r line; do
  cmd=${line/build\/bin\/flexnas/$flexnas}
  if bash -c "$cmd" >/dev/null 2>"$work/err"; then ok; else bad "doc command failed: $line: $(head -c 300 "$work/err")"; fi
done < <(grep -h '^build/bin/flexnas ' "$src/README.md" "$src"/docs/*.md 2>/dev/null)

echo "cli: $pass passed, $fail failed"
[[ $fail -eq 0 ]]
