#!/usr/bin/env bash
# `flexnas mpc` through the real binary: the JSON contract, the BERT-base reference layer,
# user profile files, and one-line errors (exit 2) for bad names and malformed profiles.
# Usage: mpc_cli_test.sh FLEXNAS
set -uo pipefail
flexnas=$1
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

BERT='{"l":1,"o":["sa"],"h":[768],"n":[12],"f":[[3072]],"p":["sdp"]}'
VIT='{"l":1,"o":["sa"],"h":[256],"n":[4],"f":[[512]],"p":["sdp"],"attn_kernel":["relu"]}'

# BERT-base layer at L = 128: 742,563,840 bytes, 197 rounds; per_op sums to the totals.
"$flexnas" mpc --model "$BERT" --seq 128 --json > bert.json && python3 - <<'PY' && ok || bad "BERT-base JSON"
import json
j = json.load(open("bert.json"))
assert j["bytes"] == 742563840 and j["rounds"] == 197, j
assert isinstance(j["bytes"], int) and isinstance(j["rounds"], int)
assert abs(j["latency_s"] - (197 * 0.08 + 742563840 * 8 / 100e6)) < 1e-6
ops = {o["name"]: o for o in j["per_op"]}
assert all(set(o) >= {"name", "layer", "rounds", "bytes"} for o in j["per_op"])
assert ops["softmax"]["rounds"] == 116 and ops["softmax"]["bytes"] == 292626432 and ops["softmax"]["layer"] == 0
assert sum(o["bytes"] for o in j["per_op"]) == j["bytes"] and sum(o["rounds"] for o in j["per_op"]) == j["rounds"]
PY
# ReLU-softmax ViT layer at 64 tokens on the LAN; the network changes only the latency.
"$flexnas" mpc --model "$VIT" --seq 64 --network lan --json | python3 -c '
import json, sys
j = json.load(sys.stdin)
assert j["bytes"] == 46084096 and j["rounds"] == 119 and j["network"] == "lan", j' && ok || bad "ViT relu on lan"
# The readable table ends with the totals.
"$flexnas" mpc --model "$BERT" | tail -n 1 | grep -q '^total: 197 rounds, 742.56 MB' && ok || bad "table totals"
# scope model adds embeddings and head.
e=$("$flexnas" mpc --model "$BERT" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["bytes"])')
m=$("$flexnas" mpc --model "$BERT" --scope model --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["bytes"])')
[[ $m -gt $e ]] && ok || bad "scope model ($m) not above encoder ($e)"
# User profiles by path, YAML and JSON, without recompiling.
printf 'name: slow\nbandwidth_mbps: 10\nrtt_ms: 200\n' > slow.yaml
"$flexnas" mpc --model "$BERT" --network slow.yaml --json | python3 -c '
import json, sys
j = json.load(sys.stdin)
assert j["network"] == "slow" and abs(j["latency_s"] - (197 * 0.2 + 742563840 * 8 / 10e6)) < 1e-6, j' && ok || bad "network file"
python3 - <<'PY'
import json
json.dump({"name": "cheap-open", "ring_bits": 64, "frac_bits": 16,
           "primitives": {"open": {"rounds": 1, "bytes": 8}, "and": {"rounds": 1, "bytes": 16},
                          "b2a_bit": {"rounds": 1, "bytes": 8}, "truncate": {"rounds": 0, "bytes": 0}},
           "iterations": {"exp": 8, "reciprocal_nr": 10, "inv_sqrt_nr": 3, "erf_terms": 8, "sigmoid_nr": 3}},
          open("half.json", "w"))
PY
"$flexnas" mpc --model "$BERT" --protocol half.json --json | python3 -c '
import json, sys
j = json.load(sys.stdin)
assert j["bytes"] == 742563840 // 2 and j["rounds"] == 197 and j["protocol"] == "cheap-open", j' && ok || bad "protocol file"
"$flexnas" evaluate --model "$BERT" --evaluator mpc:network=lan --json | grep -q '"mpc_bytes":742563840' && ok ||
  bad "evaluate with mpc"

# Bad input: one line, exit 2.
expect_input_error "unknown protocol 'aby3' (valid: crypten-2pc" "$flexnas" mpc --model "$BERT" --protocol aby3
expect_input_error "unknown network 'moon' (valid: lan, wan" "$flexnas" mpc --model "$BERT" --network moon
expect_input_error "unknown scope 'all' (valid: encoder, model)" "$flexnas" mpc --model "$BERT" --scope all
printf 'bandwidth_mbps: fast\nrtt_ms: 10\n' > badnet.yaml
expect_input_error "badnet.yaml: field 'bandwidth_mbps' must be a positive number" "$flexnas" mpc --model "$BERT" \
  --network badnet.yaml
printf 'ring_bits: 64\nfrac_bits: 16\nprimitives:\n  open: {rounds: 1}\n' > badproto.yaml
expect_input_error "badproto.yaml: field 'primitives.open.bytes' is missing" "$flexnas" mpc --model "$BERT" \
  --protocol badproto.yaml
printf 'ring_bits: [64\n' > broken.yaml
expect_input_error "broken.yaml:2: malformed YAML/JSON" "$flexnas" mpc --model "$BERT" --protocol broken.yaml
expect_input_error "evaluator mpc: option seq: '0' is out of range (an integer in [1, 1048576])" "$flexnas" evaluate --model "$BERT" --evaluator mpc:seq=0

echo "mpc cli: $pass passed, $fail failed"
[[ $fail -eq 0 ]]
