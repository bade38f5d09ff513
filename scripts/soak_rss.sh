#!/usr/bin/env bash
# The driver's memory over a long cheap search: `flexnas search` with the params evaluator
# and the random policy for TRIALS trials (default 10,000); samples VmRSS of the process and
# the finished-trial count (trials.jsonl lines) every half second, and prints the RSS growth
# per 1,000 trials (least-squares slope over the samples after the first 10 % of trials),
# the total run time and trials per second.
# Usage: scripts/soak_rss.sh [FLEXNAS] [TRIALS]
set -uo pipefail
flexnas=$(realpath "${1:-build/bin/flexnas}")
trials=${2:-10000}
work=$(mktemp -d)
trap 'kill -9 $(jobs -p) 2>/dev/null; rm -rf "$work"' EXIT
cd "$work"
start=$(date +%s.%N)
"$flexnas" search --space flexibert-hetero --evaluator params --objective params:min \
  --policy random --budget "$trials" --batch 50 --seed 1 --out st >/dev/null &
pid=$!
: >samples.txt
while kill -0 $pid 2>/dev/null; do
  rss=$(awk '/^VmRSS:/ {print $2}' /proc/$pid/status 2>/dev/null)
  n=$(wc -l 2>/dev/null <st/trials.jsonl || echo 0)
  [[ -n $rss ]] && echo "$n $rss" >>samples.txt
  sleep 0.5
done
wait $pid || { echo "search failed"; exit 1; }
end=$(date +%s.%N)
python3 - "$trials" "$start" "$end" <<'PY'
import sys
trials, start, end = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3])
pts = [tuple(map(int, l.split())) for l in open("samples.txt") if l.strip()]
use = [(n, r) for n, r in pts if n >= trials // 10]
secs = end - start
print(f"{trials} trials in {secs:.1f} s ({trials / secs:.0f} trials/s), {len(pts)} RSS samples")
if len(use) < 3:
    print("too few samples for a slope"); sys.exit(0)
mx = sum(n for n, _ in use) / len(use); my = sum(r for _, r in use) / len(use)
slope = sum((n - mx) * (r - my) for n, r in use) / max(1e-9, sum((n - mx) ** 2 for n, _ in use))
print(f"RSS: {pts[0][1] / 1024:.1f} MiB at start, {max(r for _, r in pts) / 1024:.1f} MiB peak, "
      f"{use[-1][1] / 1024:.1f} MiB at {use[-1][0]} trials")
print(f"RSS growth: {slope * 1000:.0f} KiB per 1,000 trials")
PY
