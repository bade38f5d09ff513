"""Runs a flexnas ONNX export on given token ids with numpy (onnxruntime is not packaged for
Debian 12, and python3-onnx 1.12 has no reference evaluator): the operators flexnas's exporter
writes (space/export.cpp), evaluated in float32 as an ONNX runtime would."""
import math

import numpy as np
import onnx
from onnx import numpy_helper

_erf = np.vectorize(math.erf, otypes=[np.float64])


def _attrs(node):
    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def run(path, input_ids):
    """Logits of the graph in `path` for int64 `input_ids` [batch, seq]."""
    g = onnx.load(path).graph
    env = {t.name: numpy_helper.to_array(t) for t in g.initializer}
    env["input_ids"] = np.asarray(input_ids, dtype=np.int64)
    for node in g.node:
        a = _attrs(node)
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
            r = _erf(x[0])
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
            r = (x[0] - mu) / np.sqrt(var + np.float32(a["epsilon"])) * x[1] + x[2]
        elif op == "Conv":  # depthwise 1-D: x [B, C, L], w [C, 1, k]
            k = a["kernel_shape"][0]
            p0, p1 = a["pads"]
            assert a["group"] == x[0].shape[1] == x[1].shape[0]
            xp = np.pad(x[0], ((0, 0), (0, 0), (p0, p1)))
            length = x[0].shape[2]
            r = np.zeros_like(x[0])
            for j in range(k):
                r += xp[:, :, j:j + length] * x[1][None, :, 0, j:j + 1]
            r += x[2][None, :, None]
        else:
            raise AssertionError(f"operator {op} is not handled by this runner")
        r = np.asarray(r)
        env[node.output[0]] = r.astype(np.float32) if r.dtype == np.float64 else r
    return env[g.output[0].name]
