"""The flexnas Python module against the CLI it binds: spaces, architectures, evaluators,
studies and errors give what the `flexnas` commands give (FLEXNAS names the binary)."""
import json
import os
import subprocess
import tempfile
import unittest

import numpy as np
import torch

import flexnas
import flexnas.torch as ft
import onnx_run

FLEXNAS = os.environ["FLEXNAS"]
SOURCE = os.environ["FLEXNAS_SOURCE_DIR"]
BERT = {"l": 2, "o": ["sa", "sa"], "h": [128, 128], "n": [2, 4], "f": [[512], [512]], "p": ["sdp", "sdp"]}
HETERO = {"l": 2, "o": [["sa_sdp_64", "l_dft_64"], ["c_5_32", "sa_wma_32", "l_dct_32", "sa_sdp_32"]],
          "h": [128, 128], "f": [[512], [1024]]}


def cli(*args, check=True):
    r = subprocess.run([FLEXNAS, *args], capture_output=True, text=True)
    if check and r.returncode != 0:
        raise AssertionError(f"flexnas {' '.join(args)}: exit {r.returncode}: {r.stderr}")
    return r


class SpaceTest(unittest.TestCase):
    def test_builtin_and_yaml(self):
        self.assertIn("flexibert-test", flexnas.Space.builtin_names())
        s = flexnas.Space("flexibert-test")
        self.assertEqual(s.name, "flexibert-test")
        self.assertEqual(str(s.count()), cli("space", "count", "--space", "flexibert-test").stdout.split()[-1])
        self.assertIsInstance(s.count(), int)
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "s.yaml")
            with open(path, "w") as f:
                f.write(s.to_yaml())
            self.assertEqual(flexnas.Space(path).count(), s.count())

    def test_sample_is_the_clis(self):
        s = flexnas.Space("flexibert-hetero")
        lines = cli("space", "sample", "--space", "flexibert-hetero", "-n", "3", "--seed", "9").stdout.split("\n")
        want = [json.loads(x) for x in lines if x]
        self.assertEqual(s.samples(3, seed=9), want)
        self.assertEqual(s.sample(9), want[0])
        for m in want:
            s.validate(m)
            self.assertIn(m, s)

    def test_validate_message(self):
        bad = {"l": 1, "o": ["sa"], "h": [100], "n": [2], "f": [[512]], "p": ["sdp"]}
        r = cli("space", "validate", "--space", "flexibert-test", "--model", json.dumps(bad), check=False)
        self.assertEqual(r.returncode, 2)
        with self.assertRaises(flexnas.InputError) as e:
            flexnas.Space("flexibert-test").validate(bad)
        self.assertIsInstance(e.exception, ValueError)
        self.assertIn(str(e.exception), r.stderr)
        self.assertFalse(flexnas.Space("flexibert-test").contains(bad))

    def test_errors(self):
        with self.assertRaisesRegex(flexnas.InputError, "nope"):
            flexnas.Space("nope")
        with self.assertRaises(flexnas.InputError):
            flexnas.Space("flexibert-test", layers_per_stack=0)


