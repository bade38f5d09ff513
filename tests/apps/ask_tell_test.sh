#!/usr/bin/env bash
# flexnas ask / tell through the real binary: a study driven from a shell loop (values from
# `flexnas evaluate`) holds the same trials as `search` with the same seed, for several
# policies and with parallel workers; exit statuses 3 (complete) and 4 (nothing to hand
# out now); bad tells and disagreeing options are one-line errors (exit 2); a driver killed
# with SIGKILL at random moments (inside ask, evaluate or tell) loses nothing; the study
# stays readable by report, export and study show.
# Usage: ask_tell_test.sh FLEXNAS SOURCE_DIR
set -uo pipefail
flexnas=$1
src=$2
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
trap 'kill -9 $(jobs -p) 2>/dev/null; rm -rf "$work"' EXIT

# One trial: ask, evaluate with params and flops (as search does), tell. Returns ask's
# status: 0 told one, 3 complete, 4 nothing to hand out now.
step() {
  local study=$1 t rc id model vals
  t=$("$flexnas" ask --study "$study" --reissue 2>/dev/null); rc=$?
  [[ $rc -eq 0 ]] || return $rc
  [[ $t =~ \"trial\":([0-9]+) ]] || return 1
  id=${BASH_REMATCH[1]}
  model=${t#*\"model\":}
  model=${model%\}}
  vals=$("$flexnas" evaluate --model "$model" --evaluator params --evaluator flops --json) || return 1
  "$flexnas" tell --study "$study" --trial "$id" --values "$vals" >/dev/null 2>&1 || return 1
}
drive() {
  local rc
  for _ in $(seq 600); do
    step "$1"; rc=$?
    [[ $rc -eq 3 ]] && return 0
    [[ $rc -eq 4 ]] && { sleep 0.05; continue; }
    [[ $rc -eq 0 ]] || return 1
  done
  return 1
}
# id, hash and values of every trial, one line each.
trials() {
  "$flexnas" export --study "$1" --what all --format json | python3 -c '
import json, sys
for t in json.load(sys.stdin):
    print(t["id"], t["hash"], t["status"], json.dumps(t["values"], sort_keys=True))'
}

D=(--space flexibert-test --objective params:min --objective flops:max --budget 14 --batch 4 --seed 7)
for P in random nsga2:population=8 "boshnas:init=8,encoding=naive"; do
  tag=${P%%:*}
  "$flexnas" search "${D[@]}" --evaluator params --evaluator flops --policy "$P" --out "ref-$tag" >/dev/null ||
    bad "search $P"
  # The first ask creates the study from the search options (no evaluators: values are told).
  "$flexnas" ask --study "at-$tag" "${D[@]}" --policy "$P" >first.json 2>err && grep -q '"trial":0' first.json &&
    ok || bad "first ask $P: $(cat err)"
  drive "at-$tag" || bad "drive $P"
  cmp -s <(trials "ref-$tag") <(trials "at-$tag") && ok || bad "ask/tell $P differs from search: $(diff <(trials "ref-$tag") <(trials "at-$tag") | head -5)"
done

# Three workers at once on one study (each waits its turn for the study; exit 4 while the
# batch's last trials are out): still the trials of search.
"$flexnas" ask --study par "${D[@]}" --policy nsga2:population=8 >/dev/null && ok || bad "create par"
for w in 1 2 3; do drive par & done
wait
cmp -s <(trials ref-nsga2) <(trials par) && ok || bad "parallel workers differ from search"

# --- exit statuses and errors -------------------------------------------------------------
out=$("$flexnas" ask --study at-random 2>err); rc=$?
[[ $rc -eq 3 && $out == '{"done":"budget"}' ]] && grep -q "is complete: its budget of 14 trials is used" err &&
  ok || bad "ask after the budget: rc=$rc $out $(cat err)"
S=(--space flexibert-test --objective accuracy:max --policy random --batch 2 --budget 3)
"$flexnas" ask --study w "${S[@]}" --form hetero >a0.json && "$flexnas" ask --study w >a1.json && ok || bad "asks of w"
grep -q '"o":\[\["' a0.json && ok || bad "--form hetero gives no per-head strings: $(cat a0.json)"
out=$("$flexnas" ask --study w 2>err); rc=$?
[[ $rc -eq 4 && $out == '{"wait":[0,1]}' ]] && grep -q "trial(s) 0, 1 are out" err && ok || bad "wait: rc=$rc $out $(cat err)"
expect_input_error "has no trial 5 (its trials are 0 to 1)" "$flexnas" tell --study w --trial 5 --values '{"accuracy": 1}'
expect_input_error "lack objective 'accuracy'" "$flexnas" tell --study w --trial 0 --values '{"acc": 1}'
expect_input_error "value 'accuracy' is a string, not a number" "$flexnas" tell --study w --trial 0 --values '{"accuracy": "1"}'
expect_input_error "--values: malformed JSON" "$flexnas" tell --study w --trial 0 --values '{"accuracy": '
expect_input_error "give --values" "$flexnas" tell --study w --trial 0
expect_input_error "--budget 5 disagrees with the definition of study w" "$flexnas" ask --study w --budget 5
expect_input_error "--objective disagrees" "$flexnas" ask --study w --objective accuracy:min
expect_input_error "--lease disagrees" "$flexnas" ask --study w --lease 10
expect_input_error "holds no study yet: the first ask creates it" "$flexnas" ask --study nothing --policy random
expect_input_error "unknown policy 'bogus'" "$flexnas" ask --study x1 --space flexibert-test --objective a:max --policy bogus
[[ ! -e x1 && ! -e nothing ]] && ok || bad "a refused ask left a study directory behind"
"$flexnas" tell --study w --trial 0 --values '{"accuracy": 0.5, "note": 3}' >/dev/null && ok || bad "tell 0"
expect_input_error "trial 0 was already told (ok)" "$flexnas" tell --study w --trial 0 --values '{"accuracy": 1}'
"$flexnas" tell --study w --trial 1 --failed "out of memory" >/dev/null && ok || bad "tell --failed"
"$flexnas" ask --study w >a2.json && grep -q '"trial":2' a2.json && ok || bad "third ask: $(cat a2.json)"
expect_input_error "gets its values (accuracy) from flexnas tell" "$flexnas" resume --study w
# --reissue hands out the trial still out; a lease does so by itself once it ends.
"$flexnas" ask --study w --reissue | grep -q '"trial":2,"batch":1,"given":2' && ok || bad "--reissue"
"$flexnas" study show --study w | grep -q "^ask/tell .*lease none (ask --reissue); out (handed out, not told): 2 (given 2x)$" &&
  ok || bad "study show of an ask/tell study: $("$flexnas" study show --study w)"
"$flexnas" ask --study l --space flexibert-test --objective accuracy:max --policy random --batch 1 --lease 0.2 >/dev/null
sleep 0.3
"$flexnas" ask --study l | grep -q '"trial":0,"batch":0,"given":2' && ok || bad "lease"

# The shell loop of docs/python.md, as it is shown.
awk '/ask-tell-loop/ {on = 1; next} on && /^```sh/ {next} on && /^```/ {exit} on' "$src/docs/python.md" |
  sed "s|build/bin/flexnas|$flexnas|" >loop.sh
[[ $(wc -l <loop.sh) -gt 3 ]] && bash loop.sh >loop.out 2>loop.err && grep -q '"l":' loop.out &&
  "$flexnas" study show --study loop-study | grep -q "^progress *12 of 12" && ok ||
  bad "the loop of docs/python.md: $(cat loop.err)"

# --- readable by report, export, study show -------------------------------------------------
echo '{"accuracy": 0.7}' >v2.json
"$flexnas" tell --study w --trial 2 --values @v2.json >/dev/null && ok || bad "tell 2 --values @file"
"$flexnas" report --study w -o w.html 2>err && [[ -s w.html ]] && ok || bad "report: $(cat err)"
"$flexnas" export --study w --what best --format flexibert >/dev/null && ok || bad "export best"
"$flexnas" study show --study w | grep -q "^progress *3 of 3" && ok || bad "study show: $("$flexnas" study show --study w)"

# --- SIGKILL in the middle of ask, evaluate or tell --------------------------------------------
# A sequential driver (ask --reissue gives again what a killed one handed out) killed at
# random moments and restarted: finished trials never change, and the study ends with the
# trials of search.
"$flexnas" ask --study k "${D[@]}" --policy nsga2:population=8 >/dev/null
snapshot() {
  python3 -c '
import sqlite3
db = sqlite3.connect("file:k/study.sqlite?mode=ro", uri=True)
for r in db.execute("select id, model, hash, state, vals from trials where state != \"asked\" order by id"):
    print("|".join(map(str, r)))'
}
for round in 1 2 3 4 5 6; do
  snapshot >"snap$round.txt"
  setsid bash -c "$(declare -f step drive); flexnas='$flexnas'; drive k" >/dev/null 2>&1 &
  pid=$!
  sleep "0.$((RANDOM % 4 + 1))"
  kill -9 -- -"$pid" 2>/dev/null; wait "$pid" 2>/dev/null
  python3 - "snap$round.txt" <<'PY' || bad "round $round lost or changed a finished trial"
import sqlite3, sys
db = sqlite3.connect("file:k/study.sqlite?mode=ro", uri=True)
now = {r[0]: "|".join(map(str, r)) for r in db.execute("select id, model, hash, state, vals from trials where state != 'asked'")}
for line in open(sys.argv[1]):
    i = int(line.split("|", 1)[0])
    assert now.get(i) == line.rstrip("\n"), (i, now.get(i), line)
PY
done
echo "finished before each round: $(cat snap*.txt | wc -l) lines over 6 rounds"
drive k && ok || bad "final drive of k"
cmp -s <(trials ref-nsga2) <(trials k) && ok || bad "killed and restarted study differs from search"
python3 - <<'PY' && ok || bad "k's files"
import json, sqlite3
db = sqlite3.connect("k/study.sqlite")
assert db.execute("pragma integrity_check").fetchone()[0] == "ok"
lines = [json.loads(l) for l in open("k/trials.jsonl")]
assert sorted(l["id"] for l in lines) == list(range(14)), "trials.jsonl ids"
PY

echo "ask_tell: $pass passed, $fail failed"
[[ $fail -eq 0 ]]
