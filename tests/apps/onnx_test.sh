#!/usr/bin/env bash
# flexnas export-model / export --format hf|onnx and graph dot|svg, through the real binary.
# ONNX files are checked with the system python's onnx package (checker with full_check and
# strict shape inference); those checks are skipped with a message when it is missing.
# Usage: onnx_test.sh FLEXNAS
set -uo pipefail
flexnas=$1
here=$(cd "$(dirname "$0")" && pwd)
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# Together these use every family and option: sa sdp+wma, l dft+dct, c 5/9/13, hetero
# heads, attn kernels softmax/relu/quad/scale, activations gelu/relu/quad, norms
# layernorm/rmsnorm/none, placements post/pre/peri, hidden 128 -> 256 -> 128 projections.
H='{"l":4,"o":[["sa_sdp_32","sa_wma_32","l_dft_32","c_5_32"],["l_dct_64","c_9_64","sa_sdp_64","c_13_64"],["sa_wma_64","sa_sdp_64"],["sa_sdp_128"]],"h":[128,256,128,128],"f":[[256],[512,256],[128],[256]],"attn_kernel":["softmax","relu","quad","scale"],"activation":["gelu","relu","quad","gelu"],"norm":["layernorm","rmsnorm","none","layernorm"],"norm_placement":["post","pre","peri","peri"]}'
S='{"l":3,"o":["sa","l","c"],"h":[128,128,256],"n":[2,2,4],"f":[[512],[512],[1024]],"p":["wma","dft","13"],"norm":["rmsnorm","layernorm","layernorm"],"norm_placement":["peri","pre","post"]}'
D='{"l":1,"o":["l"],"h":[128],"n":[4],"f":[[256]],"p":["dct"]}'
# Plain BERT (sdp, softmax, gelu, layernorm, post), also compared with a numpy BERT forward.
B='{"l":2,"o":["sa","sa"],"h":[64,128],"n":[2,4],"f":[[128,96],[256]],"p":["sdp","sdp"]}'
# FlexiBERT 2.0 heads of h // n where n does not divide h: every operation, 4 heads of 21 in
# 85 (84 wide) and 3 of 21 in 64 (63 wide), with a projection 85 -> 64.
N='{"l":2,"o":[["sa_sdp_21","sa_wma_21","l_dft_21","c_5_21"],["l_dct_21","sa_sdp_21","c_3_21"]],"h":[85,64],"f":[[128],[96]],"attn_kernel":["softmax","relu"],"norm_placement":["post","pre"]}'
# Plain BERT with h // n heads (64 / 3, 100 / 3), also against the numpy BERT forward.
B2='{"l":2,"o":["sa","sa"],"h":[64,100],"n":[3,3],"f":[[128],[256]],"p":["sdp","sdp"]}'

i=0
for m in "$H" "$S" "$D" "$B" "$N" "$B2"; do
  i=$((i + 1))
  "$flexnas" export-model --model "$m" --format onnx --vocab 1000 --seq 32 -o m$i.onnx && [[ -s m$i.onnx ]] && ok ||
    bad "export-model onnx $i"
  echo "$m" > m$i.json
  # Deterministic: the same seed gives the same bytes; another seed other weights.
  "$flexnas" export-model --model @m$i.json --format onnx --vocab 1000 --seq 32 -o again.onnx &&
    cmp -s m$i.onnx again.onnx && ok || bad "onnx determinism $i"
  "$flexnas" export-model --model @m$i.json --format onnx --vocab 1000 --seq 32 --seed 7 -o seed7.onnx &&
    ! cmp -s m$i.onnx seed7.onnx && ok || bad "onnx seed $i"
  # Model dict round trip through the hf config: export -> load -> export identical.
  "$flexnas" export-model --model "$m" --format hf -o c$i.json &&
    "$flexnas" export-model --model @c$i.json --format hf -o c$i.again.json && cmp -s c$i.json c$i.again.json &&
    "$flexnas" export-model --model @c$i.json --format onnx --vocab 1000 --seq 32 -o fromhf.onnx &&
    cmp -s m$i.onnx fromhf.onnx && ok || bad "hf round trip $i"
  grep -q '"model_type": "flexibert"' c$i.json && ok || bad "hf model_type $i"
done

