"""The Python examples (examples/python) at a tiny budget: a search whose candidates
flexnas.torch trains on the SST-2 sample, driven by ask/tell from Python and by flexnas through
the external evaluator's worker mode."""
import json
import os
import subprocess
import sys
import tempfile
import unittest

FLEXNAS = os.environ["FLEXNAS"]
SOURCE = os.environ["FLEXNAS_SOURCE_DIR"]
EXAMPLES = os.path.join(SOURCE, "examples", "python")


def finished(study_dir):
    with open(os.path.join(study_dir, "trials.jsonl")) as f:
        return [json.loads(line) for line in f]


class ExamplesTest(unittest.TestCase):
    def check_trials(self, trials, n):
        self.assertEqual(len(trials), n)
        for t in trials:
            self.assertEqual(t["status"], "ok", t["reason"])
            self.assertTrue(0 <= t["values"]["sst2_accuracy"] <= 1, t)

    def test_ask_tell_search(self):
        with tempfile.TemporaryDirectory() as tmp:
            study = os.path.join(tmp, "st")
            cmd = [sys.executable, os.path.join(EXAMPLES, "ask_tell_search.py"), "--study", study,
                   "--budget", "3", "--batch", "2", "--steps", "4", "--seq", "16"]
            r = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp)
            self.assertEqual(r.returncode, 0, r.stderr)
            trials = finished(study)
            self.check_trials(trials, 3)
            self.assertIn("params", trials[0]["values"])  # flexnas's own evaluator ran too
            self.assertIn("best: trial ", r.stdout)
            # Run again: the study is complete, nothing is trained twice.
            r = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(len(finished(study)), 3)

    def test_external_worker(self):
        with tempfile.TemporaryDirectory() as tmp:
            study = os.path.join(tmp, "st")
            script = os.path.join(EXAMPLES, "external_torch_eval.py")
            spec = (f"external:cmd={sys.executable} {script} --steps 4 --seq 16,"
                    "values=sst2_accuracy:max,mode=worker,input=envelope,timeout=300")
            r = subprocess.run([FLEXNAS, "search", "--space", "mqar-hetero", "--evaluator", spec,
                                "--objective", "sst2_accuracy:max", "--budget", "3", "--batch", "3",
                                "--seed", "1", "--out", study, "--quiet"],
                               capture_output=True, text=True, cwd=tmp)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.check_trials(finished(study), 3)
            # A model the worker cannot build is a failed trial with its reason, not a crash.
            bad = subprocess.run([sys.executable, script, "--steps", "1", "--seq", "16"],
                                 input='{"model": {"l": 1}}\n', capture_output=True, text=True)
            self.assertEqual(bad.returncode, 0, bad.stderr)
            self.assertIn("error", json.loads(bad.stdout))


if __name__ == "__main__":
    unittest.main()
