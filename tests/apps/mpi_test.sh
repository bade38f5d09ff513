#!/usr/bin/env bash
# --executor mpi through the real binary under mpirun: the same trials as a local run of the
# same seed, a worker rank killed with SIGKILL mid-trial (its trial re-run elsewhere, the
# search ends with its budget), resume under MPI, and the speed-up of 2 worker ranks over 1.
# Skips (exit 77) when mpirun is missing or the binary was built without MPI.
# Usage: mpi_test.sh FLEXNAS
set -uo pipefail
flexnas=$(realpath "$1")
if ! command -v mpirun >/dev/null; then echo "SKIP: mpirun not found (install openmpi-bin)"; exit 77; fi
if ! "$flexnas" search --help | grep -q -- "--executor"; then echo "SKIP: flexnas built without MPI"; exit 77; fi
work=$(mktemp -d)
trap 'kill -9 $(jobs -p) 2>/dev/null; rm -rf "$work"' EXIT
cd "$work"
# Root in containers, more ranks than cores on small machines; a killed rank must not end the job.
mpi=(timeout 60 mpirun --oversubscribe --allow-run-as-root --enable-recovery)
# Open MPI's dlopened components leak at exit with frames LeakSanitizer cannot name; leaks
# in flexnas itself are checked by every other test of the ASan suite.
export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0
fail=0
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }
args=(--space flexibert-test --evaluator params --evaluator sleep:ms=50 --objective params:min
      --budget 24 --seed 7)

# Same trials (ids, models, states, values) as a local run; the column eval_seconds differs.
same() {
  python3 - "$1/trials.jsonl" "$2/trials.jsonl" "$3" <<'PY'
import json, sys
def load(p):
    rows = [json.loads(l) for l in open(p)]
    return {r["id"]: (json.dumps(r.get("model"), sort_keys=True), r.get("status"),
                      json.dumps(r.get("values"), sort_keys=True)) for r in rows}
a, b = load(sys.argv[1]), load(sys.argv[2])
n = int(sys.argv[3])
assert len(a) == n and sorted(a) == list(range(n)), f"reference has {len(a)} trials"
assert a == b, f"differ: {[k for k in a if a.get(k) != b.get(k)][:5]}, {len(b)} trials"
PY
}

"$flexnas" search "${args[@]}" --out ref >/dev/null || bad "local reference run"
"${mpi[@]}" -n 3 "$flexnas" search "${args[@]}" --executor mpi --out m3 >out.txt 2>err.txt ||
  bad "mpirun -n 3: $(cat err.txt)"
grep -q "24 trials finished" out.txt || bad "mpirun -n 3 summary: $(cat out.txt)"
same ref m3 24 || bad "mpi -n 3 differs from the local run"

# Resume under MPI: a study raised to 32 trials matches a local study run to 32 directly.
"$flexnas" search "${args[@]/24/32}" --out ref32 >/dev/null || bad "local 32"
"${mpi[@]}" -n 2 "$flexnas" resume --study m3 --budget 32 --executor mpi >/dev/null 2>err.txt ||
  bad "mpi resume: $(cat err.txt)"
same ref32 m3 32 || bad "mpi resume differs from the local run"

# A worker killed mid-trial: its trial is re-queued, the search ends with the budget.
kargs=(--space flexibert-test --evaluator params --evaluator sleep:ms=100 --objective params:min
       --budget 24 --seed 7)
"$flexnas" search "${kargs[@]}" --out kref >/dev/null || bad "local kill reference"
FLEXNAS_MPI_PIDFILE=$work/pid "${mpi[@]}" -x FLEXNAS_MPI_PIDFILE -n 3 "$flexnas" search \
  "${kargs[@]}" --executor mpi --rank-timeout 3 --out killed >kout.txt 2>kerr.txt &
runner=$!
for _ in $(seq 100); do [[ -s pid.1 ]] && break; sleep 0.05; done
sleep 0.75
kill -9 "$(cat pid.1)" 2>/dev/null || bad "no worker pid to kill"
start=$SECONDS
wait $runner; rc=$?
echo "killed worker: mpirun exit $rc, $((SECONDS - start)) s after the kill; rank 0 said: $(grep -h 'MPI rank' kerr.txt | head -1)"
grep -q "24 trials finished" kout.txt || bad "killed run summary: $(cat kout.txt) $(tail -5 kerr.txt)"
same kref killed 24 || bad "killed run lost or changed trials"

# Bad input on rank 0: one-line error, workers stopped, mpirun's exit code is rank 0's (plain
# mpirun; with --enable-recovery mpirun exits 0 whatever the ranks return).
timeout 60 mpirun --oversubscribe --allow-run-as-root -n 2 "$flexnas" search --space flexibert-test \
  --evaluator params --objective nope:min --executor mpi --out bad >/dev/null 2>err.txt; rc=$?
{ [[ $rc -eq 2 ]] && grep -q "^flexnas: error: objective 'nope' is provided by no evaluator" err.txt; } ||
  bad "bad input under mpirun: rc=$rc $(head -3 err.txt)"

# Speed-up: 2 worker ranks against 1 on sleep:ms=250 (wall time, mpirun start-up included).
# The sleep is long enough that start-up (1-3 s under the ASan suite at ctest -j2) does not
# swallow the gain: ideal 7 s against 4 s with 1 s start-up, 9 s against 6 s with 3 s.
# The issue asks for "faster"; > 1.2x leaves room for a loaded machine.
sargs=(--space flexibert-test --evaluator sleep:ms=250 --objective sleep_ms:min --budget 24 --seed 3)
t0=$(date +%s.%N)
"${mpi[@]}" -n 2 "$flexnas" search "${sargs[@]}" --executor mpi --out s1 >/dev/null 2>&1 || bad "1 worker"
t1=$(date +%s.%N)
"${mpi[@]}" -n 3 "$flexnas" search "${sargs[@]}" --executor mpi --out s2 >/dev/null 2>&1 || bad "2 workers"
t2=$(date +%s.%N)
python3 - "$t0" "$t1" "$t2" <<'PY' || bad "2 workers are not > 1.2x faster than 1"
import sys
t0, t1, t2 = map(float, sys.argv[1:])
r = (t1 - t0) / (t2 - t1)
print(f"speed-up, 24 trials of sleep:ms=250: 1 worker {t1 - t0:.2f} s, 2 workers {t2 - t1:.2f} s, ratio {r:.2f}x")
sys.exit(0 if r > 1.2 else 1)
PY

if [[ $fail -ne 0 ]]; then echo "$fail failures"; exit 1; fi
echo "mpi tests passed"
