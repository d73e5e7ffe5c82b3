"""Workload 6 of ``make bench``: the capstone GPT (notebook 6), one name per training step
(Adam, linear learning-rate decay), from the same initial weights on the same names.

    6a  one training step, eager, against the pure-Python peer of ``bench/gpt_peer.py``
    6b  1,000 steps compiled (``GPT.compiled_step``), compiling every sequence length included
    6c  the validation loss after those 1,000 steps, in nats per character (uniform guessing: ln 27)
    6d  one compiled step (every length compiled) against the peer, then against PyTorch float32
    6e  1,000 steps eager, in a row, as notebook 6 trained before compile mode

    python bench/gpt_bench.py [--quick]      # these rows alone
"""

from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # a fair pair: NumPy's BLAS and PyTorch on one thread each

import math  # noqa: E402
import random  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import nn  # noqa: E402
from bench import gpt_peer  # noqa: E402
from nn import optim  # noqa: E402

SIZES = {"vocab_size": 27, "block_size": 16, "n_embd": 16, "n_head": 4, "n_layer": 1}
LR, BETAS = 0.01, (0.85, 0.99)
TOK = nn.data.CharTokenizer()


def framed(name: str) -> list[int]:
    return [TOK.boundary_id, *TOK.encode(name), TOK.boundary_id]


def fresh() -> tuple[nn.GPT, optim.Adam]:
    random.seed(0)
    model = nn.GPT(**SIZES)
    return model, optim.Adam(model.parameters(), lr=LR, betas=BETAS, eps=1e-8)


def eager_trainer(model: nn.GPT, opt: optim.Adam, steps: int) -> Callable[[list[int]], float]:
    """One step of notebook 6's eager loop: the mean cross-entropy of one name, backward, Adam."""
    loss_fn = nn.CrossEntropyLoss()
    done = [0]

    def step(tokens: list[int]) -> float:
        loss = loss_fn(model(tokens[:-1]), tokens[1:])
        opt.zero_grad()
        loss.backward()
        opt.lr = LR * (1 - done[0] / steps)
        opt.step()
        done[0] += 1
        return loss.data

    return step


def torch_trainer(model: nn.GPT) -> Callable[[list[int]], float] | None:
    """The same step in PyTorch float32 (``nn.to_torch``, one name per step), or None without it."""
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(1)
    twin = nn.to_torch(model).float()
    opt = torch.optim.Adam(twin.parameters(), lr=LR, betas=BETAS, eps=1e-8)
    cross_entropy = torch.nn.functional.cross_entropy

    def step(tokens: list[int]) -> float:
        x = torch.tensor(tokens[:-1])
        loss = cross_entropy(twin(x), torch.tensor(tokens[1:]))
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss.item()

    return step


def per_step(train: Callable[[list[int]], Any], batch: list[list[int]]) -> float:
    start = time.perf_counter()
    for tokens in batch:
        train(tokens)
    return (time.perf_counter() - start) / len(batch)


def paired(ours: Callable[[list[int]], Any], peer: Callable[[list[int]], Any], batches: list[list[list[int]]],
           before: Callable[[list[int]], Any] | None = None) -> tuple[float, float, float]:
    """Median seconds per step of ours and of the peer, alternating batch by batch (the same
    names for both), and the median of the per-batch ratios peer / ours. ``before`` runs on
    each name first, untimed (compiling its length)."""
    mine, theirs = [], []
    for batch in batches:
        for tokens in batch if before else ():
            before(tokens)
        mine.append(per_step(ours, batch))
        theirs.append(per_step(peer, batch))
    return statistics.median(mine), statistics.median(theirs), statistics.median(b / a for a, b in zip(mine, theirs))


