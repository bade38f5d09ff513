#!/usr/bin/env python3
"""Cross-check of flexnas's trainer on MQAR with an independent PyTorch model.

Builds the same MQAR layout as `flexnas train -O task=mqar` (k1 v1 ... kN vN, then the N
keys again at random later positions; keys are ids 1..K, values K+1..vocab-1) and a
BERT-style post-LN encoder of the same shape as the benchmark's attention model (learned
positions, embedding LayerNorm, GELU, N(0, 0.02) weights), trained with the same recipe
(AdamW, 10 % warm-up then linear decay, gradient-norm clip 1, no dropout). It answers one
question: is a plateau seen in flexnas a property of the task and recipe, or of the
trainer? Not part of the product or of the tests; needs python3-torch (Debian:
`apt-get install python3-torch`), which the setup does not install; Debian's torch uses
the system BLAS, so install libopenblas0-pthread too or it runs about ten times slower
(with it, 1,000 steps take about a minute on one core). docs/trainer.md has
what it showed.

usage: mqar_torch_reference.py [--pairs 2] [--steps 1000] [--lr 1e-3] [--seed 1]
"""
import argparse
import random

import torch
import torch.nn as nn


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pairs", type=int, default=2)
    ap.add_argument("--steps", type=int, default=1000)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--seq", type=int, default=32)
    ap.add_argument("--vocab", type=int, default=32)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--train-size", type=int, default=20000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--pre-ln", action="store_true", help="norm before each sublayer")
    a = ap.parse_args()
    if 3 * a.pairs > a.seq:
        ap.error("need 3 * pairs <= seq")
    torch.manual_seed(a.seed)
    rnd = random.Random(a.seed)
    torch.set_num_threads(1)
    nk = (a.vocab - 1) // 2
    nv = a.vocab - 1 - nk

    def example():
        t, y = [0] * a.seq, [-100] * a.seq
        keys = rnd.sample(range(1, nk + 1), a.pairs)
        vals = [1 + nk + rnd.randrange(nv) for _ in keys]
        for i, (k, v) in enumerate(zip(keys, vals)):
            t[2 * i], t[2 * i + 1] = k, v
        slots = rnd.sample(range(2 * a.pairs, a.seq), a.pairs)
        order = list(range(a.pairs))
        rnd.shuffle(order)
        for q, p in zip(order, slots):
            t[p], y[p] = keys[q], vals[q]
        return t, y

    train = [example() for _ in range(a.train_size)]
    test = [example() for _ in range(500)]

    class Model(nn.Module):
        def __init__(self, h=64, heads=2, ff=256, layers=2):
            super().__init__()
            self.word = nn.Embedding(a.vocab, h)
            self.pos = nn.Embedding(a.seq, h)
            self.norm = nn.LayerNorm(h)
            layer = nn.TransformerEncoderLayer(h, heads, ff, 0.0, activation="gelu",
                                               batch_first=True, norm_first=a.pre_ln)
            self.enc = nn.TransformerEncoder(layer, layers)
            self.out = nn.Linear(h, a.vocab)
            for p in self.parameters():
                if p.dim() > 1:
                    nn.init.normal_(p, std=0.02)

        def forward(self, x):
            e = self.word(x) + self.pos(torch.arange(x.shape[1]))
            return self.out(self.enc(self.norm(e)))

    m = Model()
    opt = torch.optim.AdamW(m.parameters(), lr=a.lr, weight_decay=0.01)
    warm = max(1, int(0.1 * a.steps))
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: (s + 1) / warm if s < warm else max(0.0, (a.steps - s) / (a.steps - warm)))
    lossf = nn.CrossEntropyLoss(ignore_index=-100)
    order = list(range(len(train)))
    rnd.shuffle(order)
    pos = 0
    for step in range(a.steps):
        idx = []
        for _ in range(a.batch):
            if pos == len(order):
                rnd.shuffle(order)
                pos = 0
            idx.append(order[pos])
            pos += 1
        x = torch.tensor([train[i][0] for i in idx])
        y = torch.tensor([train[i][1] for i in idx])
        loss = lossf(m(x).reshape(-1, a.vocab), y.reshape(-1))
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(m.parameters(), 1.0)
        opt.step()
        sched.step()
        if step % 250 == 0 or step == a.steps - 1:
            print(f"step {step + 1} loss {loss.item():.4f}", flush=True)
    with torch.no_grad():
        x = torch.tensor([t for t, _ in test])
        y = torch.tensor([y for _, y in test])
        pred = m(x).argmax(-1)
        mask = y != -100
        print(f"test accuracy {(pred[mask] == y[mask]).float().mean().item():.4f}")


if __name__ == "__main__":
    main()
