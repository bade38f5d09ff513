"""flexnas.torch: any flexnas architecture as a ``torch.nn.Module``.

``FlexModel(model_dict, vocab=...)`` is the network of docs/model.md, the one flexnas's own
trainer (evaluators/train/model.cpp) trains and ``flexnas export`` writes to ONNX, computed the
same way: token + position + segment-0 embeddings with LayerNorm; per layer a mixing sublayer
(one fused input projection; heads of ``h // n`` dimensions: scaled dot-product or
weighted-multiplicative attention with softmax, relu, 2quad or scale kernels, DFT or DCT
mixing, depthwise convolutions; concatenated and projected back to ``h``) and a feed-forward
sublayer, each with LayerNorm, RMSNorm or no norm placed post, pre or peri; a dense
projection where the next layer's hidden size differs; then token-0 pooling (dense + tanh)
and a classifier, or a per-token classifier.

Parameter names and layouts are the trainer's checkpoint names (``state_dict()`` keys are
``layer0.mixing.in_proj.weight`` and so on; dense weights are ``[in, out]``), so weights move
between the two without renaming: ``from_checkpoint`` reads a ``flexnas train --save`` file,
``save_checkpoint`` writes one the trainer loads, ``from_onnx`` reads the initializers of an
exported ONNX graph.
"""
from __future__ import annotations

import math
import struct
from collections import OrderedDict
from typing import Dict, List, Mapping, Optional, Tuple, Union

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from . import _flexnas

__all__ = [
    "FlexModel",
    "from_checkpoint",
    "from_onnx",
    "read_checkpoint",
]

ModelLike = Union[dict, str, "_flexnas.Architecture"]

_CKPT_MAGIC = b"FLXCKPT\n"
_CKPT_VERSION = 1
_LN_EPS = 1e-12  # LayerNorm, as BERT and the trainer
_RMS_EPS = 1e-6
_KERNEL_EPS = 1e-6  # relu / 2quad attention: rows divided by (sum + eps)


def _arch(model: ModelLike) -> "_flexnas.Architecture":
    return model if isinstance(model, _flexnas.Architecture) else _flexnas.Architecture(model)


# ---- building blocks ----------------------------------------------------------------------


class Dense(nn.Module):
    """y = x W + b with W stored ``[in, out]`` (the trainer's and ONNX's layout)."""

    def __init__(self, n_in: int, n_out: int):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(n_in, n_out).normal_(0.0, 0.02))
        self.bias = nn.Parameter(torch.zeros(n_out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.matmul(x, self.weight) + self.bias


class Table(nn.Module):
    """An embedding table ``[rows, h]``."""

    def __init__(self, rows: int, h: int):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(rows, h).normal_(0.0, 0.02))


class Norm(nn.Module):
    """LayerNorm (gain and bias, eps 1e-12) or RMSNorm (gain, eps 1e-6) over the last axis."""

    def __init__(self, kind: str, h: int):
        super().__init__()
        self.kind = kind
        self.weight = nn.Parameter(torch.ones(h))
        if kind == "layernorm":
            self.bias = nn.Parameter(torch.zeros(h))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.kind == "layernorm":
            return F.layer_norm(x, (x.shape[-1],), self.weight, self.bias, _LN_EPS)
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + _RMS_EPS) * self.weight


def _activation(name: str, x: torch.Tensor) -> torch.Tensor:
    if name == "gelu":
        return F.gelu(x)  # erf form
    if name == "relu":
        return F.relu(x)
    if name == "quad":  # MPCFormer: 0.125 x^2 + 0.25 x + 0.5
        return (0.125 * x + 0.25) * x + 0.5
    raise ValueError(f"activation {name!r}")


_MATRICES: Dict[Tuple[str, int, torch.dtype, torch.device], torch.Tensor] = {}


def _matrix(kind: str, n: int, like: torch.Tensor) -> torch.Tensor:
    """Orthonormal DCT-II (row k: frequency), or the DFT's cos / sin parts over sqrt(n),
    computed in double and rounded to the input's dtype as the trainer and the export do."""
    key = (kind, n, like.dtype, like.device)
    m = _MATRICES.get(key)
    if m is None:
        k = torch.arange(n, dtype=torch.float64).unsqueeze(1)
        i = torch.arange(n, dtype=torch.float64).unsqueeze(0)
        if kind == "dct":
            scale = torch.where(k == 0, torch.tensor(1.0 / n, dtype=torch.float64),
                                torch.tensor(2.0 / n, dtype=torch.float64)).sqrt()
            m64 = scale * torch.cos(math.pi / n * (i + 0.5) * k)
        else:
            ki = torch.remainder(torch.arange(n).unsqueeze(1) * torch.arange(n).unsqueeze(0), n)
            a = 2 * math.pi * ki.to(torch.float64) / n
            m64 = (torch.cos(a) if kind == "cos" else torch.sin(a)) / math.sqrt(n)
        m = m64.to(dtype=like.dtype, device=like.device)
        _MATRICES[key] = m
    return m


