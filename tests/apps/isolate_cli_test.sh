#!/usr/bin/env bash
# `flexnas search --isolate` through the real binary: the test-only fault evaluator
# (FLEXNAS_TEST_EVALUATORS=1) segfaults, aborts, hangs, runs out of memory or prints garbage
# on every 3rd trial; each time the search finishes its budget, those trials are failed with
# the right reason in trials.jsonl and in `export --what all --format csv`, and resume keeps
# the isolation settings. Bad option combinations exit 2 with one line.
# Usage: isolate_cli_test.sh FLEXNAS
set -uo pipefail
flexnas=$(realpath "$1")
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
export FLEXNAS_TEST_EVALUATORS=1

# check MODE REASON [extra search options]: budget 12, trials 0, 3, 6, 9 fail with REASON.
check() {
  local mode=$1 reason=$2; shift 2
  if ! "$flexnas" search --space flexibert-hetero --evaluator params \
      --evaluator "fault:mode=$mode,every=3" --objective params:min --policy random \
      --budget 12 --batch 4 --workers 2 --seed 0 --isolate "$@" --out "st-$mode" \
      >"out-$mode" 2>"err-$mode"; then
    bad "$mode: search failed: $(cat "err-$mode")"; return
  fi
  local want_failed=4
  [[ $mode == ok ]] && want_failed=0
  grep -q "^12 trials finished ($want_failed failed)" "out-$mode" || { bad "$mode: $(head -1 "out-$mode")"; return; }
  python3 - "st-$mode" "$want_failed" "$reason" <<'PY' || { bad "$mode: trials.jsonl"; return; }
import json, sys
d, nfail, reason = sys.argv[1], int(sys.argv[2]), sys.argv[3]
t = [json.loads(l) for l in open(d + "/trials.jsonl")]
assert len(t) == 12, len(t)
failed = [x for x in t if x["status"] != "ok"]
assert len(failed) == nfail, [x["id"] for x in failed]
for x in failed:
    assert x["id"] % 3 == 0, x["id"]
    assert reason in x["reason"], x["reason"]
PY
  if [[ $want_failed -gt 0 ]]; then
    "$flexnas" export --study "st-$mode" --what all --format csv >"csv-$mode" || { bad "$mode: export"; return; }
    [[ $(grep -c ',failed,' "csv-$mode") -eq 4 ]] && grep -qF -- "$reason" "csv-$mode" ||
      { bad "$mode: csv lacks the reason: $(grep ',failed,' "csv-$mode" | head -1)"; return; }
  fi
  ok
}

check ok ""
check segv "crashed: SIGSEGV"
check abort "crashed: SIGABRT (Aborted); stderr: fault: aborting on purpose"
check hang "timed out after 1 s" --eval-timeout 1
check garbage "unreadable result from the evaluation process (not JSON)"
# Sanitizer builds reserve terabytes of shadow address space: RLIMIT_AS cannot work there.
if [[ $flexnas != *asan* ]]; then
  check oom "out of memory (std::bad_alloc)" --eval-memory 256
fi

# Resume keeps --isolate and the timeout: raise the budget of the hang study.
if "$flexnas" resume --study st-hang --budget 16 --workers 2 >out-resume 2>&1 &&
   grep -q "^16 trials finished (6 failed)" out-resume; then ok; else bad "resume: $(cat out-resume)"; fi

expect_input_error "--eval-timeout and --eval-memory need --isolate" \
  "$flexnas" search --space flexibert-hetero --evaluator params --objective params:min \
  --budget 4 --eval-timeout 3 --out x
expect_input_error "evaluator fault: option mode: 'boom' is not one of segv, abort" \
  "$flexnas" search --space flexibert-hetero --evaluator fault:mode=boom --objective fault_value:min \
  --budget 4 --isolate --out y
FLEXNAS_TEST_EVALUATORS=0 expect_input_error "fault" \
  "$flexnas" search --space flexibert-hetero --evaluator fault --objective fault_value:min \
  --budget 4 --out z

echo "isolate_cli_test: $pass passed, $fail failed"
[[ $fail -eq 0 ]]
