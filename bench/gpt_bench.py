"""Workload 6 of ``make bench``: the capstone GPT (notebook 6), eager, against the pure-Python
peer of ``bench/gpt_peer.py``, from the same initial weights on the same names.

    6a  one training step (forward, backward, Adam) on one name, both engines, alternating
    6b  1,000 training steps in a row, as the notebook trains (Adam, linear learning-rate decay)
    6c  the validation loss after those steps, in nats per character (uniform guessing: ln 27)
"""

from __future__ import annotations

import math
import random
import statistics
import time
from collections.abc import Callable

import nn
from autograd import no_grad
from bench import gpt_peer
from nn import optim

SIZES = {"vocab_size": 27, "block_size": 16, "n_embd": 16, "n_head": 4, "n_layer": 1}
LR, BETAS = 0.01, (0.85, 0.99)


def framed(name: str, tok: nn.data.CharTokenizer) -> list[int]:
    return [tok.boundary_id, *tok.encode(name), tok.boundary_id]


def chainrule_trainer(model: nn.GPT, steps: int) -> Callable[[list[int]], float]:
    """One step of notebook 6's loop: the mean cross-entropy of one name, backward, Adam."""
    opt = optim.Adam(model.parameters(), lr=LR, betas=BETAS, eps=1e-8)
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


def validation_loss(model: nn.GPT, names: list[str], tok: nn.data.CharTokenizer) -> float:
    """Mean negative log-likelihood per predicted character (the end boundary included)."""
    total = count = 0.0
    loss_fn = nn.CrossEntropyLoss()
    with no_grad():
        for name in names:
            tokens = framed(name, tok)
            total += loss_fn(model(tokens[:-1]), tokens[1:]).data * (len(tokens) - 1)
            count += len(tokens) - 1
    return total / count


def gpt_rows(rounds: int, quick: bool) -> list[tuple[str, str, str, str]]:
    """The table rows (workload, chainrule, peer, ratio) for workload 6."""
    train, val = nn.data.names_split(seed=0)
    tok = nn.data.CharTokenizer()
    random.seed(0)
    model = nn.GPT(**SIZES)
    peer = gpt_peer.Trainer(gpt_peer.load(model), SIZES["n_layer"], SIZES["n_head"])
    ours = chainrule_trainer(model, steps=1000)
    names = iter(train * 2)
    first = framed(next(names), tok)
    a, b = ours(first), peer.step(first)  # same weights, same name: the same loss, or the rows mean nothing
    rows = []
    if not math.isclose(a, b, rel_tol=1e-9):
        rows.append(("6. GPT: the peer's loss differs from chainrule's", f"{a:.12f}", f"{b:.12f}", "check gpt_peer"))

    per_round = 3 if quick else 10
    mine, theirs, ratios = [], [], []
    for _ in range(rounds):
        batch = [framed(next(names), tok) for _ in range(per_round)]
        start = time.perf_counter()
        for tokens in batch:
            ours(tokens)
        t_ours = (time.perf_counter() - start) / per_round
        start = time.perf_counter()
        for tokens in batch:
            peer.step(tokens)
        t_peer = (time.perf_counter() - start) / per_round
        mine.append(t_ours)
        theirs.append(t_peer)
        ratios.append(t_peer / t_ours)
    t_ours, t_peer = statistics.median(mine), statistics.median(theirs)
    rows.append(("6a. GPT training step, eager (1 layer, embd 16, 4 heads, one name)", f"{t_ours * 1e3:.0f} ms",
                 f"pure-Python peer {t_peer * 1e3:.0f} ms", f"{statistics.median(ratios):.1f}× faster"))

    steps = 100 if quick else 1000
    random.seed(0)
    model = nn.GPT(**SIZES)
    step = chainrule_trainer(model, steps)
    start = time.perf_counter()
    for name in train[:steps]:
        step(framed(name, tok))
    total = time.perf_counter() - start
    rows.append((f"6b. {steps:,} GPT training steps, eager", f"{total:.1f} s",
                 f"peer ≈ {steps * t_peer:.0f} s at 6a's rate", f"{steps * t_peer / total:.1f}× faster"))
    held_out = val[:300] if quick else val
    loss = validation_loss(model, held_out, tok)
    rows.append((f"6c. validation loss after {steps:,} steps ({len(held_out):,} names)", f"{loss:.3f} nats/char",
                 f"uniform guess ln 27 = {math.log(27):.3f}", "target ≤ 2.5"))
    return rows
