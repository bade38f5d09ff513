#!/usr/bin/env bash
# flexnas report on real studies: one Pareto mark per trial of pareto.json, failed trials
# listed with escaped reasons, no network references, bad input exits 2 with one line, and
# (when chromium is installed) the page renders headless: the DOM holds the marks and a
# screenshot is written.
# Usage: report_test.sh FLEXNAS
set -uo pipefail
flexnas=$1
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# A cost model that refuses DCT mixing with a reason full of HTML metacharacters.
cat > refuse.sh <<'SH'
#!/bin/sh
read -r m
case "$m" in
  *dct*) echo '{"error": "no <dct> & \"mixing\" here"}' ;;
  *) echo '{"ok": 1}' ;;
esac
SH
"$flexnas" search --space flexibert-test --evaluator params --evaluator flops \
  --evaluator 'external:cmd=sh refuse.sh,values=ok:max' --objective params:min \
  --objective flops:max --constraint 'params<=9000000' --policy nsga2:population=8 \
  --budget 24 --seed 3 --out s >/dev/null 2>err || bad "search failed: $(cat err)"
"$flexnas" report --study s -o r.html 2>err && [[ -s r.html ]] && ok || bad "report failed: $(cat err)"

n_pareto=$(python3 -c 'import json; print(len(json.load(open("s/pareto.json"))))')
n_marks=$(grep -o 'class="pareto-point" data-trial-id="[0-9]*"' r.html | sort -u | wc -l)
[[ $n_pareto -ge 2 && $n_marks -eq $n_pareto ]] && ok || bad "pareto marks $n_marks, pareto.json $n_pareto"
# Every Pareto trial id of pareto.json has its mark and its drawing.
for id in $(python3 -c 'import json; print(" ".join(str(t["id"]) for t in json.load(open("s/pareto.json"))))'); do
  grep -q "class=\"pareto-point\" data-trial-id=\"$id\"" r.html && grep -q "id=\"trial-$id\"" r.html &&
    ok || bad "pareto trial $id has no mark or drawing"
done
n_failed=$(grep -c '"status": *"failed"\|"status":"failed"' s/trials.jsonl)
n_rows=$(grep -o 'class="failed-trial"' r.html | wc -l)
[[ $n_failed -ge 1 && $n_rows -eq $n_failed ]] && ok || bad "failed rows $n_rows, trials.jsonl $n_failed"
grep -qF 'no &lt;dct&gt; &amp; &quot;mixing&quot; here' r.html && ok || bad "reason not escaped"
grep -qF '<dct>' r.html && bad "raw <dct> in the page" || ok
grep -qiE '<script|https?://|<link|src=' r.html && bad "page refers to something outside it" || ok
grep -q 'infeasible-point' r.html && ok || bad "no constraint-violating marks"
grep -q 'class="plot best-plot"' r.html && grep -q 'class="plot histogram"' r.html && ok ||
  bad "best-so-far or histogram missing"

# Axes by name; a search with one objective has no Pareto plot.
"$flexnas" report --study s --x flops --y params -o xy.html && grep -q 'params against flops' xy.html && ok ||
  bad "--x/--y"
"$flexnas" search --space flexibert-test --evaluator params --objective params:min --budget 8 \
  --out one >/dev/null 2>&1 && "$flexnas" report --study one -o one.html &&
  ! grep -q 'class="plot pareto-plot"' one.html && grep -q 'best-plot' one.html && ok || bad "one-objective report"
# The study is read without its lock: a report works while another process holds it.
if command -v flock >/dev/null; then
  flock s/lock "$flexnas" report --study s -o - >locked.html 2>err && grep -q pareto-point locked.html &&
    ok || bad "report of a locked study: $(cat err)"
fi
expect_input_error "holds no study" "$flexnas" report --study nowhere
expect_input_error "--x 'nope' is not a value of this study" "$flexnas" report --study s --x nope

# Headless Chromium: the page renders and the DOM keeps every mark.
# CHROMIUM= (set and empty) forces the skip; CHROMIUM=/path picks a browser.
chromium=${CHROMIUM-$(command -v chromium || command -v chromium-browser || true)}
if [[ -z "$chromium" ]]; then
  echo "SKIP: chromium not installed, render check skipped"
else
  chrome=(timeout 60 "$chromium" --headless=new --no-sandbox --disable-gpu --no-first-run
    --disable-dev-shm-usage --user-data-dir="$work/chrome")
  "${chrome[@]}" --dump-dom "file://$work/r.html" >dom.html 2>chrome.err
  n_dom=$(grep -o 'class="pareto-point" data-trial-id="[0-9]*"' dom.html | sort -u | wc -l)
  [[ $n_dom -eq $n_pareto ]] && ok || bad "rendered DOM has $n_dom pareto marks, expected $n_pareto ($(tail -3 chrome.err))"
  "${chrome[@]}" --screenshot="$work/shot.png" --window-size=1200,1600 --hide-scrollbars \
    "file://$work/r.html" >/dev/null 2>>chrome.err
  [[ -s shot.png && $(head -c 4 shot.png | tail -c 3) == PNG ]] && ok || bad "no screenshot ($(tail -3 chrome.err))"
fi

echo "report: $pass passed, $fail failed"
[[ $fail -eq 0 ]]
