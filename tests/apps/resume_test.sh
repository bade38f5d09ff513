#!/usr/bin/env bash
# Crash safety of studies through the real binary: a search killed with SIGKILL at random
# moments and resumed (and killed again) ends with exactly the budgeted unique trials,
# keeps every finished trial unchanged, and matches an uninterrupted run of the same seed.
# A second process opening a running study gets a one-line error.
# Usage: resume_test.sh FLEXNAS
set -uo pipefail
flexnas=$1
work=$(mktemp -d)
trap 'kill -9 $(jobs -p) 2>/dev/null; rm -rf "$work"' EXIT
cd "$work"
fail=0
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }
args=(--space flexibert-hetero --evaluator params --evaluator sleep:ms=30 --objective params:min
      --policy evolution:population=12,sample=4 --budget 80 --batch 4 --seed 11)

"$flexnas" search "${args[@]}" --out ref >/dev/null || bad "reference run"

# Killed run: start, kill at random moments, resume, kill again, finally resume to the end.
"$flexnas" search "${args[@]}" --workers 2 --out st >/dev/null 2>&1 &
pid=$!
sleep 0.4
# While it runs, a second process must be refused.
"$flexnas" resume --study st >/dev/null 2>err; rc=$?
{ [[ $rc -eq 2 ]] && grep -q "in use by another flexnas process" err && [[ $(wc -l < err) -eq 1 ]]; } ||
  bad "second process: rc=$rc $(cat err)"
kill -9 $pid; wait $pid 2>/dev/null
for round in 1 2 3 4 5; do
  python3 - <<'PY' > "snap$round.txt"
import sqlite3
db = sqlite3.connect("file:st/study.sqlite?mode=ro", uri=True)
for r in db.execute("select id, model, hash, state, vals from trials where state != 'asked' order by id"):
    print("|".join(map(str, r)))
PY
  "$flexnas" resume --study st --workers 2 >/dev/null 2>&1 &
  pid=$!
  sleep "0.$((RANDOM % 4 + 2))"
  kill -9 $pid 2>/dev/null; wait $pid 2>/dev/null
  # Nothing finished before this round may have changed or vanished.
  python3 - "snap$round.txt" <<'PY' || bad "round $round lost or changed a finished trial"
import sqlite3, sys
db = sqlite3.connect("file:st/study.sqlite?mode=ro", uri=True)
now = {r[0]: "|".join(map(str, r)) for r in db.execute("select id, model, hash, state, vals from trials where state != 'asked'")}
for line in open(sys.argv[1]):
    i = int(line.split("|", 1)[0])
    assert now.get(i) == line.rstrip("\n"), (i, now.get(i), line)
PY
done
echo "finished before each round: $(wc -l < snap1.txt) $(wc -l < snap2.txt) $(wc -l < snap3.txt) $(wc -l < snap4.txt) $(wc -l < snap5.txt)"
"$flexnas" resume --study st --workers 2 >/dev/null || bad "final resume"

python3 - <<'PY' || bad "final study check"
import json, sqlite3
db = sqlite3.connect("st/study.sqlite")
assert db.execute("pragma integrity_check").fetchone()[0] == "ok"
rows = db.execute("select id, hash, state from trials order by id").fetchall()
assert len(rows) == 80, len(rows)
assert all(r[2] == "ok" for r in rows)
assert len({r[1] for r in rows}) == 80, "duplicate architectures"
lines = [json.loads(l) for l in open("st/trials.jsonl")]
assert sorted(l["id"] for l in lines) == list(range(80)), "trials.jsonl ids"
# Same seed, killed and resumed: the same trials as the uninterrupted reference.
ref = sqlite3.connect("ref/study.sqlite").execute("select id, model, hash, vals from trials order by id").fetchall()
got = db.execute("select id, model, hash, vals from trials order by id").fetchall()
assert ref == got, "resumed study differs from the uninterrupted one"
PY
echo "resume: $((fail == 0 ? 1 : 0)) passed, $fail failed"
[[ $fail -eq 0 ]]
