"""flexnas.torch against flexnas's own trainer (flexnas.TrainModel, evaluators/train/model.cpp)
and the exported ONNX graph: with the same weights, logits agree to 1e-5 and one training
step's gradients to 1e-4, for architectures that together use every operation, attention
kernel, activation, norm and placement, hidden-size changes and h // n heads where n does not
divide h."""
import copy
import io
import os
import tempfile
import unittest

import numpy as np
import torch

import flexnas
import flexnas.torch as ft
import onnx_run

# Together: sa sdp+wma, l dft+dct, c 3/5/9/13; kernels softmax/relu/quad/scale; activations
# gelu/relu/quad; norms layernorm/rmsnorm/none; placements post/pre/peri; projections
# 64 -> 96 -> 64 and 85 -> 64; heads of h // n with n not dividing h (85 / 4, 64 / 3, 100 / 3).
MODELS = {
    "hetero": {"l": 4, "o": [["sa_sdp_16", "sa_wma_16", "l_dft_16", "c_5_16"],
                             ["l_dct_24", "c_9_24", "sa_sdp_24", "c_13_24"],
                             ["sa_wma_32", "sa_sdp_32"], ["sa_sdp_64"]],
               "h": [64, 96, 64, 64], "f": [[128], [96, 64], [64], [128]],
               "attn_kernel": ["softmax", "relu", "quad", "scale"],
               "activation": ["gelu", "relu", "quad", "gelu"],
               "norm": ["layernorm", "rmsnorm", "none", "layernorm"],
               "norm_placement": ["post", "pre", "peri", "peri"]},
    "standard": {"l": 3, "o": ["sa", "l", "c"], "h": [64, 64, 96], "n": [2, 2, 4],
                 "f": [[128], [128], [192]], "p": ["wma", "dft", "13"],
                 "norm": ["rmsnorm", "layernorm", "layernorm"],
                 "norm_placement": ["peri", "pre", "post"]},
    "floor_heads": {"l": 2, "o": [["sa_sdp_21", "sa_wma_21", "l_dft_21", "c_5_21"],
                                  ["l_dct_21", "sa_sdp_21", "c_3_21"]],
                    "h": [85, 64], "f": [[128], [96]], "attn_kernel": ["softmax", "relu"],
                    "norm_placement": ["post", "pre"]},
    "bert_floor": {"l": 2, "o": ["sa", "sa"], "h": [64, 100], "n": [3, 3], "f": [[128], [256]],
                   "p": ["sdp", "sdp"]},
}
VOCAB, SEQ, BATCH, CLASSES = 60, 12, 3, 3


def cpp_model(model, seed=1, token_level=False, classes=CLASSES):
    """The trainer's model with weights of about unit scale (1 / sqrt(fan-in)), so that logits
    and gradients are large enough for the comparisons to mean something."""
    tm = flexnas.TrainModel(model, vocab=VOCAB, seq=SEQ, num_classes=classes,
                            token_level=token_level, dropout=0.0, seed=seed)
    rng = np.random.default_rng(seed)
    for name, v in tm.params().items():
        if name.endswith("norm.weight") or name.endswith("norm_in.weight") or name.endswith("norm_out.weight"):
            w = 1 + 0.1 * rng.standard_normal(v.shape)
        elif v.shape[0] == 1:  # biases
            w = 0.1 * rng.standard_normal(v.shape)
        elif name.startswith("embeddings."):
            w = rng.standard_normal(v.shape)
        else:
            w = rng.standard_normal(v.shape) / np.sqrt(v.shape[0])
        tm.set_param(name, w.astype(np.float32))
    return tm


def ids(seed, batch=BATCH, seq=SEQ):
    return np.random.default_rng(100 + seed).integers(0, VOCAB, size=(batch, seq)).astype(np.int32)


def torch_logits(m, tokens):
    m.eval()
    with torch.no_grad():
        return m(torch.as_tensor(tokens, dtype=torch.long)).numpy()


