#!/usr/bin/env bash
# The default demo on built-in data: a design space, uniformly sampled architectures,
# one architecture's graph, hash and costs, the edit distance between two of them, a
# Transformer2vec embedding, and an NSGA-II search that trains every candidate on MQAR with
# the built-in trainer, trading accuracy against MPC latency. Results go to results/demo/.
set -euo pipefail
flexnas=${1:-build/bin/flexnas}
out=results/demo
space=flexibert-hetero
mkdir -p "$out"

step() { printf '\n== %s\n' "$*"; }

step "design space $space"
"$flexnas" space info --space "$space" | tee "$out/space.txt"

step "20 architectures sampled uniformly (seed 1)"
"$flexnas" space sample --space "$space" -n 20 --seed 1 -o "$out/sample.jsonl"
head -n 1 "$out/sample.jsonl" > "$out/architecture.json"
cat "$out/architecture.json"

step "its graph, hash and costs"
"$flexnas" graph dot --space "$space" --model "@$out/architecture.json" -o "$out/architecture.dot"
echo "graph: $out/architecture.dot ($(grep -c -- '->' "$out/architecture.dot") edges)"
echo "hash:  $("$flexnas" graph hash --space "$space" --model "@$out/architecture.json")"
"$flexnas" evaluate --model "@$out/architecture.json" --evaluator params --evaluator flops:seq=128 \
  | tee "$out/costs.txt"

step "edit distance between the first two architectures"
sed -n 2p "$out/sample.jsonl" > "$out/other.json"
echo "ged: $("$flexnas" graph ged --space "$space" --model "@$out/architecture.json" --model "@$out/other.json")"

step "Transformer2vec embedding of 300 sampled architectures"
"$flexnas" embed --space "$space" -n 300 --seed 1 --quality-pairs 200 -o "$out/embedding.json"

step "NSGA-II search with the built-in trainer: MQAR accuracy against private-inference (MPC, WAN) latency, 48 trials"
# Every candidate of the small heterogeneous space is trained on multi-query associative
# recall (seq 32, 4 key-value pairs) for 600 steps on the CPU; a candidate sharing leading
# layers with an earlier one starts from its checkpoint and trains half as long.
rm -rf "$out/study"
"$flexnas" search --space mqar-hetero \
  --evaluator train:task=mqar,seq=32,kv_pairs=4,vocab_size=32,steps=600,lr=3e-3,transfer=1 \
  --evaluator params --evaluator mpc:network=wan,seq=32 \
  --objective accuracy:max --objective mpc_latency_s:min --policy nsga2:population=8 --budget 48 --seed 1 \
  --workers 2 --out "$out/study"
"$flexnas" export --study "$out/study" --what pareto --format csv -o "$out/pareto.csv"
"$flexnas" export --study "$out/study" --what best --format flexibert -o "$out/best-model.json"
"$flexnas" report --study "$out/study" -o "$out/report.html"

step "the most accurate architecture, trained again from scratch with its loss curve and checkpoint"
# In the search this candidate may have started from layers of an earlier one (knowledge
# transfer) and trained half as long: its accuracy there includes that head start, so from
# scratch it can end lower.
field() { sed -n "s/^ *\"$1\": *\([0-9.]*\).*/\1/p" "$out/study/best.json" | head -n 1; }
moved=$(field transferred_layers)
if [ -n "$moved" ] && [ "${moved%%.*}" != 0 ]; then
  echo "(in the search: accuracy $(field accuracy) after $(field train_steps | sed 's/\.0*$//') steps on top of ${moved%%.*} transferred layer(s))"
fi
"$flexnas" train --model "@$out/best-model.json" -O task=mqar -O seq=32 -O kv_pairs=4 -O vocab_size=32 \
  -O steps=600 -O lr=3e-3 --save "$out/best.ckpt" --curve "$out/best-loss.csv"

printf '\nResults are in %s/: space.txt, sample.jsonl, architecture.json, architecture.dot, costs.txt,\n' "$out"
printf 'embedding.json, study/ (trials.jsonl, pareto.json, best.json, study.sqlite, train/checkpoints),\n'
printf 'pareto.csv, best-model.json, best.ckpt, best-loss.csv\n'
printf 'and report.html (open it in a browser: Pareto front, progress, architectures)\n'
printf 'Continue the search with: %s resume --study %s/study --budget 240\n' "$flexnas" "$out"
