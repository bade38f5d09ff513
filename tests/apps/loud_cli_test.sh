#!/usr/bin/env bash
# Failures are loud and interrupts are clean, through the real binary: per-trial and
# per-failure lines, exit 1 when no trial succeeded, SIGINT stopping evaluator process
# groups (grandchildren included) with exit 130 and a resumable study, corrupt studies as
# bad input, population warnings, policy errors, a flooding evaluator, --quiet, --json and
# resume --retry-failed.
# Usage: loud_cli_test.sh FLEXNAS
set -uo pipefail
flexnas=$1
source "$(dirname "$0")/lib.sh"
trap 'kill -9 $(jobs -p) 2>/dev/null; [[ -s "$work/gc.pid" ]] && kill -9 "$(cat "$work/gc.pid")" 2>/dev/null; rm -rf "$work"' EXIT
S=(--space flexibert-test --objective x:min --policy random --seed 3)

# 1. No trial succeeds: one stderr line per failure as it happens, exit 1, common reasons.
"$flexnas" search "${S[@]}" --evaluator "external:cmd=echo boom >&2; exit 3,values=x:min" \
  --budget 4 --out none >out 2>err; rc=$?
{ [[ $rc -eq 1 ]] && [[ $(grep -c "^flexnas: trial [0-9]* failed: evaluator external: exit status 3: boom$" err) -eq 4 ]] &&
  grep -q "no trial succeeded (4 failed); most common reasons:" err && grep -q "^  4 x evaluator external: exit status 3: boom$" err; } ||
  bad "all failed: rc=$rc $(cat err)"
# stdout is not a terminal: one line per trial, then the summary, results last.
{ [[ $(grep -c "^trial [0-9]*: failed, [0-9.]* s$" out) -eq 4 ]] && tail -n 1 out | grep -q "^results: none/trials.jsonl"; } ||
  bad "trial lines: $(cat out)"
"$flexnas" resume --study none >/dev/null 2>err; rc=$?
[[ $rc -eq 0 ]] || bad "resume of a finished study with no work: rc=$rc $(cat err)"

# 6. --quiet: the summary only; --json: one object.
"$flexnas" search "${S[@]}" --evaluator "external:cmd=echo '{\"x\": 1}',values=x:min" --budget 3 \
  --quiet --out q >out 2>err || bad "quiet search: $(cat err)"
{ [[ $(wc -l <out) -eq 3 ]] && head -n 1 out | grep -q "^3 trials finished (0 failed)"; } || bad "quiet: $(cat out)"
"$flexnas" search "${S[@]}" --evaluator "external:cmd=echo '{\"x\": 1}',values=x:min" --budget 3 \
  --json --out j >out 2>err || bad "json search: $(cat err)"
python3 - <<'PY' || bad "json summary: $(cat out)"
import json
lines = open("out").read().splitlines()
assert len(lines) == 1, lines
j = json.loads(lines[0])
assert j["finished"] == 3 and j["failed"] == 0 and j["stopped"] == "budget", j
assert j["best"]["id"] == 0 and j["best"]["values"]["x"] == 1, j
assert j["study"] == "j" and j["interrupted"] is False, j
PY

# 5. A program flooding stdout fails its trial instead of growing flexnas.
"$flexnas" search "${S[@]}" --evaluator "external:cmd=yes,values=x:min,timeout=20" --budget 1 \
  --out flood >/dev/null 2>err; rc=$?
{ [[ $rc -eq 1 ]] && grep -q "wrote more than 4 MiB on stdout" err; } || bad "flood: rc=$rc $(cat err)"

# 4. Population policies warn when their first generation is the whole budget; policy
# spec errors name the policy.
"$flexnas" search --space flexibert-test --evaluator params --evaluator flops --objective params:min --objective flops:min \
  --policy nsga2:population=10 --budget 5 --out warn >/dev/null 2>err || bad "warn search: $(cat err)"
grep -q "warning: policy nsga2: population=10 is not below the budget (5): it will only ever sample its first generation at random" err ||
  bad "population warning: $(cat err)"
"$flexnas" search --space flexibert-test --evaluator params --objective params:min \
  --policy evolution:population=4 --budget 5 --out nowarn >/dev/null 2>err || bad "nowarn search"