class TorchModelTest(unittest.TestCase):
    def assert_close(self, got, want, tol, what):
        scale = max(1.0, float(np.abs(want).max()))
        diff = float(np.abs(got - want).max())
        self.assertLessEqual(diff, tol * scale, f"{what}: max |diff| {diff}, max |value| {scale}")

    def test_every_choice_is_used(self):
        ops, kernels, acts, norms, places, floor = set(), set(), set(), set(), set(), False
        for m in MODELS.values():
            for layer in flexnas.Architecture(m).layers:
                ops |= {h["op"] if h["op"] != "conv" else f"conv{h['kernel']}" for h in layer["heads"]}
                if any(h["family"] == "sa" for h in layer["heads"]):
                    kernels.add(layer["attn_kernel"])
                acts.add(layer["activation"])
                norms.add(layer["norm"])
                places.add(layer["norm_placement"])
                floor |= layer["hidden"] % len(layer["heads"]) != 0
        self.assertEqual(ops, {"sdp", "wma", "dft", "dct", "conv3", "conv5", "conv9", "conv13"})
        self.assertEqual(kernels, {"softmax", "relu", "quad", "scale"})
        self.assertEqual(acts, {"gelu", "relu", "quad"})
        self.assertEqual(norms, {"layernorm", "rmsnorm", "none"})
        self.assertEqual(places, {"post", "pre", "peri"})
        self.assertTrue(floor)

    def test_parameter_names_are_the_trainers(self):
        for key, model in MODELS.items():
            tm = flexnas.TrainModel(model, vocab=VOCAB, seq=SEQ, dropout=0.0)
            m = ft.FlexModel(model, vocab=VOCAB)
            self.assertEqual([n for n, _ in m.named_parameters()], tm.param_names(), key)
            self.assertEqual(sum(p.numel() for p in m.parameters()), tm.num_parameters, key)
        # A plain module: deep copies and whole-module pickles work (DDP, checkpointing).
        buf = io.BytesIO()
        torch.save(copy.deepcopy(m), buf)
        buf.seek(0)
        again = torch.load(buf)
        self.assertEqual(again.architecture, m.architecture)
        self.assertTrue(all(torch.equal(a, b) for a, b in zip(again.parameters(), m.parameters())))
        # .to() / .double() move every parameter; the DFT/DCT matrices follow the input.
        tokens = torch.as_tensor(ids(0), dtype=torch.long)
        m.eval()
        with torch.no_grad():
            single = m(tokens)
            double = m.to(torch.float64)(tokens)
        self.assertEqual(double.dtype, torch.float64)
        self.assertTrue(torch.allclose(single.double(), double, atol=1e-5))

    def test_logits_equal_the_trainer_and_onnx(self):
        for i, (key, model) in enumerate(MODELS.items()):
            with self.subTest(model=key), tempfile.TemporaryDirectory() as tmp:
                tm = cpp_model(model, seed=i)
                tokens = ids(i)
                tm.step(tokens, np.zeros(BATCH, dtype=np.int32), train=False)
                want = tm.logits()
                self.assertGreater(float(np.abs(want).std()), 0.05, "logits too small to compare")
                # Weights handed over in memory, through a checkpoint, and through ONNX.
                m = ft.FlexModel(model, vocab=VOCAB, num_classes=CLASSES)
                m.load_flexnas_weights(tm.params())
                self.assert_close(torch_logits(m, tokens), want, 1e-5, "params")
                ckpt = os.path.join(tmp, "m.ckpt")
                tm.save(ckpt)
                self.assert_close(torch_logits(ft.from_checkpoint(ckpt), tokens), want, 1e-5, "checkpoint")
                onnx_path = os.path.join(tmp, "m.onnx")
                tm.export_onnx(onnx_path)
                from_onnx = ft.from_onnx(onnx_path)
                got = torch_logits(from_onnx, tokens)
                self.assert_close(got, want, 1e-5, "onnx weights")
                self.assert_close(got, onnx_run.run(onnx_path, tokens), 1e-5, "onnx graph")
                # The checkpoint flexnas.torch writes is one the trainer reads.
                back = os.path.join(tmp, "back.ckpt")
                from_onnx.save_checkpoint(back)
                tm2 = flexnas.TrainModel(model, vocab=VOCAB, seq=SEQ, num_classes=CLASSES, dropout=0.0)
                tm2.load(back)
                tm2.step(tokens, np.zeros(BATCH, dtype=np.int32), train=False)
                self.assert_close(tm2.logits(), want, 1e-5, "checkpoint written by flexnas.torch")

    def check_gradients(self, model, seed, token_level):
        tm = cpp_model(model, seed=seed, token_level=token_level)
        tokens = ids(seed)
        rng = np.random.default_rng(seed)
        if token_level:
            targets = rng.integers(-1, CLASSES, size=(BATCH, SEQ)).astype(np.int32)
        else:
            targets = rng.integers(0, CLASSES, size=BATCH).astype(np.int32)
        tm.zero_grad()
        res = tm.step(tokens, targets, train=True, seed=5)
        m = ft.FlexModel(model, vocab=VOCAB, num_classes=CLASSES, token_level=token_level, dropout=0.0)
        m.load_flexnas_weights(tm.params())
        m.train()
        logits = m(torch.as_tensor(tokens, dtype=torch.long))
        loss = torch.nn.functional.cross_entropy(
            logits.reshape(-1, CLASSES), torch.as_tensor(targets, dtype=torch.long).reshape(-1),
            ignore_index=-1)
        self.assertAlmostEqual(loss.item(), res["loss"], delta=1e-5 * max(1.0, res["loss"]))
        loss.backward()
        grads = tm.grads()
        largest = 0.0
        for name, p in m.named_parameters():
            want = grads[name].reshape(p.shape)
            largest = max(largest, float(np.abs(want).max()))
            self.assert_close(p.grad.numpy(), want, 1e-4, f"gradient of {name}")
        self.assertGreater(largest, 1e-2, "gradients too small to compare")

    def test_gradients_equal_the_trainer(self):
        for i, (key, model) in enumerate(MODELS.items()):
            with self.subTest(model=key):
                self.check_gradients(model, seed=10 + i, token_level=False)

    def test_token_level_head(self):
        model = MODELS["floor_heads"]
        self.check_gradients(model, seed=3, token_level=True)
        tm = cpp_model(model, seed=4, token_level=True)
        tokens = ids(4)
        tm.step(tokens, np.full((BATCH, SEQ), -1, dtype=np.int32), train=False)
        m = ft.FlexModel(model, vocab=VOCAB, num_classes=CLASSES, token_level=True)
        m.load_flexnas_weights(tm.params())
        got = torch_logits(m, tokens)
        self.assertEqual(got.shape, (BATCH, SEQ, CLASSES))
        self.assert_close(got.reshape(-1, CLASSES), tm.logits(), 1e-5, "token-level logits")

    def test_sampled_architectures(self):
        # A few draws from the built-in spaces, including FlexiBERT 2.0's h // n heads.
        for space, seed in (("mqar-hetero", 1), ("mqar-hetero", 2), ("flexibert-hetero", 3)):
            model = flexnas.Space(space).sample(seed)
            with self.subTest(space=space, seed=seed):
                tm = cpp_model(model, seed=seed)
                tokens = ids(seed, batch=2, seq=8)
                tm.step(tokens, np.zeros(2, dtype=np.int32), train=False)
                m = ft.FlexModel(model, vocab=VOCAB, num_classes=CLASSES)
                m.load_flexnas_weights(tm.params())
                self.assert_close(torch_logits(m, tokens), tm.logits(), 1e-5, space)

    def test_errors(self):
        with self.assertRaises(flexnas.InputError):
            ft.FlexModel({"l": 1, "o": ["sa"], "h": [64], "n": [2], "f": [[64]], "p": ["nope"]}, vocab=10)
        m = ft.FlexModel(MODELS["bert_floor"], vocab=VOCAB)
        with self.assertRaisesRegex(flexnas.InputError, "missing"):
            m.load_flexnas_weights({"embeddings.word.weight": np.zeros((VOCAB, 64))})
        with tempfile.TemporaryDirectory() as tmp:
            bad = os.path.join(tmp, "bad.ckpt")
            with open(bad, "wb") as f:
                f.write(b"not a checkpoint")
            with self.assertRaisesRegex(flexnas.InputError, "not a flexnas checkpoint"):
                ft.from_checkpoint(bad)
            other = os.path.join(tmp, "other.ckpt")
            ft.FlexModel(MODELS["standard"], vocab=VOCAB).save_checkpoint(other)
            with self.assertRaisesRegex(flexnas.InputError, "another architecture"):
                m.load_checkpoint(other)


if __name__ == "__main__":
    unittest.main()