class Head(nn.Module):
    """One head's own parameters: ``wma`` [d, d] for weighted multiplicative attention, a
    depthwise ``conv`` (weight [d, k], bias [d]) for a convolution, none otherwise."""

    def __init__(self, op: str, d: int, kernel: int):
        super().__init__()
        self.op = op
        self.kernel = kernel
        if op == "wma":
            self.wma = nn.Parameter(torch.empty(d, d).normal_(0.0, 0.02))
        if op == "conv":
            self.conv = nn.Module()
            self.conv.weight = nn.Parameter(torch.empty(d, kernel).normal_(0.0, 0.02))
            self.conv.bias = nn.Parameter(torch.zeros(d))


class Sublayer(nn.Module):
    """A residual sublayer with its norm placed post (norm(x + f(x))), pre (x + f(norm(x)))
    or peri (x + norm_out(f(norm_in(x)))); dropout on f's output."""

    def _add_norms(self, layer: dict, h: int) -> None:
        self.placement = layer["norm_placement"]
        kind = layer["norm"]
        self.norm = self.norm_in = self.norm_out = None
        if kind == "none":
            return
        if self.placement == "peri":
            self.norm_in = Norm(kind, h)
            self.norm_out = Norm(kind, h)
        else:
            self.norm = Norm(kind, h)

    @staticmethod
    def _norm(norm: Optional[Norm], x: torch.Tensor) -> torch.Tensor:
        return x if norm is None else norm(x)

    def inner(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.placement == "post":
            return self._norm(self.norm, x + self.drop(self.inner(x)))
        if self.placement == "pre":
            return x + self.drop(self.inner(self._norm(self.norm, x)))
        return x + self._norm(self.norm_out, self.drop(self.inner(self._norm(self.norm_in, x))))


class Mixing(Sublayer):
    """The heads of one layer: a fused input projection (per head q, k, v columns for
    attention, v alone otherwise, in head order), the heads, their concatenation (n * d wide)
    and the output projection back to h."""

    def __init__(self, layer: dict, dropout: float):
        super().__init__()
        h = layer["hidden"]
        self.d = d = layer["head_size"]
        self.attn_kernel = layer["attn_kernel"]
        self.offsets: List[int] = []
        width = 0
        for hd in layer["heads"]:
            self.offsets.append(width)
            width += (3 if hd["family"] == "sa" else 1) * d
        self.in_proj = Dense(h, width)
        self.head_names: List[str] = []
        for i, hd in enumerate(layer["heads"]):
            name = f"head{i}_{hd['family']}"
            self.add_module(name, Head(hd["op"], d, hd["kernel"]))
            self.head_names.append(name)
        self.output = Dense(len(layer["heads"]) * d, h)
        self._add_norms(layer, h)
        self.drop = nn.Dropout(dropout)

    def _attention(self, head: Head, p: torch.Tensor, off: int) -> torch.Tensor:
        d = self.d
        q, k, v = p[..., off:off + d], p[..., off + d:off + 2 * d], p[..., off + 2 * d:off + 3 * d]
        if head.op == "wma":
            q = torch.matmul(q, head.wma)
        s = torch.matmul(q, k.transpose(-1, -2))
        scale = 1.0 / math.sqrt(d)
        kernel = self.attn_kernel
        if kernel == "softmax":
            a = torch.softmax(s * scale, dim=-1)
        elif kernel == "scale":
            a = s * (scale / s.shape[-1])
        else:
            t = s * scale
            t = F.relu(t) if kernel == "relu" else (t + 5.0) * (t + 5.0)
            a = t / (t.sum(-1, keepdim=True) + _KERNEL_EPS)
        return torch.matmul(a, v)

    def inner(self, x: torch.Tensor) -> torch.Tensor:
        d, seq = self.d, x.shape[-2]
        p = self.in_proj(x)
        outs = []
        for name, off in zip(self.head_names, self.offsets):
            head: Head = getattr(self, name)
            if head.op in ("sdp", "wma"):
                outs.append(self._attention(head, p, off))
                continue
            v = p[..., off:off + d]
            if head.op == "dct":  # D_L v D_d^T
                outs.append(torch.matmul(torch.matmul(_matrix("dct", seq, v), v),
                                         _matrix("dct", d, v).t()))
            elif head.op == "dft":  # Re(F_L v F_d) = C_L v C_d - S_L v S_d
                cos = torch.matmul(torch.matmul(_matrix("cos", seq, v), v), _matrix("cos", d, v))
                sin = torch.matmul(torch.matmul(_matrix("sin", seq, v), v), _matrix("sin", d, v))
                outs.append(cos - sin)
            else:  # depthwise convolution along the sequence, same length
                k = head.kernel
                y = F.conv1d(v.transpose(1, 2), head.conv.weight.unsqueeze(1), head.conv.bias,
                             padding=(k - 1) // 2, groups=d)
                outs.append(y.transpose(1, 2))
        return self.output(outs[0] if len(outs) == 1 else torch.cat(outs, dim=-1))


class FeedForward(Sublayer):
    """Dense layers ff0, ff1, ... with the layer's activation, then ff_out back to h."""

    def __init__(self, layer: dict, dropout: float):
        super().__init__()
        h = layer["hidden"]
        self.activation = layer["activation"]
        self.count = len(layer["ff"])
        n_in = h
        for i, w in enumerate(layer["ff"]):
            self.add_module(f"ff{i}", Dense(n_in, w))
            n_in = w
        self.ff_out = Dense(n_in, h)
        self._add_norms(layer, h)
        self.drop = nn.Dropout(dropout)

    def inner(self, x: torch.Tensor) -> torch.Tensor:
        for i in range(self.count):
            x = _activation(self.activation, getattr(self, f"ff{i}")(x))
        return self.ff_out(x)


class EncoderLayer(nn.Module):
    def __init__(self, layer: dict, next_hidden: int, dropout: float):
        super().__init__()
        self.mixing = Mixing(layer, dropout)
        self.ffn = FeedForward(layer, dropout)
        self.projection = Dense(layer["hidden"], next_hidden) if next_hidden != layer["hidden"] else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.ffn(self.mixing(x))
        return x if self.projection is None else self.projection(x)


class Embeddings(nn.Module):
    def __init__(self, vocab: int, max_positions: int, h: int, dropout: float):
        super().__init__()
        self.word = Table(vocab, h)
        self.position = Table(max_positions, h)
        self.token_type = Table(2, h)
        self.norm = Norm("layernorm", h)
        self.drop = nn.Dropout(dropout)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        seq = ids.shape[-1]
        x = self.word.weight[ids] + self.position.weight[:seq] + self.token_type.weight[0]
        return self.drop(self.norm(x))


# ---- the model ----------------------------------------------------------------------------


class FlexModel(nn.Module):
    """A flexnas architecture as a sequence classifier.

    Args:
        model: a model dict, its JSON text or a ``flexnas.Architecture``.
        vocab: token embedding rows.
        num_classes: classifier outputs.
        max_positions: position embedding rows (the longest sequence).
        token_level: a per-token classifier (``classifier_token``) instead of token-0 pooling.
        dropout: after the embeddings and each sublayer's mixing / feed-forward output.

    ``forward(input_ids)`` takes int64 token ids ``[batch, seq]`` and returns logits
    ``[batch, num_classes]`` (token level: ``[batch, seq, num_classes]``); ``encode`` returns
    the last layer's hidden states ``[batch, seq, h]``. Fresh weights are normal(0, 0.02),
    biases 0 and norm gains 1, as the trainer initialises them (not the same draws).
    """

    def __init__(self, model: ModelLike, vocab: int, num_classes: int = 2,
                 max_positions: int = 512, token_level: bool = False, dropout: float = 0.1):
        super().__init__()
        arch = _arch(model)
        if vocab < 1 or num_classes < 1 or max_positions < 1:
            raise _flexnas.InputError("model: vocab, classes and max positions must be positive")
        if not 0 <= dropout < 1:
            raise _flexnas.InputError("model: dropout must be in [0, 1)")
        layers = arch.layers
        for j, layer in enumerate(layers):
            if not layer["heads"] or layer["head_size"] < 1:
                raise _flexnas.InputError(
                    f"layer{j}: hidden {layer['hidden']} and {len(layer['heads'])} heads: need at "
                    "least one head and no more heads than hidden")
        self.model_json = arch.to_json()  # text, so the module deep-copies and pickles
        self.vocab = vocab
        self.num_classes = num_classes
        self.max_positions = max_positions
        self.token_level = token_level
        self.embeddings = Embeddings(vocab, max_positions, layers[0]["hidden"], dropout)
        self.layer_names: List[str] = []
        for j, layer in enumerate(layers):
            nxt = layers[j + 1]["hidden"] if j + 1 < len(layers) else layer["hidden"]
            self.add_module(f"layer{j}", EncoderLayer(layer, nxt, dropout))
            self.layer_names.append(f"layer{j}")
        hl = layers[-1]["hidden"]
        if token_level:
            self.classifier_token = Dense(hl, num_classes)
        else:
            self.pooler = nn.Module()
            self.pooler.dense = Dense(hl, hl)
            self.classifier = Dense(hl, num_classes)

    @property
    def architecture(self) -> "_flexnas.Architecture":
        """The architecture (a ``flexnas.Architecture``)."""
        return _flexnas.Architecture(self.model_json)

    @property
    def model_dict(self) -> dict:
        """The architecture's model dict."""
        return self.architecture.to_dict()

    def encode(self, input_ids: torch.Tensor) -> torch.Tensor:
        """Hidden states of the last layer, ``[batch, seq, h]``."""
        if input_ids.dim() != 2:
            raise _flexnas.InputError("input_ids must be 2-D [batch, seq]")
        if not 1 <= input_ids.shape[1] <= self.max_positions:
            raise _flexnas.InputError(
                f"input_ids: seq {input_ids.shape[1]} must be in [1, max positions {self.max_positions}]")
        x = self.embeddings(input_ids)
        for name in self.layer_names:
            x = getattr(self, name)(x)
        return x

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        x = self.encode(input_ids)
        if self.token_level:
            return self.classifier_token(x)
        return self.classifier(torch.tanh(self.pooler.dense(x[:, 0])))

    # ---- weights ------------------------------------------------------------------------

    def load_flexnas_weights(self, weights: Mapping[str, "np.ndarray | torch.Tensor"],
                             strict: bool = True) -> None:
        """Set parameters from ``{trainer name: array}`` (``flexnas.TrainModel.params()``, a
        checkpoint), reshaping each to the parameter's shape (``[1, n]`` vectors and ``[d, 1,
        k]`` convolution weights fit). strict: every parameter must be given, nothing else."""
        own = dict(self.named_parameters())
        if strict:
            missing = [n for n in own if n not in weights]
            extra = [n for n in weights if n not in own]
            if missing or extra:
                raise _flexnas.InputError(
                    "weights do not fit the model: "
                    + (f"missing {', '.join(missing[:3])}" if missing else "")
                    + ("; " if missing and extra else "")
                    + (f"unexpected {', '.join(extra[:3])}" if extra else ""))
        with torch.no_grad():
            for name, value in weights.items():
                if name not in own:
                    continue
                p = own[name]
                t = value if torch.is_tensor(value) else torch.from_numpy(np.array(value, dtype=np.float32))
                if t.numel() != p.numel():
                    raise _flexnas.InputError(
                        f"weights for {name}: {t.numel()} values, the model has {p.numel()}")
                p.copy_(t.reshape(p.shape).to(p.dtype))

    def flexnas_weights(self) -> "OrderedDict[str, np.ndarray]":
        """``{trainer name: float32 array}`` in the trainer's layouts and order (vectors
        ``[1, n]``), e.g. for ``flexnas.TrainModel.set_param``."""
        out: "OrderedDict[str, np.ndarray]" = OrderedDict()
        for name, p in self.named_parameters():
            a = p.detach().cpu().to(torch.float32).numpy()
            out[name] = a.reshape(1, -1) if a.ndim == 1 else a
        return out

    def save_checkpoint(self, path: str) -> None:
        """Write the weights as a flexnas checkpoint (``flexnas train --save``'s format)."""
        arch = self.model_json.encode()
        with open(path, "wb") as f:
            f.write(_CKPT_MAGIC)
            f.write(struct.pack("<I", _CKPT_VERSION))
            f.write(struct.pack("<I", len(arch)) + arch)
            weights = self.flexnas_weights()
            f.write(struct.pack("<I", len(weights)))
            for name, a in weights.items():
                b = name.encode()
                f.write(struct.pack("<I", len(b)) + b)
                f.write(struct.pack("<qq", a.shape[0], a.shape[1]))
                f.write(np.ascontiguousarray(a, dtype="<f4").tobytes())

    def load_checkpoint(self, path: str) -> None:
        """Load a flexnas checkpoint of this architecture."""
        text, weights = read_checkpoint(path)
        if _flexnas.Architecture(text) != self.architecture:
            raise _flexnas.InputError(f"checkpoint {path} is of another architecture: {text}")
        self.load_flexnas_weights(weights)


def read_checkpoint(path: str) -> Tuple[str, "OrderedDict[str, np.ndarray]"]:
    """A ``flexnas train --save`` checkpoint: (model dict JSON text, {name: float32 array})."""
    def bad(why: str) -> Exception:
        return _flexnas.InputError(f"checkpoint {path}: {why}")

    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError:
        raise _flexnas.InputError(f"checkpoint {path}: cannot open") from None
    if data[:8] != _CKPT_MAGIC:
        raise bad("not a flexnas checkpoint")
    pos = 8

    def take(n: int) -> bytes:
        nonlocal pos
        if pos + n > len(data):
            raise bad("truncated")
        pos += n
        return data[pos - n:pos]

    (version,) = struct.unpack("<I", take(4))
    if version != _CKPT_VERSION:
        raise bad("unsupported version")

    def text() -> str:
        (n,) = struct.unpack("<I", take(4))
        return take(n).decode()

    arch = text()
    (count,) = struct.unpack("<I", take(4))
    weights: "OrderedDict[str, np.ndarray]" = OrderedDict()
    for _ in range(count):
        name = text()
        rows, cols = struct.unpack("<qq", take(16))
        if rows < 0 or cols < 0:
            raise bad("truncated")
        weights[name] = np.frombuffer(take(4 * rows * cols), dtype="<f4").reshape(rows, cols).copy()
    return arch, weights


def from_checkpoint(path: str, dropout: float = 0.1) -> FlexModel:
    """The model of a ``flexnas train --save`` checkpoint with its weights (vocabulary,
    positions, classes and head read from the tensors)."""
    text, w = read_checkpoint(path)
    token_level = "classifier_token.weight" in w
    cls = w["classifier_token.weight" if token_level else "classifier.weight"]
    m = FlexModel(text, vocab=w["embeddings.word.weight"].shape[0], num_classes=cls.shape[1],
                  max_positions=w["embeddings.position.weight"].shape[0],
                  token_level=token_level, dropout=dropout)
    m.load_flexnas_weights(w)
    return m


def from_onnx(path: str, dropout: float = 0.1) -> FlexModel:
    """The model of an ONNX file flexnas exported (``export``, ``export-model``, ``train
    --onnx``) with its initializers as weights; the per-head query/key/value projections
    are gathered into each layer's fused ``in_proj``. Needs the ``onnx`` package."""
    import json

    import onnx
    from onnx import numpy_helper

    proto = onnx.load(path)
    meta = {p.key: p.value for p in proto.metadata_props}
    if "flexnas.model_dict" not in meta:
        raise _flexnas.InputError(f"{path}: not an ONNX model exported by flexnas (no flexnas.model_dict)")
    init = {t.name: numpy_helper.to_array(t) for t in proto.graph.initializer}
    model = FlexModel(json.loads(meta["flexnas.model_dict"]),
                      vocab=init["embeddings.word.weight"].shape[0],
                      num_classes=init["classifier.weight"].shape[1],
                      max_positions=init["embeddings.position.weight"].shape[0], dropout=dropout)
    weights: Dict[str, np.ndarray] = {}
    for name, _ in model.named_parameters():
        if name in init:
            weights[name] = init[name]
    for j, layer in enumerate(model.architecture.layers):
        w_parts, b_parts = [], []
        for i, hd in enumerate(layer["heads"]):
            prefix = f"layer{j}.mixing.head{i}_{hd['family']}"
            for part in (("query", "key", "value") if hd["family"] == "sa" else ("value",)):
                w_parts.append(init[f"{prefix}.{part}.weight"])
                b_parts.append(init[f"{prefix}.{part}.bias"])
        weights[f"layer{j}.mixing.in_proj.weight"] = np.concatenate(w_parts, axis=1)
        weights[f"layer{j}.mixing.in_proj.bias"] = np.concatenate(b_parts)
    model.load_flexnas_weights(weights)
    return model
