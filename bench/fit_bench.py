"""The digits epoch trained by ``nn.fit(..., compile=True)`` against eager ``fit`` and PyTorch
float32, for ``bench/run.py`` (row 5b and 5c).

The model is notebook 5's: 64 → 32 → tanh → 10 with cross-entropy, SGD with momentum 0.9,
batches of 32 over the 1,348 training images. An epoch of ``fit(compile=True)`` is measured as
the difference between a fit of 1 + E epochs and a fit of 1 epoch (so it includes everything
``fit`` does per epoch: shuffling, the steps, the optimizer, the history, the accuracy); what
one fit pays once (tracing one sample's graph, checking it on 16 more, building the program,
syncing ``.data`` at the end) is reported in its own row. PyTorch runs the same epoch in
float32 on one thread; NumPy's BLAS is pinned to one thread by ``bench/compiled.py``.

    python bench/fit_bench.py     # these rows alone
"""

from __future__ import annotations

import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import bench.compiled  # noqa: E402,F401  (pins NumPy's BLAS to one thread before NumPy loads)
import nn  # noqa: E402
from nn import optim  # noqa: E402

EPOCHS = 5  # the epochs whose time is the difference of the two fits


def _digits() -> tuple[list, list]:
    X, y = nn.data.digits()
    X_train, _, y_train, _ = nn.data.train_test_split(X, y, test_size=0.25, seed=0)
    return X_train, y_train


def fit_digits(epochs: int, compile: bool) -> Callable[[], object]:  # noqa: A002  (fit's own keyword)
    """A function that trains notebook 5's network for ``epochs`` epochs with ``nn.fit``."""
    X, y = _digits()

    def run() -> object:
        random.seed(0)
        model = nn.Sequential(nn.Layer(64, 32), nn.Tanh(), nn.Layer(32, 10))
        opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        return nn.fit(model, X, y, nn.CrossEntropyLoss(), opt, epochs=epochs, batch_size=32, progress=False,
                      compile=compile)

    return run


def torch_epochs(torch: Any, epochs: int) -> Callable[[], object]:
    """The same training in PyTorch float32 on one thread: ``epochs`` epochs of shuffled batches."""
    torch.set_num_threads(1)
    X, y = _digits()
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(64, 32), torch.nn.Tanh(), torch.nn.Linear(32, 10))
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    tX, ty = torch.tensor(X, dtype=torch.float32), torch.tensor(y)
    order = list(range(len(X)))
    shuffle = random.Random(0)

    def run() -> object:
        for _ in range(epochs):
            shuffle.shuffle(order)
            total, right = 0.0, 0
            for start in range(0, len(order), 32):
                batch = torch.tensor(order[start : start + 32])
                scores = model(tX[batch])
                loss = torch.nn.functional.cross_entropy(scores, ty[batch])
                opt.zero_grad()
                loss.backward()
                opt.step()
                total += loss.item() * len(batch)  # what fit records per epoch: the loss and the accuracy
                right += int((scores.argmax(dim=1) == ty[batch]).sum())
        return total

    return run


def _seconds(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def rows(rounds: int, add: Callable, torch: Any) -> None:
    """Add rows 5b (compiled epoch vs PyTorch), 5c (vs eager) and 5d (once per fit) to run.py's table."""
    try:
        import numpy  # noqa: F401
    except ModuleNotFoundError:
        add("5b. digits epoch, fit(compile=True)", "-", "NumPy not installed", "-")
        return
    one, more = fit_digits(1, True), fit_digits(1 + EPOCHS, True)
    peer = torch_epochs(torch, EPOCHS) if torch is not None else None
    eager = fit_digits(1, False)
    epochs, once, theirs, ratios, slower = [], [], [], [], []
    for _ in range(rounds):  # alternating: the three take turns on the machine
        a1, a = _seconds(one), _seconds(more)
        epoch = (a - a1) / EPOCHS
        epochs.append(epoch)
        once.append(a1 - epoch)
        if peer is not None:
            b = _seconds(peer) / EPOCHS
            theirs.append(b)
            ratios.append(b / epoch)
    for _ in range(max(rounds // 3, 1)):  # the eager epoch takes a second or more: fewer rounds
        slower.append(_seconds(eager) / statistics.median(epochs))
    mine = statistics.median(epochs)
    if peer is not None:
        r = statistics.median(ratios)
        add("5b. digits epoch, `fit(compile=True)` (MLP 64-32-10, batch 32)", f"{mine * 1e3:.1f} ms",
            f"PyTorch float32 {statistics.median(theirs) * 1e3:.1f} ms",
            f"{r:.2f}× faster" if r >= 1 else f"{1 / r:.2f}× slower")
    else:
        add("5b. digits epoch, `fit(compile=True)` vs PyTorch", f"{mine * 1e3:.1f} ms", "PyTorch not installed", "-")
    add("5c. the same epoch, eager `fit`", f"{mine * 1e3:.1f} ms", "eager (one epoch)",
        f"{statistics.median(slower):.0f}× faster")
    add("5d. once per compiled fit: trace, guard checks, program, sync", f"{statistics.median(once) * 1e3:.0f} ms",
        "-", "-")


if __name__ == "__main__":  # these rows alone, 7 rounds
    import importlib.util

    rows(7, lambda *row: print(" | ".join(row), flush=True),
         importlib.import_module("torch") if importlib.util.find_spec("torch") else None)
