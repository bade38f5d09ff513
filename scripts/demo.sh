#!/usr/bin/env bash
# The default demo on built-in data: a design space, uniformly sampled architectures,
# one architecture's graph, hash and costs, the edit distance between two of them, a
# Transformer2vec embedding, and an NSGA-II search for the architectures with the most
# parameters per FLOP. Results go to results/demo/.
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

step "NSGA-II search: the largest encoders for the least private-inference (MPC, WAN) latency, 120 trials"
rm -rf "$out/study"
"$flexnas" search --space "$space" --evaluator params --evaluator mpc:network=wan,seq=128 \
  --objective encoder_params:max --objective mpc_latency_s:min --policy nsga2:population=24 --budget 120 --seed 1 \
  --workers 2 --out "$out/study"
"$flexnas" export --study "$out/study" --what pareto --format csv -o "$out/pareto.csv"
"$flexnas" export --study "$out/study" --what best --format onnx -o "$out/best.onnx"
"$flexnas" report --study "$out/study" -o "$out/report.html"

printf '\nResults are in %s/: space.txt, sample.jsonl, architecture.json, architecture.dot, costs.txt,\n' "$out"
printf 'embedding.json, study/ (trials.jsonl, pareto.json, best.json, study.sqlite), pareto.csv, best.onnx\n'
printf 'and report.html (open it in a browser: Pareto front, progress, architectures)\n'
printf 'Continue the search with: %s resume --study %s/study --budget 240\n' "$flexnas" "$out"
