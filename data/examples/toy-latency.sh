#!/bin/sh
# Toy external cost model for flexnas (docs/custom-cost-models.md). Reads model dicts, one
# JSON line each, on stdin and answers one JSON line per model, so it serves both
# mode=oneshot and mode=worker. POSIX sh and awk only.
#   weights_m: millions of weights in the dense matrices (4 h^2 for q, k, v and output per
#              layer, the feed-forward stack, projections between widths)
#   toy_ms:    2 * seq * weights FLOPs at an assumed 20 GFLOP/s, in ms (seq: $FLEXNAS_SEQ)
while IFS= read -r line; do
  printf '%s\n' "$line" | awk '{
    h = $0; sub(/.*"h":\[/, "", h); sub(/\].*/, "", h); nh = split(h, H, ",")
    f = $0; sub(/.*"f":\[\[/, "", f); sub(/\]\].*/, "", f); split(f, F, /\],\[/)
    w = 0
    for (j = 1; j <= nh; j++) {
      w += 4 * H[j] * H[j]
      nw = split(F[j], W, ","); prev = H[j]
      for (k = 1; k <= nw; k++) { w += prev * W[k]; prev = W[k] }
      w += prev * H[j]
      if (j < nh && H[j + 1] != H[j]) w += H[j] * H[j + 1]
    }
    seq = ENVIRON["FLEXNAS_SEQ"]; if (seq == "") seq = 128
    printf "{\"toy_ms\": %.6g, \"weights_m\": %.6g}\n", 2 * seq * w / 2e10 * 1e3, w / 1e6
  }'
done
