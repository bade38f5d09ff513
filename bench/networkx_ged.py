#!/usr/bin/python3
"""networkx's exact graph edit distance on the pairs bench/ged_bench writes, timed here.

Usage: networkx_ged.py PAIRS.json OUT.json [--repeats N]

PAIRS.json: {"pairs": [{"a": G, "b": G}, ...]} where a graph G is
{"cost": [node label index, ...], "edges": [[source, target], ...]}: the cost graphs of
flexnas's GED (docs/ged.md). The cost model is the same: substituting labels i and j costs
|i - j|, deleting or inserting a node its index, an edge 0.1 (Debian python3-networkx).
OUT.json: {"pairs": [{"ged": distance, "seconds": median time of one call}, ...]}.
"""
import argparse
import json
import statistics
import time

import networkx as nx


def graph(g):
    out = nx.DiGraph()
    for v, c in enumerate(g["cost"]):
        out.add_node(v, c=c)
    out.add_edges_from((s, t) for s, t in g["edges"])
    return out


def distance(a, b):
    return nx.graph_edit_distance(
        a,
        b,
        node_subst_cost=lambda x, y: abs(x["c"] - y["c"]),
        node_del_cost=lambda x: x["c"],
        node_ins_cost=lambda y: y["c"],
        edge_subst_cost=lambda x, y: 0.0,
        edge_del_cost=lambda e: 0.1,
        edge_ins_cost=lambda e: 0.1,
    )


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("pairs")
    ap.add_argument("out")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    with open(args.pairs) as f:
        pairs = json.load(f)["pairs"]
    results = []
    for p in pairs:
        a, b = graph(p["a"]), graph(p["b"])
        times, d = [], None
        for _ in range(args.repeats):
            t = time.perf_counter()
            d = distance(a, b)
            times.append(time.perf_counter() - t)
        results.append({"ged": d, "seconds": statistics.median(times)})
    with open(args.out, "w") as f:
        json.dump({"networkx": nx.__version__, "pairs": results}, f)


if __name__ == "__main__":
    main()
