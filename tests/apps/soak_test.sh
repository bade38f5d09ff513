#!/usr/bin/env bash
# Crash-safety soak (ctest label slow, `make soak`): a search over 1,000 trials, evaluated by
# two workers in forked child processes (--isolate), is killed with SIGKILL at a random
# moment, then its resume is killed, 100 kills in all, and a last resume finishes it. The
# study must end with exactly the budgeted trials, no duplicate architecture hashes, every
# trial finished before a kill unchanged afterwards, the same trials as an uninterrupted run
# of the same seed, and `PRAGMA integrity_check` = ok (Python's sqlite3, never skipped). The
# peak RSS of the driver of the last resume (which replays the whole study) is printed.
# Usage: soak_test.sh FLEXNAS [KILLS] [BUDGET]
set -uo pipefail
flexnas=$(realpath "$1")
kills=${2:-100}
work=$(mktemp -d)
trap 'kill -9 $(jobs -p) 2>/dev/null; rm -rf "$work"' EXIT
cd "$work"
fail=0
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }
budget=${3:-1000}
args=(--space flexibert-hetero --evaluator params --evaluator sleep:ms=20 --objective params:min
      --policy evolution:population=12,sample=4 --budget $budget --batch 4 --seed 23 --isolate)
"$flexnas" search "${args[@]}" --out ref >/dev/null || bad "reference run"

snapshot() {
  python3 - <<'PY'
import sqlite3
db = sqlite3.connect("file:st/study.sqlite?mode=ro", uri=True)
for r in db.execute("select id, model, hash, state, vals from trials where state != 'asked' order by id"):
    print("|".join(map(str, r)))
PY
}
unchanged() {
  python3 - "$1" <<'PY'
import sqlite3, sys
db = sqlite3.connect("file:st/study.sqlite?mode=ro", uri=True)
now = {r[0]: "|".join(map(str, r)) for r in db.execute("select id, model, hash, state, vals from trials where state != 'asked'")}
for line in open(sys.argv[1]):
    i = int(line.split("|", 1)[0])
    assert now.get(i) == line.rstrip("\n"), (i, now.get(i), line)
PY
}

counts=""
for round in $(seq 1 "$kills"); do
  if [[ $round -eq 1 ]]; then
    : >snap.txt
    "$flexnas" search "${args[@]}" --workers 2 --out st >/dev/null 2>&1 &
  else
    snapshot >snap.txt 2>/dev/null || { bad "round $round: cannot read the study"; break; }
    "$flexnas" resume --study st --workers 2 >/dev/null 2>&1 &
  fi
  pid=$!
  # 100-900 ms: sometimes while the study opens or replays, mostly in the middle of batches.
  sleep "0.$(printf '%03d' $((RANDOM % 800 + 100)))"
  kill -9 $pid 2>/dev/null
  wait $pid 2>/dev/null
  unchanged snap.txt 2>/dev/null || bad "round $round lost or changed a finished trial"
  counts+="$(wc -l <snap.txt) "
done
echo "finished trials before each kill: $counts"
python3 - "$flexnas" <<'PY' || bad "final resume"
import resource, subprocess, sys
r = subprocess.run([sys.argv[1], "resume", "--study", "st", "--workers", "2"], stdout=subprocess.DEVNULL)
peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print(f"driver peak RSS of the last resume (replays the whole study): {peak / 1024:.1f} MiB")
sys.exit(r.returncode)
PY

python3 - $budget <<'PY' || bad "final study check"
import json, sqlite3, sys
budget = int(sys.argv[1])
db = sqlite3.connect("st/study.sqlite")
rows = db.execute("select id, hash, state from trials order by id").fetchall()
assert len(rows) == budget, len(rows)
assert all(r[2] == "ok" for r in rows), "unfinished or failed trials"
assert len({r[1] for r in rows}) == budget, "duplicate architectures"
lines = [json.loads(l) for l in open("st/trials.jsonl")]
assert sorted(l["id"] for l in lines) == list(range(budget)), "trials.jsonl ids"
ref = sqlite3.connect("ref/study.sqlite").execute("select id, model, hash, vals from trials order by id").fetchall()
got = db.execute("select id, model, hash, vals from trials order by id").fetchall()
assert ref == got, "killed-and-resumed study differs from the uninterrupted one"
PY
ic=$(python3 -c 'import sqlite3; print(sqlite3.connect("st/study.sqlite").execute("PRAGMA integrity_check").fetchone()[0])')
[[ $ic == ok ]] && echo "integrity_check: ok" || bad "integrity_check: $ic"
echo "soak ($kills kills): $((fail == 0 ? 1 : 0)) passed, $fail failed"
[[ $fail -eq 0 ]]