grep -q warning err && bad "warning with population below the budget: $(cat err)"
expect_input_error "policy 'nsga2:population': option 'population' is not key=value" \
  "$flexnas" search --space flexibert-test --evaluator params --objective params:min --policy nsga2:population --out pe

# 3. Corrupt or foreign study.sqlite: bad input, one line.
mkdir corrupt foreign
head -c 4096 /dev/urandom >corrupt/study.sqlite
python3 -c "import sqlite3; d = sqlite3.connect('foreign/study.sqlite'); d.execute('create table meta(key, value)'); d.execute(\"insert into meta values('config', '{}')\"); d.commit()"
expect_input_error "corrupt/study.sqlite is not a flexnas study" "$flexnas" resume --study corrupt
expect_input_error "foreign/study.sqlite is not a flexnas study" "$flexnas" resume --study foreign
expect_input_error "foreign/study.sqlite is not a flexnas study" "$flexnas" export --study foreign

# 7. resume --retry-failed: failed trials re-run as new trials with the same architectures.
cat >flaky.sh <<'SH'
read -r line
if [ -e "$PWD/broken" ]; then echo "flaky failure" >&2; exit 1; fi
echo '{"x": 2}'
SH
touch broken
"$flexnas" search "${S[@]}" --evaluator "external:cmd=sh $work/flaky.sh,values=x:min" --budget 3 \
  --out retry >/dev/null 2>err; rc=$?
[[ $rc -eq 1 ]] || bad "flaky search: rc=$rc"
rm broken
"$flexnas" resume --study retry --retry-failed >out 2>err || bad "retry: $(cat err)"
grep -q "^6 trials finished (3 failed), stopped: budget$" out || bad "retry summary: $(cat out)"
python3 - <<'PY' || bad "retried trials"
import sqlite3
db = sqlite3.connect("retry/study.sqlite")
rows = db.execute("select id, hash, state from trials order by id").fetchall()
assert [r[2] for r in rows] == ["failed"] * 3 + ["ok"] * 3, rows
assert [r[1] for r in rows[:3]] == [r[1] for r in rows[3:]], rows
PY
"$flexnas" resume --study retry --retry-failed >out 2>err || bad "retry again: $(cat err)"
grep -q "^6 trials finished (3 failed)" out || bad "nothing left to retry: $(cat out)"
"$flexnas" resume --study retry --budget 5 >out 2>err || bad "resume after retry: $(cat err)"
grep -q "^8 trials finished (3 failed), stopped: budget$" out || bad "resume after retry: $(cat out)"

# 2. SIGINT: the evaluator's whole process group stops (a background grandchild too), exit
# 130 with the resume hint, and the study resumes to its budget.
cat >hang.sh <<SH
read -r line
if [ -e "$work/hang" ]; then
  rm -f "$work/hang"
  sleep 300 &
  echo \$! >"$work/gc.pid"
  wait
fi
echo '{"x": 1}'
SH
touch hang
"$flexnas" search "${S[@]}" --evaluator "external:cmd=sh $work/hang.sh,values=x:min" --budget 4 \
  --batch 1 --out intr >out 2>err &
pid=$!
for _ in $(seq 100); do [[ -s gc.pid ]] && break; sleep 0.1; done
gc=$(cat gc.pid 2>/dev/null)
[[ -n "$gc" ]] && kill -0 "$gc" 2>/dev/null || bad "grandchild never started"
kill -INT $pid
wait $pid; rc=$?
sleep 0.2
[[ $rc -eq 130 ]] || bad "interrupted search exited $rc: $(cat err)"
grep -q "^interrupted after 0 trials; continue with flexnas resume --study intr$" err || bad "interrupt message: $(cat err)"
# Gone, or a zombie waiting for a reaper that is not flexnas (state Z).
if [[ -r /proc/$gc/stat ]] && [[ $(awk '{print $3}' "/proc/$gc/stat") != Z ]]; then
  bad "grandchild $gc survived the interrupt: $(cat "/proc/$gc/stat")"
fi
grep -q "failed" err && bad "the interrupted trial was recorded as failed: $(cat err)"
"$flexnas" resume --study intr >out 2>err || bad "resume after interrupt: $(cat err)"
grep -q "^4 trials finished (0 failed), stopped: budget$" out || bad "resumed: $(cat out)"

echo "loud: $pass passed, $fail failed"
[[ $fail -eq 0 ]]
