#!/usr/bin/env python3
"""A flexnas search driven from Python: flexnas's policy proposes architectures (ask), this
script trains each with flexnas.torch on the SST-2 sample and reports its test accuracy
(tell). flexnas's own `params` evaluator adds the parameter count, so the search trades
accuracy against size (NSGA-II). Run again with the same --study to continue where it stopped.

    PYTHONPATH=build/python python3 examples/python/ask_tell_search.py --budget 8 --steps 300
    PYTHONPATH=build/python python3 examples/python/ask_tell_search.py --device cuda
"""
import argparse
import os
import sys
import time

from sst2 import flexnas, load_sst2, train_and_score


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--study", default="sst2-study", help="study directory (created, or continued)")
    p.add_argument("--space", default="mqar-hetero", help="built-in space or YAML file")
    p.add_argument("--budget", type=int, default=8, help="trials")
    p.add_argument("--batch", type=int, default=4, help="candidates per policy step")
    p.add_argument("--steps", type=int, default=300, help="training steps per candidate")
    p.add_argument("--seq", type=int, default=64, help="tokens per sentence")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="cpu", help="cpu or cuda")
    args = p.parse_args()

    if os.path.exists(os.path.join(args.study, "study.sqlite")):
        study = flexnas.Study.load(args.study)
    else:
        study = flexnas.Study.create(args.study, space=args.space, evaluators=["params"],
                                     objectives=["sst2_accuracy:max", "params:min"],
                                     budget=args.budget, batch=args.batch, seed=args.seed)
    task = load_sst2(args.seq)
    print(f"SST-2: {len(task['train_tokens'])} training sentences, majority baseline "
          f"{task['majority_baseline']:.3f}", file=sys.stderr)
    while True:
        # reissue: a trial this script was given before and never told (it was killed) is
        # given again instead of waiting for it.
        t = study.ask(reissue=True)
        if "done" in t:
            break
        start = time.time()
        try:
            acc = train_and_score(t["model"], task, steps=args.steps, device=args.device,
                                  seed=args.seed + t["trial"])
        except RuntimeError as e:  # diverged, out of memory: a failed trial, the search goes on
            study.tell(t["trial"], failed=str(e))
            continue
        told = study.tell(t["trial"], {"sst2_accuracy": acc})
        print(f"trial {t['trial']}: accuracy {acc:.4f}, {told['values']['params']:.0f} parameters, "
              f"{time.time() - start:.1f} s", file=sys.stderr)
    best = study.best()
    print(f"best: trial {best['id']} accuracy {best['values']['sst2_accuracy']:.4f}: "
          f"{flexnas.Architecture(best['model']).to_json()}")
    study.close()


if __name__ == "__main__":
    main()