def gpt_rows(rounds: int, quick: bool) -> list[tuple[str, str, str, str]]:
    """The table rows (workload, chainrule, peer, ratio) for workload 6."""
    train, val = nn.data.names_split(seed=0)
    steps = 100 if quick else 1000
    rows = []

    model, opt = fresh()  # 6a: eager against the peer, from the same weights on the same names
    peer = gpt_peer.Trainer(gpt_peer.load(model), SIZES["n_layer"], SIZES["n_head"])
    eager = eager_trainer(model, opt, steps=1000)
    first = framed(train[0])
    a, b = eager(first), peer.step(first)  # same weights, same name: the same loss, or the rows mean nothing
    if not math.isclose(a, b, rel_tol=1e-9):
        rows.append(("6. GPT: the peer's loss differs from chainrule's", f"{a:.12f}", f"{b:.12f}", "check gpt_peer"))
    per_round = 3 if quick else 10
    names = iter(train[1:])
    batches = [[framed(next(names)) for _ in range(per_round)] for _ in range(rounds)]
    t_eager, t_peer, ratio = paired(eager, peer.step, batches)
    rows.append(("6a. GPT training step, eager (1 layer, embd 16, 4 heads, one name)", f"{t_eager * 1e3:.0f} ms",
                 f"pure-Python peer {t_peer * 1e3:.0f} ms", f"{ratio:.1f}× faster"))

    model, opt = fresh()  # 6b: the notebook's run, compiled, from scratch: every compile is in the time
    start = time.perf_counter()
    with model.compiled_step(opt) as step:
        for i, name in enumerate(train[:steps]):
            opt.lr = LR * (1 - i / steps)
            step(framed(name))
    total = time.perf_counter() - start
    lengths = len(step.lengths)
    rows.append((f"6b. {steps:,} GPT training steps, compiled, compiling {lengths} lengths included", f"{total:.1f} s",
                 f"eager ≈ {steps * t_eager:.0f} s, peer ≈ {steps * t_peer:.0f} s at 6a's rates",
                 f"{steps * t_eager / total:.0f}× faster than eager"))

    held_out = val[:100] if quick else val  # 6c: scored by the compiled step (the same numbers as eager)
    nats = sum(step.loss(framed(n)) * (len(n) + 1) for n in held_out) / sum(len(n) + 1 for n in held_out)
    rows.append((f"6c. validation loss after {steps:,} steps ({len(held_out):,} names)", f"{nats:.3f} nats/char",
                 f"uniform guess ln 27 = {math.log(27):.3f}", "target ≤ 2.5" if steps >= 1000 else "(quick run)"))

    step.sync()  # 6d: one compiled step, its length compiled, against the peer and PyTorch on the same names
    peer = gpt_peer.Trainer(gpt_peer.load(model), SIZES["n_layer"], SIZES["n_head"])
    batches = [[framed(next(names)) for _ in range(per_round)] for _ in range(rounds)]
    with step:
        t_compiled, t_later, ratio = paired(step, peer.step, batches, before=step.loss)
        rows.append(("6d. GPT training step, compiled (its length compiled before)", f"{t_compiled * 1e3:.2f} ms",
                     f"pure-Python peer {t_later * 1e3:.0f} ms", f"{ratio:.0f}× faster"))
        torch_step = torch_trainer(model)
        if torch_step is None:
            rows.append(("6d. GPT training step vs PyTorch", "-", "PyTorch not installed", "-"))
        else:
            t_compiled, t_torch, ratio = paired(step, torch_step, batches, before=step.loss)
            verdict = f"{ratio:.1f}× faster" if ratio >= 1 else f"{1 / ratio:.1f}× slower"
            rows.append(("6d. the same compiled step against PyTorch float32 (one name per step)",
                         f"{t_compiled * 1e3:.2f} ms", f"PyTorch {t_torch * 1e3:.2f} ms", verdict))

    eager_steps = 10 if quick else 1000  # 6e: the eager run in a row, as the notebook trained it before
    model, opt = fresh()
    eager = eager_trainer(model, opt, eager_steps)
    start = time.perf_counter()
    for name in train[:eager_steps]:
        eager(framed(name))
    seconds = time.perf_counter() - start
    rows.append((f"6e. {eager_steps:,} GPT training steps, eager", f"{seconds:.1f} s",
                 f"peer ≈ {eager_steps * t_peer:.0f} s at 6a's rate", f"{eager_steps * t_peer / seconds:.1f}× faster"))
    return rows


if __name__ == "__main__":
    for row in gpt_rows(1 if "--quick" in sys.argv else 3, "--quick" in sys.argv):
        print(" | ".join(row), flush=True)
