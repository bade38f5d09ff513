"""Runs a flexnas ONNX export with a small numpy interpreter (onnxruntime is not packaged
for Debian 12) and checks the DFT/DCT constants against numpy's FFT.
Usage: onnx_numpy_eval.py MODEL.onnx [IDS.txt LOGITS.txt]  (exit 0 on success)
With IDS (2 x seq token ids, whitespace separated) and LOGITS (the 2 x labels logits another
implementation computed for them, e.g. flexnas::train::Model in tests/train), the logits of
the ONNX graph must match those (relative 1e-3 of the largest logit)."""
import math
import sys

import numpy as np
import onnx
from onnx import numpy_helper

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

def attrs(node):
    out = {}
    for a in node.attribute:
        out[a.name] = onnx.helper.get_attribute_value(a)
    return out

erf = np.vectorize(math.erf)
seq = g.input[0].type.tensor_type.shape.dim[1].dim_value
vocab = env["embeddings.word.weight"].shape[0]
rng = np.random.default_rng(0)
env["input_ids"] = rng.integers(0, vocab, size=(2, seq), dtype=np.int64)
if len(sys.argv) > 3:
    env["input_ids"] = np.loadtxt(sys.argv[2], dtype=np.int64).reshape(2, seq)
for node in g.node:
    a = attrs(node)
    x = [env[i] for i in node.input]
    op = node.op_type
    if op == "Gather":
        r = np.take(x[0], x[1], axis=a.get("axis", 0))
    elif op in ("Add", "Sub", "Mul", "Div"):
        r = {"Add": np.add, "Sub": np.subtract, "Mul": np.multiply, "Div": np.divide}[op](x[0], x[1])
    elif op == "MatMul":
        r = np.matmul(x[0], x[1])
    elif op == "Transpose":
        r = np.transpose(x[0], a["perm"])
    elif op == "Softmax":
        e = np.exp(x[0] - x[0].max(axis=a["axis"], keepdims=True))
        r = e / e.sum(axis=a["axis"], keepdims=True)
    elif op == "Relu":
        r = np.maximum(x[0], 0)
    elif op == "Erf":
        r = erf(x[0]).astype(np.float32)
    elif op == "Tanh":
        r = np.tanh(x[0])
    elif op == "Sqrt":
        r = np.sqrt(x[0])
    elif op == "Identity":
        r = x[0]
    elif op == "Concat":
        r = np.concatenate(x, axis=a["axis"])
    elif op == "ReduceMean":
        r = x[0].mean(axis=tuple(a["axes"]), keepdims=bool(a["keepdims"]))
    elif op == "ReduceSum":
        r = x[0].sum(axis=tuple(x[1]), keepdims=bool(a["keepdims"]))
    elif op == "LayerNormalization":
        mu = x[0].mean(axis=-1, keepdims=True)
        var = ((x[0] - mu) ** 2).mean(axis=-1, keepdims=True)
        r = (x[0] - mu) / np.sqrt(var + a["epsilon"]) * x[1] + x[2]
    elif op == "Conv":  # depthwise 1-D: x [B, C, L], w [C, 1, k]
        k = a["kernel_shape"][0]
        p0, p1 = a["pads"]
        assert a["group"] == x[0].shape[1] == x[1].shape[0]
        xp = np.pad(x[0], ((0, 0), (0, 0), (p0, p1)))
        L = x[0].shape[2]
        r = np.zeros_like(x[0])
        for j in range(k):
            r += xp[:, :, j:j + L] * x[1][None, :, 0, j:j + 1]
        r += x[2][None, :, None]
    else:
        raise SystemExit(f"unknown op {op}")
    env[node.output[0]] = np.asarray(r, dtype=np.asarray(r).dtype)
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
