#!/usr/bin/env bash
# Custom cost models through the real binary: external programs (oneshot and worker), a
# C-ABI plugin and a device LUT each drive `flexnas search`; failing programs make failed
# trials while the search finishes its budget; bad plugin and LUT files exit 2 with one line.
# Usage: custom_cli_test.sh FLEXNAS SOURCE_DIR PLUGIN_LIB_DIR
set -uo pipefail
flexnas=$1
src=$2
lib=$3
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# check_study DIR BUDGET MIN_OK: trials.jsonl has BUDGET finished trials, at least MIN_OK ok.
check_study() {
  python3 - "$@" <<'PY'
import json, sys
d, budget, min_ok = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
t = [json.loads(l) for l in open(d + "/trials.jsonl")]
okc = sum(x["status"] == "ok" for x in t)
assert len(t) == budget, f"{len(t)} trials, expected {budget}"
assert okc >= min_ok, f"{okc} ok trials, expected at least {min_ok}"
PY
}

M='{"l":2,"o":["sa","sa"],"h":[128,128],"n":[2,2],"f":[[512],[512]],"p":["sdp","sdp"]}'
S=(--space flexibert-test --policy random --budget 6 --seed 3)
toy="$src/data/examples/toy-latency.sh"

# --- the three evaluators drive real searches -----------------------------------------------
"$flexnas" search "${S[@]}" --evaluator "external:cmd=sh $toy,values=toy_ms:min,weights_m:max" \
  --objective toy_ms:min --out ext >/dev/null 2>"$work/err" && check_study ext 6 6 && ok ||
  bad "external oneshot search: $(cat "$work/err")"
"$flexnas" search "${S[@]}" --evaluator "external:cmd=sh $toy,values=toy_ms:min,weights_m:max,mode=worker" \
  --objective toy_ms:min --workers 2 --out extw >/dev/null 2>"$work/err" && check_study extw 6 6 && ok ||
  bad "external worker search: $(cat "$work/err")"
# Same architectures, same values in both modes.
cmp -s <(python3 -c 'import json,sys; print(sorted((t["hash"], t["values"]["toy_ms"]) for t in map(json.loads, open("ext/trials.jsonl"))))') \
       <(python3 -c 'import json,sys; print(sorted((t["hash"], t["values"]["toy_ms"]) for t in map(json.loads, open("extw/trials.jsonl"))))') &&
  ok || bad "oneshot and worker modes disagree"
"$flexnas" search "${S[@]}" --evaluator "plugin:path=$lib/libflexnas_energy_plugin.so" --objective energy_mj:min \
  --out plug >/dev/null 2>"$work/err" && check_study plug 6 6 && ok || bad "plugin search: $(cat "$work/err")"
"$flexnas" search "${S[@]}" --evaluator "lut:file=$src/data/examples/device-lut.yaml" --objective latency_ms:min \
  --evaluator params --constraint 'params<=2e7' --out lut >/dev/null 2>"$work/err" && check_study lut 6 6 && ok ||
  bad "lut search: $(cat "$work/err")"
out=$("$flexnas" evaluate --model "$M" --evaluator "external:cmd=sh $toy,values=toy_ms:min,weights_m:max" --json)
[[ $out == '{"toy_ms":'*'"weights_m":0.393216}' ]] && ok || bad "evaluate with external: $out"

# --- a program that crashes, hangs or prints garbage for some architectures -----------------
# By a checksum of the model line: 0 answers, 1 crashes, 2 hangs, 3 prints garbage.
cat > flaky.sh <<'SH'
read -r line
case $(( $(printf '%s' "$line" | cksum | cut -d' ' -f1) % 4 )) in
  0) echo '{"cost": 1}' ;;
  1) echo "cannot place layer" >&2; exit 3 ;;
  2) while :; do sleep 1; done ;;
  3) echo "Traceback (most recent call last):" ;;