class ArchitectureTest(unittest.TestCase):
    def test_dict_round_trip(self):
        a = flexnas.Architecture(BERT)
        self.assertEqual(a.to_dict(), BERT)
        self.assertEqual(flexnas.Architecture(json.dumps(BERT)), a)
        self.assertEqual(flexnas.Architecture(a.to_dict("hetero")), a)
        self.assertEqual(a.num_layers, 2)
        self.assertEqual(a.layers[1]["head_size"], 32)
        self.assertEqual(json.loads(a.to_json()), BERT)
        h = flexnas.Architecture(HETERO)
        self.assertEqual([x["op"] for x in h.layers[1]["heads"]], ["conv", "wma", "dct", "sdp"])
        self.assertEqual(h.layers[1]["heads"][0]["kernel"], 5)

    def test_hash_and_ged_are_the_clis(self):
        a, b = flexnas.Architecture(BERT), flexnas.Architecture(HETERO)
        self.assertEqual(a.graph_hash(), cli("graph", "hash", "--model", json.dumps(BERT)).stdout.strip())
        sp = flexnas.Space("flexibert-hetero")
        want = cli("graph", "hash", "--space", "flexibert-hetero", "--model", json.dumps(HETERO)).stdout.strip()
        self.assertEqual(b.graph_hash(sp), want)
        g = json.loads(cli("graph", "ged", "--space", "flexibert-hetero", "--model", json.dumps(BERT),
                           "--model", json.dumps(HETERO), "--json").stdout)
        self.assertEqual(a.ged(HETERO, space=sp), g["ged"])
        self.assertEqual(a.ged(a), 0.0)

    def test_evaluators(self):
        want = json.loads(cli("evaluate", "--model", json.dumps(HETERO), "--evaluator", "params",
                              "--evaluator", "flops:seq=64", "--json").stdout)
        a = flexnas.Architecture(HETERO)
        self.assertEqual(a.evaluate(["params", "flops:seq=64"]), want)
        params = flexnas.Evaluator("params")
        self.assertEqual(params.name, "params")
        self.assertEqual(params(HETERO), {k: v for k, v in a.evaluate("params").items()})
        self.assertEqual(params(HETERO)["params"], want["params"])
        self.assertEqual(params(a)["params"], want["params"])
        self.assertIsInstance(params(HETERO)["params"], float)
        self.assertEqual(params.provides()[0]["name"], "params")
        self.assertIn("train", flexnas.evaluator_names())
        with self.assertRaisesRegex(flexnas.InputError, "unknown|not"):
            flexnas.Evaluator("nope")
        with self.assertRaises(flexnas.InputError):
            flexnas.Evaluator("flops:seq=abc")

    def test_bad_models(self):
        r = cli("graph", "hash", "--model", '{"l":1,"o":["sa"],"h":[128],"n":[2],"f":[[512]],"p":["dft"]}',
                check=False)
        self.assertEqual(r.returncode, 2)
        with self.assertRaises(flexnas.InputError) as e:
            flexnas.Architecture({"l": 1, "o": ["sa"], "h": [128], "n": [2], "f": [[512]], "p": ["dft"]})
        self.assertIn(str(e.exception), r.stderr)
        with self.assertRaises(flexnas.InputError):
            flexnas.Architecture("{not json")
        with self.assertRaises(flexnas.InputError):
            flexnas.Architecture({"l": 1, "o": ["sa"], "h": [128], "n": [2], "f": [[512]], "p": [object()]})
        with self.assertRaises(TypeError):
            flexnas.Architecture(12)


class StudyTest(unittest.TestCase):
    def test_study_is_the_exports(self):
        with tempfile.TemporaryDirectory() as tmp:
            d = os.path.join(tmp, "st")
            cli("search", "--space", "flexibert-test", "--evaluator", "params", "--evaluator", "flops",
                "--objective", "params:max", "--objective", "flops:min", "--policy", "random",
                "--budget", "6", "--seed", "3", "--out", d, "--quiet")
            st = flexnas.Study.load(d)
            self.assertEqual(st.objectives, ["params:max", "flops:min"])
            self.assertEqual(st.config["budget"], 6)
            trials = st.trials()
            self.assertEqual(len(trials), 6)
            with open(os.path.join(d, "trials.jsonl")) as f:
                lines = sorted((json.loads(x) for x in f), key=lambda t: t["id"])
            self.assertEqual(trials, lines)
            with open(os.path.join(d, "pareto.json")) as f:
                self.assertEqual(st.pareto(), json.load(f))
            with open(os.path.join(d, "best.json")) as f:
                self.assertEqual(st.best(), json.load(f))
        with self.assertRaises(flexnas.InputError):
            flexnas.Study.load(os.path.join(tmp, "missing"))


