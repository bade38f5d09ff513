#!/usr/bin/python3
"""Optuna 3.1 (Debian python3-optuna) on a flexnas benchmark table, driven as a user would.

Usage: optuna_peer.py TABLE.jsonl SAMPLER SEEDS BUDGET [--mo OBJ:DIR,OBJ:DIR] [--checkpoints 25,50,100]

TABLE.jsonl has one object per line: {"model": <model dict>, "<metric>": float, ...}; the first
numeric field other than "model" is the score (maximised) unless --metric names it.
SAMPLER: tpe-mv (TPE, multivariate=True, group=True), tpe (independent TPE), random, nsga2
(population 20). Every trial suggests the architecture's choices as categoricals, define-by-run:
the layer count `l`, then for each of the first `l` layers every per-layer field of the model
dict (in the FlexiBERT 2.0 form, the head count and each head's operation). The pool member not
yet queried that differs from the suggestion in the fewest choices (ties: pool order) is
evaluated (a member of another depth only when none of the suggested depth is left) and
its score told back, so no member is queried twice. Seeds are 1..SEEDS.

Single objective: prints one line per seed, `seed queries_to_best`, a miss counting 2 * BUDGET.
Multi-objective (--mo): prints `seed hv@c1 hv@c2 ...`, hypervolume of what was evaluated after
c queries, objectives normalised to [0, 1] over the whole table, reference point 1.1.
"""
import argparse
import json
import sys

import optuna


def features(model):
    """Flattens a model dict into {choice name: categorical value}."""
    out = {"l": model["l"]}
    for key, value in model.items():
        if key == "l" or not isinstance(value, list):
            continue
        for i, v in enumerate(value):
            if isinstance(v, list) and v and all(isinstance(x, str) for x in v):
                out[f"{key}{i}_n"] = len(v)  # FlexiBERT 2.0: one operation per head
                for j, x in enumerate(v):
                    out[f"{key}{i}_{j}"] = x
            else:
                out[f"{key}{i}"] = json.dumps(v)
    return out


def hypervolume_2d(points, ref):
    """Hypervolume (both objectives minimised) of points dominated region below ref."""
    pts = sorted(p for p in points if p[0] < ref[0] and p[1] < ref[1])
    hv, best_y = 0.0, ref[1]
    for x, y in pts:
        if y < best_y:
            hv += (ref[0] - x) * (best_y - y)
            best_y = y
    return hv


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("table")
    ap.add_argument("sampler", choices=["tpe-mv", "tpe", "random", "nsga2"])
    ap.add_argument("seeds", type=int)
    ap.add_argument("budget", type=int)
    ap.add_argument("--metric")
    ap.add_argument("--mo", help="two objectives, e.g. glue:max,latency_s:min")
    ap.add_argument("--checkpoints", default="25,50,100")
    args = ap.parse_args()

    rows = [json.loads(line) for line in open(args.table) if line.strip()]
    feats = [features(r["model"]) for r in rows]
    # The categories of each choice: the values the pool holds, in order of first appearance.
    choices = {}
    for f in feats:
        for k, v in f.items():
            choices.setdefault(k, [])
            if v not in choices[k]:
                choices[k].append(v)
    for k in choices:  # in a fixed order, not the pool's (TPE's draws depend on the order)
        choices[k].sort(key=str)

    def layer_of(k):
        return int("".join(c for c in k.split("_")[0] if c.isdigit()))

    def is_head_op(k):
        return "_" in k and not k.endswith("_n")
    # Layer by layer; a layer's head count before its heads' operations.
    layer_keys = sorted({k for f in feats for k in f if k != "l"},
                        key=lambda k: (layer_of(k), is_head_op(k), k))

    if args.mo:
        objs = [o.split(":") for o in args.mo.split(",")]
        vals = [[r[name] for name, _ in objs] for r in rows]
        lo = [min(v[k] for v in vals) for k in range(2)]
        hi = [max(v[k] for v in vals) for k in range(2)]

        def norm(v):  # both minimised, in [0, 1]
            out = []
            for k, (_, d) in enumerate(objs):
                x = (v[k] - lo[k]) / (hi[k] - lo[k])
                out.append(1 - x if d == "max" else x)
            return out
        checkpoints = [int(c) for c in args.checkpoints.split(",")]
        directions = ["maximize" if d == "max" else "minimize" for _, d in objs]
    else:
        metric = args.metric or next(k for k, v in rows[0].items()
                                     if k != "model" and isinstance(v, (int, float)))
        scores = [r[metric] for r in rows]
        best = max(scores)
        directions = None

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    results = []
    for seed in range(1, args.seeds + 1):
        if args.sampler == "tpe-mv":
            sampler = optuna.samplers.TPESampler(seed=seed, multivariate=True, group=True)
        elif args.sampler == "tpe":
            sampler = optuna.samplers.TPESampler(seed=seed)
        elif args.sampler == "random":
            sampler = optuna.samplers.RandomSampler(seed=seed)
        else:
            sampler = optuna.samplers.NSGAIISampler(seed=seed, population_size=20)
        if directions:
            study = optuna.create_study(directions=directions, sampler=sampler)
        else:
            study = optuna.create_study(direction="maximize", sampler=sampler)
        unseen = list(range(len(rows)))
        seen_pts, hvs, found_at = [], [], None
        for q in range(1, min(args.budget, len(rows)) + 1):
            trial = study.ask()
            want = {"l": trial.suggest_categorical("l", choices["l"])}
            for k in layer_keys:
                if layer_of(k) >= want["l"]:
                    continue
                if is_head_op(k):  # a head's operation: only heads < count
                    head = int(k.rsplit("_", 1)[1])
                    if head >= want.get(k.rsplit("_", 1)[0] + "_n", 0):
                        continue
                want[k] = trial.suggest_categorical(k, choices[k])

            def distance(i):
                f = feats[i]
                # A member of another depth is taken only when none of this depth is left.
                return sum(f.get(k) != v for k, v in want.items()) + \
                    sum(1 for k in f if k not in want) + (100 if f["l"] != want["l"] else 0)
            pick = min(unseen, key=lambda i: (distance(i), i))
            unseen.remove(pick)
            if directions:
                v = [rows[pick][name] for name, _ in objs]
                study.tell(trial, v)
                seen_pts.append(norm(v))
                if q in checkpoints:
                    hvs.append(hypervolume_2d(seen_pts, [1.1, 1.1]))
                    if len(hvs) == len(checkpoints):
                        break
            else:
                study.tell(trial, scores[pick])
                if scores[pick] >= best:
                    found_at = q
                    break
        if directions:
            print(seed, *[f"{h:.6f}" for h in hvs], flush=True)
            results.append(hvs)
        else:
            q = found_at if found_at is not None else 2 * args.budget
            print(seed, q, flush=True)
            results.append(q)
    return 0


if __name__ == "__main__":
    sys.exit(main())
