"""The SST-2 sample of tests/data (1,000 training and 1,821 test sentences, BERT WordPiece) and
a short PyTorch training run of one flexnas architecture on it, shared by ask_tell_search.py
and external_torch_eval.py. Copy and change freely: this is your training, not flexnas's."""
import math
import sys
from pathlib import Path

import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parents[2]
try:
    import flexnas
except ImportError:  # run from a checkout: the module `make` built
    sys.path.insert(0, str(ROOT / "build" / "python"))
    import flexnas
import flexnas.torch  # noqa: E402


def load_sst2(seq=64):
    """The task as flexnas's trainer reads it: token ids [n, seq] and labels, as numpy."""
    data = ROOT / "tests" / "data"
    return flexnas.load_task({"task": "tsv", "train": str(data / "sst2" / "train.tsv"),
                              "test": str(data / "sst2" / "test.tsv"),
                              "vocab": str(data / "bert_uncased_vocab.txt"), "seq": str(seq)})


def train_and_score(model, task, steps=300, batch=32, lr=1e-3, device="cpu", seed=0, log=None):
    """Train `model` (a model dict) for `steps` AdamW steps with linear warm-up and decay,
    then return its accuracy on the test split."""
    torch.manual_seed(seed)
    net = flexnas.torch.FlexModel(model, vocab=task["vocab"], num_classes=task["num_classes"],
                                  dropout=0.1).to(device)
    opt = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=0.01)
    warmup = max(1, steps // 10)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda t: (t + 1) / warmup if t < warmup else max(0.0, (steps - t) / max(1, steps - warmup)))
    x = torch.as_tensor(task["train_tokens"], dtype=torch.long)
    y = torch.as_tensor(task["train_targets"], dtype=torch.long)
    gen = torch.Generator().manual_seed(seed)
    net.train()
    for step in range(steps):
        idx = torch.randint(0, len(x), (batch,), generator=gen)
        loss = F.cross_entropy(net(x[idx].to(device)), y[idx].to(device))
        if not math.isfinite(loss.item()):
            raise RuntimeError(f"loss diverged at step {step + 1}")
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
        opt.step()
        sched.step()
        if log and (step + 1) % 50 == 0:
            log(f"step {step + 1}/{steps} loss {loss.item():.4f}")
    net.eval()
    tx = torch.as_tensor(task["test_tokens"], dtype=torch.long)
    ty = torch.as_tensor(task["test_targets"], dtype=torch.long)
    correct = 0
    with torch.no_grad():
        for i in range(0, len(tx), 256):
            correct += (net(tx[i:i + 256].to(device)).argmax(-1).cpu() == ty[i:i + 256]).sum().item()
    return correct / len(tx)