class AskTellTest(unittest.TestCase):
    def test_same_trials_as_search(self):
        # Telling what the params evaluator would compute gives the trials `search` gives.
        params = flexnas.Evaluator("params")
        with tempfile.TemporaryDirectory() as tmp:
            cli("search", "--space", "flexibert-test", "--evaluator", "params", "--objective", "params:max",
                "--policy", "evolution:population=4", "--budget", "10", "--batch", "3", "--seed", "2",
                "--out", os.path.join(tmp, "s"), "--quiet")
            want = flexnas.Study.load(os.path.join(tmp, "s")).trials()
            with flexnas.Study.create(os.path.join(tmp, "a"), space="flexibert-test", objectives=["params:max"],
                                      policy="evolution:population=4", budget=10, batch=3, seed=2) as st:
                while True:
                    t = st.ask()
                    if "done" in t:
                        self.assertEqual(t, {"done": "budget"})
                        break
                    told = st.tell(t["trial"], params(t["model"]))
                    self.assertEqual(told["id"], t["trial"])
                    self.assertEqual(told["status"], "ok")
                got = st.trials()
            self.assertEqual([t["model"] for t in got], [t["model"] for t in want])
            self.assertEqual([t["values"] for t in got], [t["values"] for t in want])
            # The CLI reads it as any study.
            best = json.loads(cli("export", "--study", os.path.join(tmp, "a"), "--what", "best").stdout)
            self.assertEqual(best["model"], flexnas.Study.load(os.path.join(tmp, "a")).best()["model"])

    def test_batches_leases_and_errors(self):
        with tempfile.TemporaryDirectory() as tmp:
            d = os.path.join(tmp, "st")
            st = flexnas.Study.create(d, space="flexibert-test", evaluators=["params"],
                                      objectives=["accuracy:max"], constraints=["params<=1e12"],
                                      policy="random", budget=3, batch=2, seed=1)
            a, b = st.ask(), st.ask()
            self.assertEqual((a["trial"], b["trial"], a["given"]), (0, 1, 1))
            self.assertEqual(st.ask(), {"wait": [0, 1]})
            again = st.ask(reissue=True)
            self.assertEqual((again["trial"], again["given"]), (0, 2))
            told = st.tell(0, {"accuracy": 0.5})
            self.assertIn("params", told["values"])  # the study's evaluator ran at tell
            self.assertTrue(told["feasible"])
            for bad, text in (((0, {"accuracy": 0.6}), "already told"), ((7, {"accuracy": 1.0}), "7"),
                              ((1, {"loss": 1.0}), "accuracy")):
                with self.assertRaisesRegex(flexnas.InputError, text):
                    st.tell(*bad)
            with self.assertRaises(flexnas.InputError):
                st.tell(1, {"accuracy": "high"})
            with self.assertRaises(flexnas.InputError):
                st.tell(1)
            self.assertEqual(st.tell(1, failed="out of memory")["status"], "failed")
            st.close()
            # The shell goes on where Python stopped; a tell of an unknown trial says what the CLI says.
            nxt = json.loads(cli("ask", "--study", d).stdout)
            self.assertEqual(nxt["trial"], 2)
            r = cli("tell", "--study", d, "--trial", "9", "--values", '{"accuracy": 1}', check=False)
            self.assertEqual(r.returncode, 2)
            st = flexnas.Study.load(d)
            with self.assertRaises(flexnas.InputError) as e:
                st.tell(9, {"accuracy": 1.0})
            self.assertIn(str(e.exception), r.stderr)
            st.tell(2, {"accuracy": 0.7})
            self.assertEqual(st.ask(), {"done": "budget"})
            self.assertEqual([t["status"] for t in st.trials()], ["ok", "failed", "ok"])
            self.assertEqual(st.best()["id"], 2)
            st.close()
            with self.assertRaisesRegex(flexnas.InputError, "st"):
                flexnas.Study.create(d, space="flexibert-test", objectives=["accuracy:max"])
            with self.assertRaises(flexnas.InputError):
                flexnas.Study.create(os.path.join(tmp, "x"), space="nope", objectives=["accuracy:max"])
            self.assertFalse(os.path.exists(os.path.join(tmp, "x")))


class TrainCheckpointTest(unittest.TestCase):
    def test_flexnas_train_outputs_load_into_torch(self):
        model = HETERO
        with tempfile.TemporaryDirectory() as tmp:
            ckpt, onnx_path = os.path.join(tmp, "m.ckpt"), os.path.join(tmp, "m.onnx")
            cli("train", "--model", json.dumps(model), "-O", "task=listops", "-O", "seq=32", "-O", "steps=3",
                "-O", "batch=4", "-O", "eval_batches=1", "--save", ckpt, "--onnx", onnx_path)
            a, b = ft.from_checkpoint(ckpt).eval(), ft.from_onnx(onnx_path).eval()
            task = flexnas.load_task({"task": "listops", "seq": "32"})
            self.assertEqual(a.num_classes, task["num_classes"])
            tokens = torch.as_tensor(task["test_tokens"][:2], dtype=torch.long)
            with torch.no_grad():
                got = b(tokens).numpy()
                self.assertTrue(torch.equal(a(tokens), b(tokens)))
            want = onnx_run.run(onnx_path, tokens.numpy())
            self.assertLessEqual(float(np.abs(got - want).max()), 1e-5 * max(1.0, float(np.abs(want).max())))

    def test_load_task_is_the_trainers(self):
        sst2 = os.path.join(SOURCE, "tests", "data", "sst2")
        t = flexnas.load_task({"task": "tsv", "train": os.path.join(sst2, "train.tsv"),
                               "test": os.path.join(sst2, "test.tsv"),
                               "vocab": os.path.join(SOURCE, "tests", "data", "bert_uncased_vocab.txt"),
                               "seq": "32"})
        self.assertEqual(t["train_tokens"].shape, (1000, 32))
        self.assertEqual(t["test_targets"].shape, (1821,))
        self.assertAlmostEqual(t["majority_baseline"], 917 / 1821)
        with self.assertRaisesRegex(flexnas.InputError, "missing.tsv"):
            flexnas.load_task({"task": "tsv", "train": "missing.tsv", "test": "missing.tsv"})


if __name__ == "__main__":
    unittest.main()