# Graphviz: dot parses back with the graph's node and edge counts; svg has one node group per node.
"$flexnas" graph dot --model "$H" -o h.dot && ok || bad "graph dot"
# H: 4 layers: heads 4+4+2+1, 2 norms each, ff 1+2+1+1, input, output = 26 nodes;
# edges per layer 2*heads + ff + 3, plus output: 22 + 5 + 12 + 1 = 40.
nodes=$(grep -cE '^\s*n[0-9]+\s+\[' h.dot)
edges=$(grep -cE '^\s*n[0-9]+ -> n[0-9]+' h.dot)
[[ $nodes -eq 26 && $edges -eq 40 ]] && ok || bad "dot counts: $nodes nodes, $edges edges (want 26, 40)"
"$flexnas" graph svg --model "$H" -o h.svg && ok || bad "graph svg"
head -c 100 h.svg | grep -qE '^(<\?xml|<svg)' && ok || bad "svg header"
[[ $(grep -c '<g id="node[0-9]*" class="node">' h.svg) -eq 26 ]] && ok || bad "svg node count"
grep -q '#fdae6b' h.svg && ok || bad "svg colours conv heads"
if command -v xmllint >/dev/null; then xmllint --noout h.svg && ok || bad "svg well-formed"; fi
expect_input_error "n[0]" "$flexnas" graph svg --model '{"l":1,"o":["sa"],"h":[2],"n":[3],"f":[[512]],"p":["sdp"]}'

# Study export: best -> one file, pareto/all -> array / directory.
"$flexnas" search --space flexibert-test --evaluator params --evaluator flops --objective params:max \
  --objective flops:min --policy random --budget 6 --seed 3 --out st >/dev/null 2>&1 && ok || bad "search"
"$flexnas" export --study st --what best --format onnx --seq 16 --vocab 500 -o best.onnx && [[ -s best.onnx ]] && ok ||
  bad "export best onnx"
"$flexnas" export --study st --what all --format onnx --seq 16 --vocab 500 -o all && ok || bad "export all onnx"
[[ $(ls all/*.onnx | wc -l) -eq 6 ]] && ok || bad "export all: $(ls all | wc -l) files, want 6"
"$flexnas" export --study st --what all --format hf -o all.json && ok || bad "export all hf"
/usr/bin/python3 -c "import json,sys; a=json.load(open('all.json')); sys.exit(0 if len(a)==6 and all(c['model_type']=='flexibert' for c in a) else 1)" &&
  ok || bad "hf array"
"$flexnas" export --study st --what best --format hf | /usr/bin/python3 -c "import json,sys; json.load(sys.stdin)['hidden_dim_list']" &&
  ok || bad "hf best to stdout"
expect_input_error "needs -o" "$flexnas" export --study st --what best --format onnx
expect_input_error "--seq" "$flexnas" export-model --model "$D" --format onnx --seq 1000 -o x.onnx

# ONNX validity.
if /usr/bin/python3 -c "import onnx" 2>/dev/null; then
  for f in m1.onnx m2.onnx m3.onnx m4.onnx m5.onnx m6.onnx best.onnx all/*.onnx; do
    /usr/bin/python3 - "$f" <<'PY' && ok || bad "onnx check $f"
import json, sys
import onnx
from onnx import shape_inference
m = onnx.load(sys.argv[1])
onnx.checker.check_model(m, full_check=True)
inf = shape_inference.infer_shapes(m, check_type=True, strict_mode=True, data_prop=True)
out = inf.graph.output[0].type.tensor_type.shape.dim
assert out[0].dim_param == "batch" and out[1].dim_value == 2, out
json.loads({p.key: p.value for p in m.metadata_props}["flexnas.model_dict"])
PY
    /usr/bin/python3 "$here/onnx_numpy_eval.py" "$f" >numpy.log && ok || bad "numpy run of $f"
    [[ $f != m4.onnx && $f != m6.onnx ]] || grep -q "bert reference" numpy.log && ok ||
      bad "numpy BERT reference not run for $f"
  done
  # Every op family shows up where expected, and the stored model dict is the input.
  /usr/bin/python3 - m1.onnx m2.onnx "$H" <<'PY' && ok || bad "onnx op coverage"
import json, sys
import onnx
ops = set()
kernels = set()
for f in sys.argv[1:3]:
    m = onnx.load(f)
    for n in m.graph.node:
        ops.add(n.op_type)
        if n.op_type == "Conv":
            kernels.add(tuple(a.ints[0] for a in n.attribute if a.name == "kernel_shape"))
need = {"Gather", "MatMul", "Softmax", "Relu", "Conv", "Erf", "LayerNormalization", "ReduceMean",
        "ReduceSum", "Sqrt", "Concat", "Transpose", "Tanh", "Sub"}
assert need <= ops, need - ops
assert kernels == {(5,), (9,), (13,)}, kernels
m = onnx.load(sys.argv[1])
md = json.loads({p.key: p.value for p in m.metadata_props}["flexnas.model_dict"])
assert md == json.loads(sys.argv[3]), md
PY
else
  echo "SKIP: onnx checks: /usr/bin/python3 cannot import onnx (Debian python3-onnx)"
fi

echo "onnx_test: $pass passed, $fail failed"
[[ $fail -eq 0 ]]