esac
SH
start=$(date +%s)
"$flexnas" search --space flexibert-test --policy random --budget 16 --seed 5 --workers 4 \
  --evaluator "external:cmd=sh $work/flaky.sh,values=cost:min,timeout=1" --objective cost:min --out flaky \
  >flaky.out 2>"$work/err" && ok || bad "flaky search failed: $(cat "$work/err")"
grep -q "^16 trials finished" flaky.out && ok || bad "flaky search did not finish its budget: $(cat flaky.out)"
python3 - <<'PY' && ok || bad "flaky trial reasons"
import json
t = [json.loads(l) for l in open("flaky/trials.jsonl")]
assert len(t) == 16
reasons = {x["reason"] for x in t if x["status"] == "failed"}
want = {"evaluator external: exit status 3: cannot place layer",
        "evaluator external: timed out after 1 s",
        "evaluator external: answer is not a JSON object: 'Traceback (most recent call last):'"}
assert reasons == want, reasons
assert any(x["status"] == "ok" and x["values"]["cost"] == 1 for x in t)
PY
(( $(date +%s) - start < 20 )) && ok || bad "flaky search took $(( $(date +%s) - start )) s"
sleep 0.2
if pgrep -f "$work/flaky.sh" >/dev/null; then bad "hung programs survived the search"; else ok; fi

# --- bad input: exit 2 with one line --------------------------------------------------------
E=(--space flexibert-test --budget 2)
expect_input_error "plugin $lib/libflexnas_test_plugin_bad_abi.so: plugin ABI version 2, this flexnas loads version 1" \
  "$flexnas" search "${E[@]}" --evaluator "plugin:path=$lib/libflexnas_test_plugin_bad_abi.so" --objective chars:min --out x1
expect_input_error "missing symbol flexnas_plugin_evaluate" \
  "$flexnas" search "${E[@]}" --evaluator "plugin:path=$lib/libflexnas_test_plugin_no_evaluate.so" --objective chars:min --out x2
expect_input_error "plugin nope.so: no such file" \
  "$flexnas" search "${E[@]}" --evaluator plugin:path=nope.so --objective chars:min --out x3
echo "not a library" > fake.so
expect_input_error "plugin fake.so: cannot load:" \
  "$flexnas" search "${E[@]}" --evaluator plugin:path=fake.so --objective chars:min --out x4
printf 'values:\n  - {name: ms}\nentries:\n  - {op: ff, in: 128, out: 512, ms: 1, hiden: 3}\n' > typo-lut.yaml
expect_input_error "typo-lut.yaml:4: ff: hiden: unknown key (known: in, out, seq, ms)" \
  "$flexnas" search "${E[@]}" --evaluator lut:file=typo-lut.yaml --objective ms:min --out x5
printf 'values: [{name: ms}\nentries: [\n' > broken-lut.yaml
expect_input_error "broken-lut.yaml:2: malformed YAML" \
  "$flexnas" search "${E[@]}" --evaluator lut:file=broken-lut.yaml --objective ms:min --out x6
expect_input_error "cannot read 'no-lut.yaml'" \
  "$flexnas" search "${E[@]}" --evaluator lut:file=no-lut.yaml --objective ms:min --out x7
expect_input_error "objective 'latency_ms' is provided by no evaluator (values: cost)" \
  "$flexnas" search "${E[@]}" --evaluator "external:cmd=true,values=cost:min" --objective latency_ms:min --out x8
expect_input_error "values entry 'cost' is not NAME:min or NAME:max" \
  "$flexnas" search "${E[@]}" --evaluator "external:cmd=true,values=cost" --objective cost:min --out x9
expect_input_error "evaluator external failed: exit status 3: cannot place layer" \
  "$flexnas" evaluate --model "$M" --evaluator "external:cmd=echo cannot place layer >&2; exit 3,values=cost:min"
[[ ! -e x1 && ! -e x4 && ! -e x5 && ! -e x8 ]] && ok || bad "a refused search left a study directory behind"

echo "custom cli: $pass passed, $fail failed"
[[ $fail -eq 0 ]]
