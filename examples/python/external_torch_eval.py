#!/usr/bin/env python3
"""flexnas.torch training as an `external:` evaluator in worker mode: one process serves
every trial of a search. It reads a request per line on stdin (input=envelope: the model dict
and the trial's context, whose seed it trains with), trains the architecture on the SST-2
sample and answers one JSON line {"sst2_accuracy": ...} on stdout ({"error": ...} fails the
trial). Logs go to stderr. From the repository root:

    PYTHONPATH=build/python build/bin/flexnas search --space mqar-hetero --objective sst2_accuracy:max --budget 8 \\
      --evaluator 'external:cmd=python3 examples/python/external_torch_eval.py --steps 300,values=sst2_accuracy:max,mode=worker,input=envelope,timeout=900'
"""
import argparse
import json
import sys

from sst2 import load_sst2, train_and_score


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--steps", type=int, default=300, help="training steps per architecture")
    p.add_argument("--seq", type=int, default=64, help="tokens per sentence")
    p.add_argument("--device", default="cpu", help="cpu or cuda")
    args = p.parse_args()
    task = load_sst2(args.seq)  # once, before the first request
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            request = json.loads(line)
            model = request.get("model", request)  # input=envelope, or the bare model dict
            seed = request.get("context", {}).get("seed", 0)
            acc = train_and_score(model, task, steps=args.steps, device=args.device, seed=seed,
                                  log=lambda s: print(s, file=sys.stderr, flush=True))
            answer = {"sst2_accuracy": acc}
        except Exception as e:  # the trial fails with this reason; the worker serves on
            answer = {"error": f"{type(e).__name__}: {e}"}
        print(json.dumps(answer), flush=True)


if __name__ == "__main__":
    main()
