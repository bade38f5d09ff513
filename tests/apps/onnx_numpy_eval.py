"""Runs a flexnas ONNX export with a small numpy interpreter (onnxruntime is not packaged
for Debian 12) and checks the DFT/DCT constants against numpy's FFT.
Usage: onnx_numpy_eval.py MODEL.onnx [IDS.txt LOGITS.txt]  (exit 0 on success)
With IDS (2 x seq token ids, whitespace separated) and LOGITS (the 2 x labels logits another
implementation computed for them, e.g. flexnas::train::Model in tests/train), the logits of
the ONNX graph must match those (relative 1e-3 of the largest logit)."""
import math
import os
import sys

import numpy as np
import onnx
from onnx import numpy_helper

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
import onnx_run  # noqa: E402

m = onnx.load(sys.argv[1])
g = m.graph
env = {t.name: numpy_helper.to_array(t) for t in g.initializer}

# Constants against closed forms: DFT = FFT of the identity / sqrt(n); orthonormal DCT-II
# through the FFT of the mirrored signal.
for name, v in env.items():
    if name.startswith("const.dft_cos") or name.startswith("const.dft_sin"):
        n = v.shape[0]
        f = np.fft.fft(np.eye(n)) / math.sqrt(n)  # F = C - i S
        want = f.real if "cos" in name else -f.imag
        assert np.allclose(v, want, atol=1e-5), name
    if name.startswith("const.dct") and not name.startswith("const.dctT"):
        n = v.shape[0]
        x = np.eye(n)
        y = np.fft.fft(np.concatenate([x, x[::-1]], axis=0), axis=0)[:n]
        k = np.arange(n)[:, None]
        dct = (np.exp(-1j * np.pi * k / (2 * n)) * y).real
        dct *= np.where(k == 0, math.sqrt(1 / (4 * n)), math.sqrt(1 / (2 * n)))
        assert np.allclose(v, dct, atol=1e-5), name

erf = np.vectorize(math.erf)
seq = g.input[0].type.tensor_type.shape.dim[1].dim_value
vocab = env["embeddings.word.weight"].shape[0]
rng = np.random.default_rng(0)
env["input_ids"] = rng.integers(0, vocab, size=(2, seq), dtype=np.int64)
if len(sys.argv) > 3:
    env["input_ids"] = np.loadtxt(sys.argv[2], dtype=np.int64).reshape(2, seq)
# The graph runs through the one numpy ONNX interpreter of the tests (tests/python/onnx_run.py).
env[g.output[0].name] = onnx_run.run(sys.argv[1], env["input_ids"])
out = env[g.output[0].name]
labels = g.output[0].type.tensor_type.shape.dim[1].dim_value
assert out.shape == (2, labels), out.shape
assert np.all(np.isfinite(out)), out
if len(sys.argv) > 3:
    want = np.loadtxt(sys.argv[3], dtype=np.float64).reshape(out.shape)
    scale = np.abs(want).max()
    assert scale > 1e-3, want
    assert np.abs(out - want).max() <= 1e-3 * scale, (out, want)
    print("given logits: max |diff|", float(np.abs(out - want).max()), "max |logit|", float(scale))

# BERT-like models (every head sa/sdp, softmax, gelu, layernorm, post) also against a
# plain numpy BERT forward written from the BERT definition, using the weights by name.
import json
md = json.loads({p.key: p.value for p in m.metadata_props}["flexnas.model_dict"])
if (all(o == "sa" for o in md.get("o", [])) and all(p == "sdp" for p in md.get("p", []))
        and not any(k in md for k in ("attn_kernel", "activation", "norm", "norm_placement"))):
    W = {t.name: numpy_helper.to_array(t).astype(np.float64) for t in g.initializer}

    def ln(x, p):
        mu = x.mean(-1, keepdims=True)
        return (x - mu) / np.sqrt(((x - mu) ** 2).mean(-1, keepdims=True) + 1e-12) * W[p + ".weight"] + W[p + ".bias"]

    def dense(x, p):
        return x @ W[p + ".weight"] + W[p + ".bias"]

    def gelu(x):
        return 0.5 * x * (1 + erf(x / math.sqrt(2)))

    ids = env["input_ids"]
    x = W["embeddings.word.weight"][ids] + W["embeddings.position.weight"][:seq] + W["embeddings.token_type.weight"][0]
    x = ln(x, "embeddings.norm")
    for j in range(md["l"]):
        n, h = md["n"][j], md["h"][j]
        d = h // n
        heads = []
        for i in range(n):
            p = f"layer{j}.mixing.head{i}_sa"
            q, k, v = dense(x, p + ".query"), dense(x, p + ".key"), dense(x, p + ".value")
            s = q @ k.transpose(0, 2, 1) / math.sqrt(d)
            e = np.exp(s - s.max(-1, keepdims=True))
            heads.append((e / e.sum(-1, keepdims=True)) @ v)
        x = ln(x + dense(np.concatenate(heads, -1), f"layer{j}.mixing.output"), f"layer{j}.mixing.norm")
        y = x
        for i in range(len(md["f"][j])):
            y = gelu(dense(y, f"layer{j}.ffn.ff{i}"))
        x = ln(x + dense(y, f"layer{j}.ffn.ff_out"), f"layer{j}.ffn.norm")
        if j + 1 < md["l"] and md["h"][j + 1] != h:
            x = dense(x, f"layer{j}.projection")
    ref = dense(np.tanh(dense(x[:, 0], "pooler.dense")), "classifier")
    assert np.abs(ref).max() > 1e-3, ref  # logits large enough for the comparison to mean something
    assert np.allclose(out, ref, rtol=1e-3, atol=1e-4 * np.abs(ref).max()), (out, ref)
    print("bert reference: max |diff|", float(np.abs(out - ref).max()), "max |logit|", float(np.abs(ref).max()))
